"""A RabbitMQ node of this test's own is stopped with jobs queued and events waiting, then started
again: the jobservice reconnects by itself and nothing is lost or done twice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pika
import pytest

from berth_deploy import infra
from berth_jobservice.db import outbox as outbox_db
from berth_jobservice.db import queues as queues_db
from berth_jobservice.runtime.amqp import Topology
from berth_jobservice.services import jobs as job_service
from support.jobservice.helpers import pause_queue, probe_runs, wait_status, wait_until


@pytest.fixture
def private_rabbitmq(tmp_path: Path) -> Iterator[infra.PrivateRabbitMQ]:
    node = infra.PrivateRabbitMQ(tmp_path / "rabbitmq", infra.free_port())
    node.start(tmp_path / "rabbitmq.log")
    yield node
    node.stop()


def tap_queue(url: str, topology: Topology) -> str:
    name = f"{topology.prefix}.test.restart-tap"
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.exchange_declare(topology.events_exchange, exchange_type="topic", durable=True)
    channel.queue_declare(name, durable=True)
    channel.queue_bind(name, topology.events_exchange, routing_key="#")
    connection.close()
    return name


def drain_ids(url: str, queue: str) -> list[int]:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    ids = []
    while True:
        method, _props, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            break
        ids.extend(event["event_id"] for event in json.loads(body)["events"])
    connection.close()
    return ids


def add_events(db, count: int, start: int) -> list[int]:
    ids = []
    for n in range(start, start + count):
        with db.transaction() as cur:
            ids.append(outbox_db.insert(cur, event_type="PUSH_ARTIFACT", ordering_key="library/app", payload={"n": n}))
    return ids


def unpublished(db) -> int:
    with db.transaction() as cur:
        return outbox_db.count_unpublished(cur)


def test_broker_restart_with_queued_jobs_and_waiting_events_loses_nothing(private_rabbitmq, start_jobservice, js_db):
    url = private_rabbitmq.url
    service = start_jobservice(rabbitmq_url=url)
    tap = tap_queue(url, service.topology)

    def submit(label: str) -> int:
        return job_service.submit(service.db, service.publisher, service.registry, "T_PROBE", {"label": label}).tasks[0].id

    pause_queue(js_db, service.consumer, "T_PROBE")
    queued = [submit(f"queued-{n}") for n in range(5)]  # confirmed, waiting in the durable queue
    before = add_events(js_db, 5, 0)
    wait_until(lambda: unpublished(js_db) == 0, 10, "events published before the outage")

    private_rabbitmq.stop()
    wait_until(lambda: not service.consumer.connected.is_set(), 10, "the consumer noticed")
    during = [submit(f"during-{n}") for n in range(3)]  # cannot be confirmed: left to the sweeper
    waiting = add_events(js_db, 10, 5)  # wait in the outbox
    assert unpublished(js_db) == 10

    private_rabbitmq.start(private_rabbitmq.directory.parent / "rabbitmq.log")
    wait_until(service.consumer.connected.is_set, 30, "the consumer reconnected")
    with js_db.transaction() as cur:
        queues_db.set_paused(cur, "T_PROBE", False)
    for task_id in queued + during:
        wait_status(js_db, task_id, "Success", timeout=30)
    wait_until(lambda: unpublished(js_db) == 0, 20, "the waiting events published")

    for n in range(5):
        assert len(probe_runs(js_db, f"queued-{n}")) == 1
    for n in range(3):
        assert len(probe_runs(js_db, f"during-{n}")) == 1
    received = drain_ids(url, tap)
    assert sorted(set(received)) == before + waiting
    first_seen = list(dict.fromkeys(received))
    assert first_seen == sorted(first_seen)  # one ordering key: id order throughout
