"""gunicorn entry point: ``gunicorn berth_registry.wsgi:app``."""

from berth_registry.app import create_app

app = create_app()
