"""Jobs through the whole stack (``berthctl up``): a skopeo push reaches a project's webhook
receiver as a signed PUSH_ARTIFACT payload, the delivery is visible through the API, and a manual
audit-log purge (dry run) runs and reports.

The stack's own jobservice does the work (registry → outbox → relay → dispatcher → WEBHOOK job);
this test starts no jobservice of its own, since the stack's uses the default queue prefix on the
shared broker.
"""

from __future__ import annotations

import json
import subprocess
import uuid

import requests

from berth_jobservice.services import webhooks
from support.images import write_layout
from support.jobservice.helpers import wait_until
from support.stack import ADMIN_PASSWORD, Stack
from support.webhook_receiver import WebhookReceiver

ADMIN = ("admin", ADMIN_PASSWORD)
SECRET = "e2e-webhook-signing-secret"


def api(stack: Stack, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, f"{stack.url}/api/v2.0{path}", auth=ADMIN, timeout=30, **kwargs)


def test_push_is_delivered_signed_and_visible_through_the_api(stack: Stack, tmp_path) -> None:
    project = f"e2e-hooks-{uuid.uuid4().hex[:8]}"
    assert api(stack, "POST", "/projects", json={"project_name": project, "metadata": {"public": "false"}}).status_code == 201
    base = f"/projects/{project}/webhook"
    by_name = {"X-Is-Resource-Name": "true"}
    with WebhookReceiver() as plain, WebhookReceiver() as cloud:
        policy = {
            "name": "ci",
            "description": "e2e",
            "event_types": ["PUSH_ARTIFACT"],
            "targets": [
                {"type": "http", "address": plain.url, "auth_header": "Bearer e2e", "payload_format": "Default"},
                {"type": "http", "address": cloud.url, "payload_format": "CloudEvents"},
            ],
            "secret": SECRET,
            "enabled": True,
        }
        created = api(stack, "POST", f"{base}/policies", json=policy, headers=by_name)
        assert created.status_code == 201, created.text
        policy_id = int(created.headers["Location"].rsplit("/", 1)[1])
        shown = api(stack, "GET", f"{base}/policies/{policy_id}", headers=by_name).json()
        assert "secret" not in shown and all("auth_header" not in t for t in shown["targets"])

        image = write_layout(tmp_path / "image", tag="v1", layers=1)
        subprocess.run(
            ["skopeo", "--insecure-policy", "copy", "--dest-creds", f"admin:{ADMIN_PASSWORD}", "--dest-tls-verify=false",
             image.reference, f"docker://{stack.registry_host}/{project}/app:v1"],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip
        delivered = plain.wait_for(1, timeout=60)[0]
        cloud_event = cloud.wait_for(1, timeout=60)[0]

    # Harbor's default payload, signed with the policy's secret, with the target's auth header.
    assert webhooks.verify(SECRET, delivered.body, delivered.header("X-Berth-Signature"))
    assert not webhooks.verify("not-the-secret-at-all", delivered.body, delivered.header("X-Berth-Signature"))
    assert delivered.header("Authorization") == "Bearer e2e"
    assert delivered.header("X-Berth-Event-Type") == "PUSH_ARTIFACT"
    payload = delivered.json()
    assert (payload["type"], payload["operator"]) == ("PUSH_ARTIFACT", "admin")
    repository = payload["event_data"]["repository"]
    assert (repository["namespace"], repository["name"], repository["repo_full_name"]) == (project, "app", f"{project}/app")
    assert [(r["digest"], r["tag"]) for r in payload["event_data"]["resources"]] == [(image.digest, "v1")]
    # The same event as a CloudEvent to the other target, also signed.
    assert webhooks.verify(SECRET, cloud_event.body, cloud_event.header("X-Berth-Signature"))
    assert cloud_event.header("Authorization") is None
    assert cloud_event.json()["type"] == "harbor.artifact.pushed"
    assert cloud_event.json()["data"]["resources"][0]["digest"] == image.digest

    # The delivery as the API shows it: one execution for the event, one task per target, logs.
    def finished() -> dict | None:
        executions = api(stack, "GET", f"{base}/policies/{policy_id}/executions", headers=by_name).json()
        return executions[0] if executions and executions[0]["status"] == "Success" else None

    execution = wait_until(finished, 60.0, "webhook execution Success", interval=0.2)
    assert (execution["vendor_type"], execution["vendor_id"], execution["trigger"]) == ("WEBHOOK", policy_id, "EVENT")
    assert execution["metrics"]["success_task_count"] == 2
    tasks = api(stack, "GET", f"{base}/policies/{policy_id}/executions/{execution['id']}/tasks", headers=by_name).json()
    assert [t["status"] for t in tasks] == ["Success", "Success"]
    logs = [
        api(stack, "GET", f"{base}/policies/{policy_id}/executions/{execution['id']}/tasks/{t['id']}/log", headers=by_name) for t in tasks
    ]
    assert all(log.status_code == 200 and log.headers["Content-Type"].startswith("text/plain") for log in logs)
    text = "".join(log.text for log in logs)
    assert plain.url in text and cloud.url in text
    assert "Bearer e2e" not in text and SECRET not in text
    triggers = api(stack, "GET", f"{base}/lasttrigger", headers=by_name).json()
    assert [(t["policy_name"], t["event_type"], t["last_trigger_time"]) for t in triggers] == [
        ("ci", "PUSH_ARTIFACT", execution["start_time"])
    ]
    audit = api(stack, "GET", "/audit-logs", params={"q": "resource_type=webhook_policy,operation=create", "page_size": 100}).json()
    assert "ci" in {entry["resource"] for entry in audit}


def test_manual_purge_dry_run(stack: Stack) -> None:
    parameters = {"audit_retention_hour": 1, "include_operations": "create,delete,pull", "dry_run": True}
    started = api(stack, "POST", "/system/purgeaudit/schedule", json={"schedule": {"type": "Manual"}, "parameters": parameters})
    assert started.status_code == 201, started.text
    location = started.headers["Location"]
    run_id = int(location.rsplit("/", 1)[1])
    assert location == f"/api/v2.0/system/purgeaudit/{run_id}"

    def finished() -> dict | None:
        run = api(stack, "GET", f"/system/purgeaudit/{run_id}").json()
        return run if run["job_status"] in ("Success", "Error", "Stopped") else None

    run = wait_until(finished, 60.0, f"purge {run_id} finished", interval=0.2)
    assert (run["job_status"], run["job_kind"], run["job_name"]) == ("Success", "MANUAL", "PURGE_AUDIT_LOG")
    result = json.loads(run["job_parameters"])
    assert result["dry_run"] is True and isinstance(result["purged"], int)
    log = api(stack, "GET", f"/system/purgeaudit/{run_id}/log")
    assert log.status_code == 200 and log.headers["Content-Type"].startswith("text/plain")
    assert f"dry run: {result['purged']} records would be purged" in log.text
    history = api(stack, "GET", "/system/purgeaudit", params={"page_size": 100})
    assert run_id in {h["id"] for h in history.json()} and int(history.headers["X-Total-Count"]) >= 1
