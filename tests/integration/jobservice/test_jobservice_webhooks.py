"""Webhooks end to end: outbox → relay → dispatcher → WEBHOOK jobs → a real HTTP receiver."""

from __future__ import annotations

import json
import time

import pytest

from berth_jobservice.client import JobClient
from berth_jobservice.db import executions as executions_db
from berth_jobservice.db import outbox as outbox_db
from berth_jobservice.db import tasks as tasks_db
from berth_jobservice.jobs.base import JobParameterError
from berth_jobservice.services import webhooks
from support.jobservice.helpers import task_log, wait_status, wait_until
from support.webhook_receiver import WebhookReceiver

DIGEST = "sha256:" + "ab" * 32
SECRET = "s3cr3t-for-hmac"


def make_project(db, name: str) -> int:
    with db.transaction() as cur:
        cur.execute("INSERT INTO users (username) VALUES (%s) ON CONFLICT (username) DO NOTHING", ("owner",))
        cur.execute("SELECT user_id FROM users WHERE username = 'owner'")
        owner = cur.fetchone()[0]
        cur.execute("INSERT INTO projects (name, owner_id) VALUES (%s, %s) RETURNING project_id", (name, owner))
        return cur.fetchone()[0]


def harbor_payload(event_type: str, project: str, repo: str, tag: str = "v1") -> dict:
    """What registry and core write to the outbox: Harbor's webhook payload."""
    return {
        "type": event_type,
        "occur_at": 1714557600,
        "operator": "alice",
        "event_data": {
            "resources": [{"digest": DIGEST, "tag": tag, "resource_url": f"berth.example/{project}/{repo}:{tag}"}],
            "repository": {
                "date_created": 1714550000,
                "name": repo,
                "namespace": project,
                "repo_full_name": f"{project}/{repo}",
                "repo_type": "private",
            },
        },
    }


def emit(db, event_type: str, project: str, repo: str = "app") -> int:
    with db.transaction() as cur:
        return outbox_db.insert(
            cur, event_type=event_type, ordering_key=f"{project}/{repo}", payload=harbor_payload(event_type, project, repo)
        )


def webhook_tasks(db) -> list[tasks_db.Task]:
    with db.transaction() as cur:
        cur.execute("SELECT id FROM task WHERE job_type = 'WEBHOOK' ORDER BY id")
        return [tasks_db.get(cur, row[0]) for row in cur.fetchall()]


@pytest.fixture
def receivers():
    with WebhookReceiver() as plain, WebhookReceiver() as cloud:
        yield plain, cloud


