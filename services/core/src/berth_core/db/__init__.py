"""SQL of core, one module per aggregate, returning frozen dataclasses."""
