"""gunicorn entry point: ``gunicorn berth_core.wsgi:app``."""
from berth_core.app import create_app

app = create_app()
