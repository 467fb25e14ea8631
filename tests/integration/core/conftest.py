"""Fixtures of core's integration tests: one core app per test module, serving each test inside
that test's own rolled-back connection (``world``; see ``support.content``).

A module that needs other settings overrides ``settings``; one whose tests each want an app of
their own overrides ``world`` with ``build_world(settings, db)``.
"""

from __future__ import annotations

import uuid

import pytest

from support.content import CoreWorld, build_app, core_settings, world_on


@pytest.fixture(scope="module")
def settings(tmp_path_factory, database_url, rabbitmq_url):
    """Core settings with the module's own token keys and queue prefix, so nothing a test
    publishes can reach a running stack's queues."""
    return core_settings(
        tmp_path_factory.mktemp("keys"), database_url, rabbitmq_url=rabbitmq_url, amqp_prefix=f"coretest{uuid.uuid4().hex[:10]}"
    )


@pytest.fixture(scope="module")
def core_app(settings, database_url):
    """(app, its RoutedDatabase) from ``build_app``; the app's job client is closed afterwards."""
    app, routed = build_app(settings, database_url)
    yield app, routed
    app.extensions["berth.jobs"].close()


@pytest.fixture
def world(core_app, db) -> CoreWorld:
    return world_on(core_app, db)
