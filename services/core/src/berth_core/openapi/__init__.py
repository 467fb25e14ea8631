"""Core's API description (``core.yaml``) and the page that renders it (``devcenter.html``)."""
