"""The registry's app factory: settings, DB pool, storage driver, services, blueprints, errors."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask

from berth_common import logging as berth_logging
from berth_common.db import Database
from berth_common.web import init_request_context
from berth_registry import errors
from berth_registry.api import base, blobs, catalog, manifests, referrers, tags, uploads
from berth_registry.api.fast_path import ManifestFastPath
from berth_registry.services.auth import TokenVerifier, load_public_key
from berth_registry.services.blobs import BlobService
from berth_registry.services.events import PullRecorder
from berth_registry.services.manifests import ManifestCache, ManifestService
from berth_registry.services.policy import Policy
from berth_registry.services.ref_cache import ManifestRefCache
from berth_registry.services.repositories import RepositoryService
from berth_registry.services.uploads import UploadService
from berth_registry.settings import RegistrySettings
from berth_registry.storage import factory
from berth_registry.storage.base import StorageDriver


def create_app(
    settings: RegistrySettings | None = None,
    *,
    db: Database | None = None,
    storage: StorageDriver | None = None,
) -> Flask:
    """Build the registry.

    ``db`` lets tests pass a connection inside their own transaction, ``storage`` a driver they
    inspect; both default to what the settings describe.
    """
    settings = settings or RegistrySettings.from_env()
    berth_logging.configure("registry", settings.log_level, settings.syslog_address or None)
    app = Flask(__name__)
    db = db or Database(settings.database_url, maxconn=settings.db_pool_size, application_name="berth-registry")
    storage = storage or factory.from_settings(settings)
    # Event payloads name resources as <registry host>/<repo>:<tag>; the realm is on that host.
    registry_host = urlsplit(settings.token_realm).netloc

    policy = Policy(db, settings.policy_cache_seconds)
    blob_service = BlobService(db, storage, policy, fast_path=settings.fast_path, fast_path_prefix=settings.fast_path_prefix)
    pulls = PullRecorder(db, settings.pull_flush_seconds, registry_host)
    # The listener has its own connection, outside the pool (it is held for the process's life).
    refs = ManifestRefCache(settings.database_url, settings.ref_cache_seconds, settings.ref_cache_entries)
    app.extensions.update(
        {
            "berth.settings": settings,
            "berth.db": db,
            "berth.storage": storage,
            "berth.tokens": TokenVerifier(
                load_public_key(settings.token_cert_path), settings.token_issuer, settings.token_service, settings.token_realm
            ),
            "berth.policy": policy,
            "berth.pulls": pulls,
            "berth.refs": refs,
            "berth.blobs": blob_service,
            "berth.uploads": UploadService(db, storage, policy, blob_service),
            "berth.manifests": ManifestService(
                db, storage, policy, pulls, ManifestCache(settings.manifest_cache_mb * 1024 * 1024), refs, registry_host
            ),
            "berth.repositories": RepositoryService(db),
        }
    )

    init_request_context(app, "registry", log_reads=False)
    errors.init_app(app)
    app.after_request(base.add_api_version)
    for blueprint in (base.bp, blobs.bp, uploads.bp, manifests.bp, tags.bp, catalog.bp, referrers.bp):
        app.register_blueprint(blueprint)
    # Pulls answerable from memory skip Flask's per-request machinery; the rest reaches the views.
    app.wsgi_app = ManifestFastPath(app.wsgi_app, app.extensions["berth.tokens"], app.extensions["berth.manifests"])  # type: ignore[method-assign]
    return app
