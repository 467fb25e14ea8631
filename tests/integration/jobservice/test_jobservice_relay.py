"""The outbox relay against real PostgreSQL and RabbitMQ: order per key, never overtaking an open
transaction, waiting out a broker that is away, one active relay."""

from __future__ import annotations

import itertools
import time
from collections import defaultdict

import psycopg2

from berth_jobservice.db import outbox as outbox_db
from berth_jobservice.runtime.amqp import Publisher
from berth_jobservice.runtime.loops import Relay
from berth_jobservice.services import webhooks
from berth_jobservice.services.relay import OutboxRelay
from support.jobservice.helpers import wait_until
from support.jobservice.tcp_proxy import TcpProxy

KEYS = ("library/alpine", "library/busybox", "team/app")


def insert_events(db, count: int, start: int = 0) -> list[int]:
    ids = []
    for n, key in zip(range(start, start + count), itertools.cycle(KEYS), strict=False):
        with db.transaction() as cur:
            ids.append(outbox_db.insert(cur, event_type="PUSH_ARTIFACT", ordering_key=key, payload={"type": "PUSH_ARTIFACT", "n": n}))
    return ids


def unpublished(db) -> int:
    with db.transaction() as cur:
        return outbox_db.count_unpublished(cur)


def make_relay(db, broker, url: str, batch_size: int = 25) -> OutboxRelay:
    publisher = Publisher(url, broker.topology, name="relay-test", events=True)
    return OutboxRelay(
        db,
        publisher,
        declare=lambda channel: broker.topology.declare_events(channel, list(webhooks.EVENT_TYPES)),
        batch_size=batch_size,
    )


def events_in(message) -> list[dict]:
    """The events a relay message carries, checked against its routing key, id and headers."""
    events = message.json()["events"]
    ids = [event["event_id"] for event in events]
    assert message.properties.message_id == f"{ids[0]}-{ids[-1]}" and ids == sorted(ids)
    assert {event["event_type"].lower() for event in events} == {message.routing_key}
    assert message.properties.headers == {"event_type": events[0]["event_type"], "events": len(events)}
    return events


def received_by_key(messages) -> dict[str, list[int]]:
    """Event ids per ordering key in arrival order, first arrival only (delivery is at least once)."""
    seen: set[int] = set()
    by_key: dict[str, list[int]] = defaultdict(list)
    for message in messages:
        for event in events_in(message):
            if event["event_id"] not in seen:
                seen.add(event["event_id"])
                by_key[event["ordering_key"]].append(event["event_id"])
    return by_key


def test_events_go_out_in_id_order_per_key_and_are_stamped(js_db, broker, rabbitmq_url):
    tap = broker.tap_events()
    ids = insert_events(js_db, 60)
    relay = make_relay(js_db, broker, rabbitmq_url)
    try:
        rounds = [relay.tick() for _ in range(4)]
    finally:
        relay.publisher.close()
    assert [r.published for r in rounds] == [25, 25, 10, 0]
    assert rounds[0].more and not rounds[2].more and not any(r.failed for r in rounds)
    assert unpublished(js_db) == 0
    messages = broker.drain(tap)
    assert [len(events_in(m)) for m in messages] == [25, 25, 10]  # one message per batch of one event type
    by_key = received_by_key(messages)
    assert sorted(itertools.chain(*by_key.values())) == ids
    for key_ids in by_key.values():
        assert key_ids == sorted(key_ids)
    first = events_in(messages[0])[0]
    assert first["payload"] == {"type": "PUSH_ARTIFACT", "n": 0} and first["ordering_key"] == KEYS[0]
    assert messages[0].properties.delivery_mode == 2


def test_a_batch_of_mixed_types_goes_out_as_runs_in_order(js_db, broker, rabbitmq_url):
    tap = broker.tap_events()
    kinds = ["PUSH_ARTIFACT", "PULL_ARTIFACT", "PULL_ARTIFACT", "PULL_ARTIFACT", "DELETE_ARTIFACT", "PULL_ARTIFACT"]
    ids = []
    for n, kind in enumerate(kinds):
        with js_db.transaction() as cur:
            ids.append(outbox_db.insert(cur, event_type=kind, ordering_key="library/app", payload={"type": kind, "n": n}))
    relay = make_relay(js_db, broker, rabbitmq_url)
    try:
        assert relay.tick().published == len(kinds)
    finally:
        relay.publisher.close()
    messages = broker.drain(tap)
    assert [(m.routing_key, len(events_in(m))) for m in messages] == [
        ("push_artifact", 1), ("pull_artifact", 3), ("delete_artifact", 1), ("pull_artifact", 1)
    ]  # fmt: skip
    assert received_by_key(messages) == {"library/app": ids}


