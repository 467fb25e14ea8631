"""Fixtures for the registry's protocol tests: the real app on the real (migrated) database.

``registry`` gives each test an app built by ``create_app`` on the ``db`` fixture's connection
(everything it writes is rolled back afterwards), the in-memory storage driver, a fresh project,
and clients holding tokens minted with the session's test key pair. Tests that need several
app instances or real concurrency use ``pooled_registry`` (a real connection pool on the test
database, filesystem storage, unique names, rows removed afterwards).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.pool
import pytest
from flask import Flask

from berth_common.db import Database
from berth_registry.app import create_app
from berth_registry.settings import RegistrySettings
from berth_registry.storage import factory
from berth_registry.storage.base import StorageDriver
from support.oci_client import FlaskTransport, OCIClient
from support.tokens import TokenKeys, access, catalog

REALM = "https://registry.example.test/service/token"
_names = itertools.count(1)


def unique(prefix: str) -> str:
    """A name unique in the session (tests share one database)."""
    return f"{prefix}{next(_names)}x{os.urandom(3).hex()}"


def make_project(cur: Any, name: str | None = None, *, public: bool = False, hard_storage: int = -1) -> tuple[int, str]:
    """Insert an owner, a project with its ``public`` flag and its quota row, as core does."""
    name = name or unique("proj")
    cur.execute("INSERT INTO users (username) VALUES (%s) RETURNING user_id", (unique("owner"),))
    owner = cur.fetchone()[0]
    cur.execute("INSERT INTO projects (name, owner_id) VALUES (%s, %s) RETURNING project_id", (name, owner))
    project_id = cur.fetchone()[0]
    cur.execute("INSERT INTO project_metadata (project_id, name, value) VALUES (%s, 'public', %s)", (project_id, str(public).lower()))
    cur.execute("INSERT INTO quotas (project_id, hard_storage) VALUES (%s, %s)", (project_id, hard_storage))
    return project_id, name


def settings_for(database_url: str, keys: TokenKeys, **overrides: Any) -> RegistrySettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "token_cert_path": str(keys.cert_path),
        "token_realm": REALM,
        "token_issuer": keys.issuer,
        "token_service": keys.service,
        "storage_driver": "inmemory",
        "fast_path": False,
        "pull_flush_seconds": 60.0,  # tests flush explicitly
        "policy_cache_seconds": 0.0,
        # Off on the rolled-back test connection: nothing it writes is ever committed, so no change
        # notification would reach a cache. Apps on real pools (make_pooled) turn it on.
        "ref_cache_seconds": 0.0,
        "log_level": "WARNING",
    }
    values.update(overrides)
    return RegistrySettings.from_env({}, **values)


@dataclasses.dataclass
class Registry:
    """One registry app under test, its storage, its database handle and a project to push to."""

    app: Flask
    storage: StorageDriver
    db: Any
    keys: TokenKeys
    project_id: int
    project: str
    # Apps built by with_storage(); the fixture closes them (shared by every derived Registry).
    derived: list[Flask] = dataclasses.field(default_factory=list)

    def repo(self, name: str | None = None) -> str:
        return f"{self.project}/{name or unique('repo')}"

    def token(self, grants: Iterable[dict[str, Any]], sub: str = "tester") -> str:
        return self.keys.mint(list(grants), sub=sub)

    def client(self, *repos: str, actions: Iterable[str] = ("*",), sub: str = "tester", with_catalog: bool = False) -> OCIClient:
        """A client whose token grants ``actions`` on ``repos`` (and the catalog if asked)."""
        grants = [access(repo, *actions) for repo in repos] + ([catalog()] if with_catalog else [])
        return OCIClient(FlaskTransport(self.app.test_client()), token=self.token(grants, sub))

    def anonymous(self) -> OCIClient:
        return OCIClient(FlaskTransport(self.app.test_client()))

    def sql(self, query: str, params: Any = None) -> list[tuple]:
        """Run SQL in its own unit of work (a savepoint on the test connection)."""
        with self.db.transaction() as cur:
            cur.execute(query, params)
            return cur.fetchall() if cur.description else []

    def with_storage(self, storage: StorageDriver) -> Registry:
        """The same registry (settings, database, project) over another storage driver."""
        app = create_app(self.app.extensions["berth.settings"], db=self.db, storage=storage)
        self.derived.append(app)
        return dataclasses.replace(self, app=app, storage=storage)

    def flush_pulls(self) -> int:
        return self.app.extensions["berth.pulls"].flush()


@pytest.fixture
def new_project(registry: Registry):
    """Create another project on the test connection: ``new_project(hard_storage=...)`` -> name."""

    def create(**kwargs: Any) -> str:
        with registry.db.transaction() as cur:
            return make_project(cur, **kwargs)[1]

    return create


@pytest.fixture(scope="session")
def token_keys(tmp_path_factory: pytest.TempPathFactory) -> TokenKeys:
    return TokenKeys.generate(tmp_path_factory.mktemp("token-keys"))


@pytest.fixture
def registry(db: Any, database_url: str, token_keys: TokenKeys) -> Iterator[Registry]:
    """The app on the rolled-back test connection with in-memory storage and a fresh project."""
    with db.transaction() as cur:
        project_id, name = make_project(cur)
    storage = factory.create("inmemory")
    app = create_app(settings_for(database_url, token_keys), db=db, storage=storage)
    registry = Registry(app, storage, db, token_keys, project_id, name)
    yield registry
    for built in [app, *registry.derived]:
        built.extensions["berth.pulls"].close()
        built.extensions["berth.refs"].close()


@pytest.fixture
def pooled_project(database_url: str) -> Iterator[tuple[int, str]]:
    """A committed project for pooled apps; its rows are deleted afterwards."""
    conn = psycopg2.connect(database_url)
    try:
        with conn, conn.cursor() as cur:
            project_id, name = make_project(cur)
        yield project_id, name
    finally:
        with conn, conn.cursor() as cur:
            cur.execute("DELETE FROM outbox WHERE ordering_key LIKE %s", (f"{name}/%",))
            cur.execute("DELETE FROM audit_log WHERE project_id = %s", (project_id,))
            cur.execute("DELETE FROM blob_uploads WHERE project_id = %s", (project_id,))
            # index -> child edges first: the child FK does not cascade
            cur.execute(
                "DELETE FROM artifact_references WHERE child_id IN (SELECT artifact_id FROM artifacts WHERE project_id = %s)", (project_id,)
            )
            cur.execute("DELETE FROM repositories WHERE project_id = %s", (project_id,))
            cur.execute(
                "DELETE FROM blobs WHERE blob_id IN (SELECT blob_id FROM project_blobs WHERE project_id = %s)"
                " AND blob_id NOT IN (SELECT blob_id FROM project_blobs WHERE project_id <> %s)",
                (project_id, project_id),
            )
            cur.execute("DELETE FROM projects WHERE project_id = %s", (project_id,))
        conn.close()


@pytest.fixture
def make_pooled(
    database_url: str, token_keys: TokenKeys, pooled_project: tuple[int, str], tmp_path: Path
) -> Iterator[Callable[..., Registry]]:
    """Build apps with their own connection pools sharing one filesystem storage root.

    Each call is like another registry process (or replica): ``make_pooled(**setting_overrides)``.
    """
    built: list[Registry] = []

    def build(**overrides: Any) -> Registry:
        overrides.setdefault("storage_driver", "filesystem")
        overrides.setdefault("storage__filesystem__root", str(tmp_path / "storage"))
        overrides.setdefault("ref_cache_seconds", 60.0)
        settings = settings_for(database_url, token_keys, **overrides)
        db = Database(database_url, maxconn=8, application_name="berth-registry-test")
        app = create_app(settings, db=db)
        registry = Registry(app, app.extensions["berth.storage"], db, token_keys, *pooled_project)
        built.append(registry)
        return registry

    yield build
    for registry in built:
        registry.app.extensions["berth.pulls"].close()
        registry.app.extensions["berth.refs"].close()
        with contextlib.suppress(psycopg2.pool.PoolError):  # a test may have closed it already
            registry.db.close()


@pytest.fixture
def pooled_registry(make_pooled: Callable[..., Registry]) -> Registry:
    return make_pooled()
