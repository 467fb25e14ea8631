"""One Berth stack shared by the end-to-end tests of a session, started with `berthctl up`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from berth_deploy import infra
from support.stack import Stack, make_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, postgres_admin_url: str, rabbitmq_url: str) -> Iterator[Stack]:
    name = "berth_e2e_shared"
    infra.drop_database(postgres_admin_url, name)
    database_url = infra.ensure_database(postgres_admin_url, name)
    running = make_stack(tmp_path_factory.mktemp("stack"), database_url, rabbitmq_url)
    running.up()
    try:
        yield running
    finally:
        running.down()
        infra.drop_database(postgres_admin_url, name)