def test_an_event_committed_late_is_not_overtaken(js_db, broker, rabbitmq_url, js_database_url):
    tap = broker.tap_events()
    slow = psycopg2.connect(js_database_url)
    relay = make_relay(js_db, broker, rabbitmq_url)
    try:
        with slow.cursor() as cur:  # takes id 1 and keeps its transaction open
            first = outbox_db.insert(cur, event_type="DELETE_ARTIFACT", ordering_key="library/alpine", payload={})
        second = insert_events(js_db, 1)[0]  # id 2, same key, committed at once
        assert first < second
        assert relay.tick().published == 0  # id 2 must wait for id 1
        assert relay.tick().published == 0
        slow.commit()
        wait_until(lambda: relay.tick().published or unpublished(js_db) == 0, 5, "both events published")
    finally:
        slow.close()
        relay.publisher.close()
    assert received_by_key(broker.drain(tap)) == {"library/alpine": [first, second]}


def test_a_rolled_back_event_does_not_block_the_others(js_db, broker, rabbitmq_url, js_database_url):
    tap = broker.tap_events()
    aborted = psycopg2.connect(js_database_url)
    relay = make_relay(js_db, broker, rabbitmq_url)
    try:
        with aborted.cursor() as cur:
            outbox_db.insert(cur, event_type="PUSH_ARTIFACT", ordering_key="team/app", payload={})
        later = insert_events(js_db, 2)
        assert relay.tick().published == 0
        aborted.rollback()
        wait_until(lambda: unpublished(js_db) == 0 if relay.tick() else False, 5, "the committed events published")
    finally:
        aborted.close()
        relay.publisher.close()
    assert sorted(itertools.chain(*received_by_key(broker.drain(tap)).values())) == later


def test_events_wait_while_the_broker_is_away_and_none_is_lost(js_db, broker, rabbitmq_url, make_settings):
    host, port = "127.0.0.1", int(rabbitmq_url.rsplit(":", 1)[1].split("/")[0])
    proxy = TcpProxy(host, port)  # down: connections are refused, like a stopped broker
    proxied_url = rabbitmq_url.replace(f":{port}/", f":{proxy.port}/")
    tap = broker.tap_events()
    settings = make_settings()
    loop = Relay(
        relay=make_relay(js_db, broker, proxied_url, batch_size=10),
        database_url=settings.database_url,
        interval=0.05,
        retry_seconds=0.2,
        reconnect_max_seconds=0.5,
    )
    loop.start()
    try:
        first = insert_events(js_db, 30)
        time.sleep(1.0)  # a second of failed rounds with the broker away
        assert unpublished(js_db) == 30
        proxy.up()
        wait_until(lambda: unpublished(js_db) == 0, 15, "the backlog published once the broker is back")
        proxy.down()  # away again, with new events arriving meanwhile
        second = insert_events(js_db, 25, start=30)
        time.sleep(0.5)
        proxy.up()
        wait_until(lambda: unpublished(js_db) == 0, 15, "the second backlog published")
    finally:
        loop.stop()
        loop.join(10)
        loop.relay.publisher.close()
        proxy.down()
    by_key = received_by_key(broker.drain(tap))
    assert sorted(itertools.chain(*by_key.values())) == first + second
    for key_ids in by_key.values():
        assert key_ids == sorted(key_ids)


def test_only_one_relay_is_active_and_a_standby_takes_over(js_db, broker, rabbitmq_url, make_settings):
    settings = make_settings()
    loops = [
        Relay(
            relay=make_relay(js_db, broker, rabbitmq_url),
            database_url=settings.database_url,
            interval=0.05,
            retry_seconds=0.1,
            reconnect_max_seconds=0.5,
        )
        for _ in range(2)
    ]
    for loop in loops:
        loop.start()
    try:
        leader = wait_until(lambda: next((loop for loop in loops if loop.leading), None), 10, "a leader")
        time.sleep(0.5)
        assert [loop.leading for loop in loops].count(True) == 1
        standby = next(loop for loop in loops if loop is not leader)
        leader.stop()
        leader.join(10)
        wait_until(lambda: standby.leading, 10, "the standby took over")
        insert_events(js_db, 3)
        wait_until(lambda: unpublished(js_db) == 0, 10, "events published by the new leader")
    finally:
        for loop in loops:
            loop.stop()
            loop.join(10)
            loop.relay.publisher.close()


def test_an_empty_outbox_needs_no_broker(js_db, broker):
    relay = make_relay(js_db, broker, "amqp://guest:guest@127.0.0.1:1/%2F")  # nothing listens there
    try:
        result = relay.tick()
    finally:
        relay.publisher.close()
    assert (result.published, result.failed, result.more) == (0, False, False)
