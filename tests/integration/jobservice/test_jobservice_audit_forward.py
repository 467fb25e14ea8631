"""Audit records forwarded to a syslog endpoint (Harbor's ``audit_log_forward_endpoint``): Berth's
own log collector, a real syslog server, receives them; while it is down they wait in RabbitMQ
and none is lost."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from psycopg2.extras import Json

from berth_common import audit
from berth_jobservice.db import outbox as outbox_db
from support.jobservice.helpers import wait_until
from support.log_collector import Collector, run_collector


def configure(db, **items) -> None:
    with db.transaction() as cur:
        for key, value in items.items():
            cur.execute(
                "INSERT INTO configurations (k, v) VALUES (%s, %s) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v", (key, Json(value))
            )


def add_records(db, numbers: range) -> None:
    with db.transaction() as cur:
        for n in numbers:
            payload = audit.forward_payload(
                operation="push" if n % 2 else "delete",
                resource_type="artifact",
                resource=f'library/app:v{n} "quoted"',
                username=f"user{n}",
                client_ip="10.0.0.7",
                op_time=dt.datetime(2026, 11, 28, 3, 30, n, tzinfo=dt.UTC),
            )
            outbox_db.insert(cur, event_type=audit.FORWARD_EVENT, ordering_key="audit", payload=payload)


def audit_lines(collector: Collector) -> list[str]:
    return collector.lines("audit.log")


def test_records_reach_the_syslog_endpoint_and_wait_while_it_is_down(start_jobservice, js_db, tmp_path: Path):
    try:
        with run_collector(tmp_path / "first") as collector:
            port = collector.port
            configure(js_db, audit_log_forward_endpoint=f"127.0.0.1:{port}")
            start_jobservice()
            add_records(js_db, range(3))
            wait_until(lambda: len(audit_lines(collector)) == 3, 15, "three records at the collector")
            first = audit_lines(collector)[1]
            assert first.startswith("2026-11-28T03:30:01.000Z ")
            for part in ('operator="user1"', 'resourceType="artifact"', r'resource="library/app:v1 \"quoted\""',
                         'action="create"', 'eventType="create_artifact"', "success=true", 'clientIP="10.0.0.7"'):  # fmt: skip
                assert part in first, (part, first)
            assert 'eventType="delete_artifact"' in audit_lines(collector)[0]

        add_records(js_db, range(3, 7))  # the endpoint is down: they must wait, not vanish
        time.sleep(2.0)  # the forwarder tries, fails and backs off at least once

        with run_collector(tmp_path / "second", port=port) as collector:
            wait_until(lambda: len(audit_lines(collector)) >= 4, 30, "the waiting records after the endpoint came back")
            forwarded = [line.split('operator="', 1)[1].split('"', 1)[0] for line in audit_lines(collector)]
            assert sorted(set(forwarded)) == [f"user{n}" for n in range(3, 7)]
    finally:
        with js_db.transaction() as cur:
            cur.execute("DELETE FROM configurations WHERE k = ANY(%s)", (list(audit.KEYS),))
