"""Core's app factory: builds clients from settings and registers blueprints and handlers."""

from __future__ import annotations

from flask import Flask

from berth_common import logging as berth_logging
from berth_common.db import Database
from berth_common.web import init_request_context
from berth_core import errors
from berth_core.api import artifacts, audit, health, openapi, repositories, search, statistics, systeminfo
from berth_core.api import auth as api_auth
from berth_core.api import configurations as api_configurations
from berth_core.api import jobservice as api_jobservice
from berth_core.api import ldap as api_ldap
from berth_core.api import members as api_members
from berth_core.api import projects as api_projects
from berth_core.api import purgeaudit as api_purgeaudit
from berth_core.api import robots as api_robots
from berth_core.api import schedules as api_schedules
from berth_core.api import sessions as api_sessions
from berth_core.api import tokens as api_tokens
from berth_core.api import usergroups as api_usergroups
from berth_core.api import users as api_users
from berth_core.api import webhooks as api_webhooks
from berth_core.services import jobs as jobs_service
from berth_core.services import users as users_service
from berth_core.services.auth import Authenticator
from berth_core.services.configurations import Configurations
from berth_core.services.health import HealthChecker
from berth_core.services.passwords import Hasher
from berth_core.services.secretbox import SecretBox, read_key_file
from berth_core.services.sessions import SessionManager
from berth_core.services.tokens import TokenIssuer
from berth_core.settings import CoreSettings
from berth_core.ui import bp as ui_bp


def create_app(settings: CoreSettings | None = None, *, db: Database | None = None) -> Flask:
    """Build core. ``db`` lets tests pass a connection inside their own transaction."""
    settings = settings or CoreSettings.from_env()
    berth_logging.configure("core", settings.log_level, settings.syslog_address or None)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024 * 1024
    db_given = db is not None
    db = db or Database(settings.database_url, maxconn=settings.db_pool_size, application_name="berth-core")
    app.extensions["berth.settings"] = settings
    app.extensions["berth.db"] = db
    app.extensions["berth.health"] = HealthChecker(settings, db)
    # Identity and access (issue 4, part A). Key files are read now so a bad path stops start-up.
    master_key = read_key_file(settings.secret_key_path)
    hasher = Hasher(settings)
    configs = Configurations(settings, SecretBox(master_key), db)
    app.extensions["berth.hasher"] = hasher
    app.extensions["berth.configs"] = configs
    app.extensions["berth.auth"] = Authenticator(settings, db, hasher, configs)
    app.extensions["berth.sessions"] = SessionManager(master_key, db, configs)
    app.extensions["berth.tokens"] = TokenIssuer.from_file(settings.token_private_key_path, settings.token_issuer, settings.token_service)
    _bootstrap(settings, hasher, db if db_given else None)

    init_request_context(app, "core")
    errors.init_app(app)
    api_auth.init_app(app)
    for blueprint in (
        api_users.bp,
        api_projects.bp,
        api_members.bp,
        api_robots.bp,
        api_usergroups.bp,
        api_configurations.bp,
        api_ldap.bp,
        api_sessions.bp,
        api_tokens.bp,
    ):
        app.register_blueprint(blueprint)
    app.register_blueprint(health.bp)
    # Content, audit, search/statistics/systeminfo and the API description (issue 4, part B).
    for blueprint in (repositories.bp, artifacts.bp, audit.bp, search.bp, statistics.bp, systeminfo.bp, openapi.bp):
        app.register_blueprint(blueprint)
    # Jobs, schedules, webhooks and the audit purge through the jobservice's client (issue 5).
    jobs_service.init_app(app, settings, db)
    for blueprint in (api_jobservice.bp, api_schedules.bp, api_webhooks.bp, api_purgeaudit.bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(ui_bp)  # the web UI (issue 6)
    return app


def _bootstrap(settings: CoreSettings, hasher: Hasher, db: Database | None) -> None:
    """Create the initial admin and ``library`` at start-up.

    gunicorn preloads the app in its master and then forks: a connection opened from the app's
    pool now would be shared by every worker. So, unless a test hands us its own connection,
    the bootstrap uses a separate one-connection pool that is closed before the fork.
    """
    if db is not None:
        users_service.bootstrap(db, hasher, settings.admin_initial_password)
        return
    once = Database(settings.database_url, maxconn=1, application_name="berth-core-bootstrap")
    try:
        users_service.bootstrap(once, hasher, settings.admin_initial_password)
    finally:
        once.close()
