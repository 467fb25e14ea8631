"""HTTP blueprints of the registry: the OCI Distribution API under /v2/."""