def test_push_pull_delete_reach_the_receivers_in_both_formats_signed(start_jobservice, js_db, receivers):
    plain, cloud = receivers
    project_id = make_project(js_db, "library")
    other_project = make_project(js_db, "other")
    service = start_jobservice()
    client = JobClient(js_db, service.publisher, service.registry)
    policy = client.create_webhook_policy(
        project_id=project_id,
        name="ci",
        targets=[
            {"type": "http", "address": plain.url, "auth_header": "Bearer hook-token", "payload_format": "Default"},
            {"type": "http", "address": cloud.url, "payload_format": "CloudEvents"},
        ],
        event_types=["PUSH_ARTIFACT", "PULL_ARTIFACT", "DELETE_ARTIFACT"],
        secret=SECRET,
        creator="admin",
    )
    client.create_webhook_policy(
        project_id=project_id, name="off", targets=[{"address": plain.url}], event_types=["PUSH_ARTIFACT"], enabled=False
    )
    client.create_webhook_policy(project_id=project_id, name="quota", targets=[{"address": plain.url}], event_types=["QUOTA_EXCEED"])
    client.create_webhook_policy(
        project_id=other_project, name="elsewhere", targets=[{"address": plain.url}], event_types=["PUSH_ARTIFACT"]
    )

    emitted = [emit(js_db, kind, "library") for kind in ("PUSH_ARTIFACT", "PULL_ARTIFACT", "DELETE_ARTIFACT")]
    emit(js_db, "CREATE_TAG", "library")  # not a webhook event type
    plain_requests = plain.wait_for(3, timeout=20)
    cloud_requests = cloud.wait_for(3, timeout=20)
    wait_until(lambda: all(t.status == "Success" for t in webhook_tasks(js_db)) and len(webhook_tasks(js_db)) == 6, 10, "6 tasks Success")
    time.sleep(0.3)
    assert len(plain.requests) == 3 and len(cloud.requests) == 3  # nothing from the other policies

    by_type = {r.json()["type"]: r for r in plain_requests}
    assert set(by_type) == {"PUSH_ARTIFACT", "PULL_ARTIFACT", "DELETE_ARTIFACT"}
    for event_type, request in by_type.items():
        assert request.header("Content-Type") == "application/json"
        assert request.header("Authorization") == "Bearer hook-token"
        assert request.header("X-Berth-Event-Type") == event_type
        assert webhooks.verify(SECRET, request.body, request.header("X-Berth-Signature"))
        assert request.json() == harbor_payload(event_type, "library", "app")

    ce_types = {r.json()["type"]: r for r in cloud_requests}
    assert set(ce_types) == {"harbor.artifact.pushed", "harbor.artifact.pulled", "harbor.artifact.deleted"}
    pushed = ce_types["harbor.artifact.pushed"]
    body = pushed.json()
    assert pushed.header("Content-Type") == "application/cloudevents+json"
    assert pushed.header("Authorization") is None
    assert webhooks.verify(SECRET, pushed.body, pushed.header("X-Berth-Signature"))
    assert not webhooks.verify("wrong", pushed.body, pushed.header("X-Berth-Signature"))
    assert body["specversion"] == "1.0" and body["datacontenttype"] == "application/json"
    assert body["source"] == f"/projects/{project_id}/webhook/policies/{policy.id}"
    assert body["time"] == "2024-05-01T10:00:00Z" and body["operator"] == "alice"
    assert body["data"] == harbor_payload("PUSH_ARTIFACT", "library", "app")["event_data"]
    assert body["id"] and body["requestid"] == pushed.header("X-Berth-Delivery")

    tasks = webhook_tasks(js_db)
    assert {t.parameters["event_id"] for t in tasks} == set(emitted)
    assert all(t.extra_attrs["http_status"] == 200 for t in tasks)
    assert {pushed.header("X-Berth-Delivery")} <= {t.job_id for t in tasks}
    with js_db.transaction() as cur:
        executions = executions_db.list_by_vendor(cur, "WEBHOOK", policy.id)
    assert len(executions) == 3 and {e.trigger for e in executions} == {"EVENT"} and {e.status for e in executions} == {"Success"}
    triggers = {t.event_type: t for t in client.webhook_last_triggers(project_id) if t.policy_name == "ci"}
    assert all(triggers[kind].last_trigger_time is not None for kind in ("PUSH_ARTIFACT", "PULL_ARTIFACT", "DELETE_ARTIFACT"))
    assert "delivered: HTTP 200" in task_log(js_db, tasks[0].id)
    assert "hook-token" not in task_log(js_db, tasks[0].id)


def test_a_failing_receiver_gets_the_configured_retries_then_the_task_fails(start_jobservice, js_db, broker):
    project_id = make_project(js_db, "library")
    with WebhookReceiver() as receiver:
        receiver.fail_with(500)
        service = start_jobservice(webhook_job_max_retry=3, retry_base_seconds=0.2)
        client = JobClient(js_db, service.publisher, service.registry)
        client.create_webhook_policy(project_id=project_id, name="down", targets=[{"address": receiver.url}], event_types=["PUSH_ARTIFACT"])
        emit(js_db, "PUSH_ARTIFACT", "library")
        tasks = wait_until(lambda: webhook_tasks(js_db), 15, "the webhook task")
        final = wait_status(js_db, tasks[0].id, "Error", timeout=20)
        time.sleep(0.8)  # no fourth attempt comes
        assert len(receiver.requests) == 3
        assert len({r.header("X-Berth-Delivery") for r in receiver.requests}) == 1  # one delivery, three tries
    assert final.run_count == 3 and final.status_message == "DeliveryError: receiver answered HTTP 500"
    log = task_log(js_db, final.id)
    assert log.count("receiver answered HTTP 500") == 3
    assert "giving up after 3 failed runs" in log
    wait_until(lambda: broker.message_count(broker.topology.dead_queue("WEBHOOK")) == 1, 5, "dead-lettered")


