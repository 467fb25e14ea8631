"""SQL of the registry, one module per aggregate, returning frozen dataclasses."""
