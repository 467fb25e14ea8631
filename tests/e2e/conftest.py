"""One Berth stack shared by the end-to-end tests of a session, started with `berthctl up`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.stack import Stack, running_stack


@pytest.fixture(scope="session")
def stack(postgres_admin_url: str, rabbitmq_url: str) -> Iterator[Stack]:
    with running_stack("shared", postgres_admin_url, rabbitmq_url) as running:
        yield running