def test_a_client_error_is_not_retried_and_a_hiccup_is(start_jobservice, js_db):
    project_id = make_project(js_db, "library")
    with WebhookReceiver() as rejecting, WebhookReceiver() as hiccup:
        rejecting.fail_with(404)
        hiccup.fail_next(1, 503)
        service = start_jobservice(retry_base_seconds=0.1)
        client = JobClient(js_db, service.publisher, service.registry)
        client.create_webhook_policy(
            project_id=project_id,
            name="two",
            targets=[{"address": rejecting.url}, {"address": hiccup.url}],
            event_types=["DELETE_ARTIFACT"],
        )
        emit(js_db, "DELETE_ARTIFACT", "library")
        tasks = wait_until(lambda: len(webhook_tasks(js_db)) == 2 and webhook_tasks(js_db), 15, "two webhook tasks")
        by_address = {t.parameters["address"]: t for t in tasks}
        failed = wait_status(js_db, by_address[rejecting.url].id, "Error")
        recovered = wait_status(js_db, by_address[hiccup.url].id, "Success", timeout=15)
        assert failed.run_count == 1 and "not retryable" in task_log(js_db, failed.id)
        assert recovered.run_count == 2 and [r.status for r in hiccup.requests] == [503, 200]


def test_a_slow_receiver_times_out_and_is_retried(start_jobservice, js_db):
    project_id = make_project(js_db, "library")
    with WebhookReceiver() as slow:
        slow.delay = 1.0
        service = start_jobservice(webhook_job_http_client_timeout=0.3, webhook_job_max_retry=2, retry_base_seconds=0.1)
        client = JobClient(js_db, service.publisher, service.registry)
        client.create_webhook_policy(project_id=project_id, name="slow", targets=[{"address": slow.url}], event_types=["PULL_ARTIFACT"])
        emit(js_db, "PULL_ARTIFACT", "library")
        tasks = wait_until(lambda: webhook_tasks(js_db), 15, "the webhook task")
        final = wait_status(js_db, tasks[0].id, "Error", timeout=20)
    assert final.run_count == 2 and final.status_message == "DeliveryError: no answer within 0.3s"


def test_a_redelivered_event_creates_no_second_delivery(start_jobservice, js_db):
    project_id = make_project(js_db, "library")
    service = start_jobservice(run_webhook_dispatch=False, run_relay=False)
    client = JobClient(js_db, service.publisher, service.registry)
    with WebhookReceiver() as receiver:
        client.create_webhook_policy(project_id=project_id, name="once", targets=[{"address": receiver.url}], event_types=["PUSH_ARTIFACT"])
        envelope = {"event_id": 42, "event_type": "PUSH_ARTIFACT", "payload": harbor_payload("PUSH_ARTIFACT", "library", "app")}
        first = webhooks.dispatch(js_db, service.publisher, service.registry, envelope)
        again = webhooks.dispatch(js_db, service.publisher, service.registry, envelope)
        assert len(first) == 1 and again == []
        receiver.wait_for(1)
        wait_status(js_db, first[0].id, "Success")
        time.sleep(0.3)
        assert len(receiver.requests) == 1
    with pytest.raises(ValueError):
        webhooks.dispatch(js_db, service.publisher, service.registry, {"event_type": "PUSH_ARTIFACT"})
    assert webhooks.dispatch(js_db, service.publisher, service.registry, {**envelope, "event_id": 43, "payload": {"event_data": {}}}) == []


def test_a_batch_snapshot_lets_only_subscribed_events_through(start_jobservice, js_db):
    library, other = make_project(js_db, "library"), make_project(js_db, "other")
    service = start_jobservice(run_webhook_dispatch=False, run_relay=False, run_scheduler=False)
    client = JobClient(js_db, service.publisher, service.registry)
    with WebhookReceiver() as receiver:
        targets = [{"address": receiver.url}]
        policy = client.create_webhook_policy(project_id=library, name="pushes", targets=targets, event_types=["PUSH_ARTIFACT"])
        client.create_webhook_policy(project_id=other, name="off", targets=targets, event_types=["PULL_ARTIFACT"], enabled=False)
        subscribed = webhooks.Subscriptions.read(js_db)
        assert subscribed.may_match("PUSH_ARTIFACT", harbor_payload("PUSH_ARTIFACT", "library", "app"))
        assert subscribed.may_match("PUSH_ARTIFACT", {"project_id": library})
        assert not subscribed.may_match("PULL_ARTIFACT", harbor_payload("PULL_ARTIFACT", "library", "app"))
        assert not subscribed.may_match("PULL_ARTIFACT", harbor_payload("PULL_ARTIFACT", "other", "app"))  # disabled
        assert not subscribed.may_match("PUSH_ARTIFACT", harbor_payload("PUSH_ARTIFACT", "nowhere", "app"))

        def envelope(event_id: int, event_type: str) -> dict:
            return {"event_id": event_id, "event_type": event_type, "payload": harbor_payload(event_type, "library", "app")}

        assert webhooks.dispatch(js_db, service.publisher, service.registry, envelope(1, "PULL_ARTIFACT"), subscribed) == []
        delivered = webhooks.dispatch(js_db, service.publisher, service.registry, envelope(2, "PUSH_ARTIFACT"), subscribed)
        assert len(delivered) == 1
        receiver.wait_for(1)
        # Harbor's system-wide switch turns every webhook off, and back on.
        with js_db.transaction() as cur:
            cur.execute(
                "INSERT INTO configurations (k, v) VALUES ('notification_enable', 'false') ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v"
            )
        try:
            assert not webhooks.Subscriptions.read(js_db).may_match("PUSH_ARTIFACT", {"project_id": library})
            assert webhooks.dispatch(js_db, service.publisher, service.registry, envelope(3, "PUSH_ARTIFACT")) == []
        finally:
            with js_db.transaction() as cur:
                cur.execute("DELETE FROM configurations WHERE k = 'notification_enable'")
        assert webhooks.Subscriptions.read(js_db).may_match("PUSH_ARTIFACT", {"project_id": library})
        # A policy changed after the snapshot counts from the next batch on.
        client.update_webhook_policy(policy.id, name="pushes", targets=targets, event_types=["PUSH_ARTIFACT"], enabled=False)
        assert not webhooks.Subscriptions.read(js_db).may_match("PUSH_ARTIFACT", {"project_id": library})


