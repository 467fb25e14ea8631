"""The registry's app factory: settings, DB pool, storage driver, blueprints, error handler."""

from __future__ import annotations

from flask import Flask

from berth_common import logging as berth_logging
from berth_common.db import Database
from berth_common.web import init_request_context
from berth_registry import errors
from berth_registry.api import base
from berth_registry.settings import RegistrySettings


def create_app(settings: RegistrySettings | None = None, *, db: Database | None = None) -> Flask:
    """Build the registry. ``db`` lets tests pass a connection inside their own transaction."""
    settings = settings or RegistrySettings.from_env()
    berth_logging.configure("registry", settings.log_level, settings.syslog_address or None)
    app = Flask(__name__)
    db = db or Database(settings.database_url, maxconn=settings.db_pool_size, application_name="berth-registry")
    app.extensions["berth.settings"] = settings
    app.extensions["berth.db"] = db

    init_request_context(app, "registry")
    errors.init_app(app)
    app.register_blueprint(base.bp)
    return app
