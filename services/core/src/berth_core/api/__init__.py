"""HTTP blueprints of core: parse the request, call a service, shape the response."""
