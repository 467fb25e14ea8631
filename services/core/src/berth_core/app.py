"""Core's app factory: builds clients from settings and registers blueprints and handlers."""

from __future__ import annotations

from flask import Flask

from berth_common import logging as berth_logging
from berth_common.db import Database
from berth_common.web import init_request_context
from berth_core import errors
from berth_core.api import health
from berth_core.services.health import HealthChecker
from berth_core.settings import CoreSettings


def create_app(settings: CoreSettings | None = None, *, db: Database | None = None) -> Flask:
    """Build core. ``db`` lets tests pass a connection inside their own transaction."""
    settings = settings or CoreSettings.from_env()
    berth_logging.configure("core", settings.log_level, settings.syslog_address or None)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024 * 1024
    db = db or Database(settings.database_url, maxconn=settings.db_pool_size, application_name="berth-core")
    app.extensions["berth.settings"] = settings
    app.extensions["berth.db"] = db
    app.extensions["berth.health"] = HealthChecker(settings, db)

    init_request_context(app, "core")
    errors.init_app(app)
    app.register_blueprint(health.bp)
    return app
