"""gunicorn entry point: ``gunicorn berth_registry.wsgi:app``."""

import structlog

from berth_registry.app import create_app

app = create_app()
# One line at start (secrets redacted), so the collector has the registry's file from the first
# minute: the registry logs writes and errors, not the reads and challenges of an idle registry.
structlog.get_logger("berth_registry").info("registry_settings", **app.extensions["berth.settings"].redacted())