def test_garbage_on_the_events_queue_is_dead_lettered_and_the_events_around_it_dispatched(start_jobservice, js_db, broker):
    project_id = make_project(js_db, "library")
    with WebhookReceiver() as receiver:
        service = start_jobservice(run_relay=False, run_scheduler=False)
        client = JobClient(js_db, service.publisher, service.registry)
        client.create_webhook_policy(project_id=project_id, name="all", targets=[{"address": receiver.url}], event_types=["PUSH_ARTIFACT"])
        queue = broker.topology.webhook_events_queue
        wait_until(lambda: service.dispatcher.connected.is_set(), 10, "the dispatcher consuming")

        def envelope(event_id: int) -> dict:
            return {"event_id": event_id, "event_type": "PUSH_ARTIFACT", "payload": harbor_payload("PUSH_ARTIFACT", "library", "app")}

        bodies = [
            envelope(101),  # a bare envelope
            b"not json",
            [1, 2],
            {"events": [envelope(150), {"event_id": "x"}]},  # one bad event spoils its message
            {"events": []},
            {"events": [envelope(102), envelope(103)]},  # a run of events, as the relay sends them
        ]
        for body in bodies:
            broker.publish_raw(queue, body if isinstance(body, bytes) else json.dumps(body).encode())
        receiver.wait_for(3, timeout=15)
        wait_until(lambda: broker.message_count(broker.topology.webhook_events_dead_queue) == 4, 10, "four dead-lettered")
        assert broker.message_count(queue) == 0
    assert len(receiver.requests) == 3
    assert sorted(t.parameters["event_id"] for t in webhook_tasks(js_db)) == [101, 102, 103]


def test_policies_are_validated(js_db, start_jobservice):
    project_id = make_project(js_db, "library")
    service = start_jobservice(run_webhook_dispatch=False, run_relay=False, run_scheduler=False)
    client = JobClient(js_db, service.publisher, service.registry)
    good = {"project_id": project_id, "name": "p", "targets": [{"address": "https://hooks.example/x"}], "event_types": ["PUSH_ARTIFACT"]}
    for change, message in [
        ({"name": " "}, "name is required"),
        ({"targets": []}, "at least one target"),
        ({"targets": [{"address": "ftp://x"}]}, "must be an http"),
        ({"targets": [{"type": "slack", "address": "https://x"}]}, "only http"),
        ({"targets": [{"address": "https://x", "payload_format": "Xml"}]}, "payload_format"),
        ({"event_types": ["PUSH_ARTIFACT", "NOPE"]}, "unsupported event types NOPE"),
    ]:
        with pytest.raises(JobParameterError, match=message):
            client.create_webhook_policy(**{**good, **change})
    created = client.create_webhook_policy(**good, secret="k")
    assert created.targets == [
        {"type": "http", "address": "https://hooks.example/x", "auth_header": "", "skip_cert_verify": False, "payload_format": "Default"}
    ]
    updated = client.update_webhook_policy(created.id, name="p2", targets=good["targets"], event_types=["PULL_ARTIFACT"], enabled=False)
    assert (updated.name, updated.event_types, updated.enabled, updated.secret) == ("p2", ["PULL_ARTIFACT"], False, "k")
    assert client.webhook_policies(project_id) == ([updated], 1)
    assert client.delete_webhook_policy(created.id) and not client.delete_webhook_policy(created.id)
