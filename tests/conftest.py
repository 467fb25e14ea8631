"""Session fixtures for real servers: PostgreSQL with the migrated schema, and RabbitMQ.

Each server is found the same way everywhere (berth_deploy.infra): a URL from the environment
(BERTH_TEST_DATABASE_URL, BERTH_TEST_RABBITMQ_URL), else the server on its default local port,
else a private one started for this run. Never skipped.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from berth_common.db import SingleConnection
from berth_deploy import infra
from berth_migrations.runner import migrate


@pytest.fixture(scope="session")
def infra_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("infra")


@pytest.fixture(scope="session")
def postgres_admin_url(infra_workdir: Path) -> Iterator[str]:
    with infra.postgres_server(os.environ.get("BERTH_TEST_DATABASE_URL"), infra_workdir) as url:
        yield url


def _throwaway_database(admin_url: str) -> Iterator[str]:
    name = f"berth_test_{uuid.uuid4().hex[:12]}"
    url = infra.ensure_database(admin_url, name)
    try:
        yield url
    finally:
        infra.drop_database(admin_url, name)


@pytest.fixture(scope="session")
def database_url(postgres_admin_url: str) -> Iterator[str]:
    """A throwaway database for this test session with every migration applied."""
    for url in _throwaway_database(postgres_admin_url):
        migrate(url, log=lambda _msg: None)
        yield url


@pytest.fixture
def empty_database_url(postgres_admin_url: str) -> Iterator[str]:
    """A throwaway database without any schema, for tests of the migration runner itself."""
    yield from _throwaway_database(postgres_admin_url)


@pytest.fixture
def db(database_url: str) -> Iterator[SingleConnection]:
    """A connection inside an outer transaction that is rolled back after the test.

    Service code opening ``db.transaction()`` gets a SAVEPOINT, so its commits stay inside.
    """
    conn = psycopg2.connect(database_url)
    try:
        yield SingleConnection(conn)
    finally:
        conn.rollback()
        conn.close()


@pytest.fixture(scope="session")
def rabbitmq_url(infra_workdir: Path) -> Iterator[str]:
    with infra.rabbitmq_server(os.environ.get("BERTH_TEST_RABBITMQ_URL"), infra_workdir) as url:
        yield url


@pytest.fixture
def open_tmp_path() -> Iterator[Path]:
    """Like tmp_path, but other users may traverse it (0711), as nginx's workers must to serve
    blobs; pytest's own temporary folders are private to their owner."""
    base = Path(tempfile.gettempdir()) / "berth-tests"
    base.mkdir(mode=0o711, exist_ok=True)
    os.chmod(base, 0o711)
    directory = Path(tempfile.mkdtemp(dir=base))
    os.chmod(directory, 0o711)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)
