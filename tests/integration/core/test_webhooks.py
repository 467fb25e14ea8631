"""Project webhook policies through core's API: Harbor's JSON, write-only auth header and signing
secret, who may do what, bad input, executions, tasks and logs of deliveries, last triggers.

Policies and deliveries are rows of the jobservice's tables, written here in the test's rolled-back
transaction (deliveries through the jobservice's own ``create_execution``); real deliveries by a
running jobservice are covered in test_jobservice_api_live.py and the e2e test.
"""

from __future__ import annotations

import pytest

from berth_core.services import jobs
from berth_jobservice.db import tasks as tasks_db
from berth_jobservice.jobs import default_registry
from berth_jobservice.services import jobs as job_service
from berth_jobservice.settings import JobserviceSettings
from support.content import ROLES, CoreWorld, count_rows, make_project

SECRET = "a-signing-secret-of-some-length"


def base(world: CoreWorld, project=None) -> str:
    return f"/api/v2.0/projects/{(project or world.private).project_id}/webhook"


def policy_body(name: str = "ci", **changes) -> dict:
    body = {
        "name": name,
        "description": "tell CI",
        "enabled": True,
        "event_types": ["PUSH_ARTIFACT", "DELETE_ARTIFACT"],
        "targets": [
            {
                "type": "http",
                "address": "https://hooks.example.test/berth",
                "auth_header": "Bearer t0ken",
                "skip_cert_verify": False,
                "payload_format": "CloudEvents",
            }
        ],
        "secret": SECRET,
    }
    body.update(changes)
    return body


def create(world: CoreWorld, body: dict | None = None, who: str = "project_admin", project=None):
    return world.client.post(f"{base(world, project)}/policies", json=body or policy_body(), headers=world.headers(who))


def created_id(response) -> int:
    assert response.status_code == 201, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def stored(world: CoreWorld, policy_id: int):
    with world.app.app_context():
        return jobs.client().webhook_policy(policy_id)


def audit_count(world: CoreWorld, operation: str, name: str) -> int:
    with world.cursor() as cur:
        return count_rows(
            cur,
            "audit_log",
            "resource_type = 'webhook_policy' AND operation = %(o)s AND resource = %(r)s AND project_id = %(p)s",
            {"o": operation, "r": name, "p": world.private.project_id},
        )


def test_create_get_list_in_harbor_json_without_credentials(world) -> None:
    response = create(world)
    policy_id = created_id(response)
    assert response.headers["Location"] == f"{base(world)}/policies/{policy_id}"
    policy = world.client.get(f"{base(world)}/policies/{policy_id}", headers=world.headers("maintainer")).get_json()
    assert set(policy) == {
        "id", "name", "description", "project_id", "targets", "event_types", "creator", "creation_time", "update_time", "enabled",
    }  # fmt: skip
    assert (policy["name"], policy["description"], policy["project_id"], policy["enabled"]) == (
        "ci",
        "tell CI",
        world.private.project_id,
        True,
    )
    assert policy["creator"] == world.people["project_admin"].username
    assert policy["event_types"] == ["PUSH_ARTIFACT", "DELETE_ARTIFACT"]
    # The auth header and the secret are write-only: stored, never shown.
    assert policy["targets"] == [
        {"type": "http", "address": "https://hooks.example.test/berth", "skip_cert_verify": False, "payload_format": "CloudEvents"}
    ]
    assert policy["creation_time"].endswith("Z")
    row = stored(world, policy_id)
    assert (row.secret, row.targets[0]["auth_header"]) == (SECRET, "Bearer t0ken")

    listed = world.client.get(f"{base(world)}/policies", headers=world.headers("maintainer"))
    assert listed.status_code == 200 and listed.headers["X-Total-Count"] == "1"
    assert listed.get_json() == [policy]
    assert SECRET not in listed.get_data(as_text=True) and "t0ken" not in listed.get_data(as_text=True)
    assert audit_count(world, "create", "ci") == 1


def test_defaults_name_by_header_and_name_conflict(world) -> None:
    minimal = {"name": "  minimal ", "event_types": ["PULL_ARTIFACT"], "targets": [{"address": "http://10.0.0.1:8080/x"}]}
    policy_id = created_id(create(world, minimal))
    policy = world.client.get(
        f"/api/v2.0/projects/{world.private.name}/webhook/policies/{policy_id}",
        headers={**world.headers("project_admin"), "X-Is-Resource-Name": "true"},
    ).get_json()
    assert policy["name"] == "minimal" and policy["enabled"] is True and policy["description"] == ""
    assert policy["targets"] == [
        {"type": "http", "address": "http://10.0.0.1:8080/x", "skip_cert_verify": False, "payload_format": "Default"}
    ]
    assert stored(world, policy_id).secret == ""  # unsigned
    conflict = create(world, {**minimal, "name": "minimal"})
    assert conflict.status_code == 409
    assert conflict.get_json()["errors"][0]["code"] == "CONFLICT"
    # Names are per project.
    with world.cursor() as cur:
        other = make_project(cur, world.people["project_admin"])
    assert create(world, minimal, who="admin", project=other).status_code == 201


def test_update_keeps_write_only_fields_unless_given(world) -> None:
    policy_id = created_id(create(world))
    url = f"{base(world)}/policies/{policy_id}"
    admin = world.headers("project_admin")
    # What a client read, sent back with changes: auth_header and secret are absent, so kept.
    read_back = world.client.get(url, headers=admin).get_json()
    read_back.update(name="ci-renamed", event_types=["QUOTA_EXCEED"], enabled=False)
    read_back["targets"].append({"address": "https://second.example.test/h", "payload_format": "Default"})
    response = world.client.put(url, json=read_back, headers=admin)
    assert response.status_code == 200, response.get_data(as_text=True)
    row = stored(world, policy_id)
    assert (row.name, row.event_types, row.enabled, row.secret) == ("ci-renamed", ["QUOTA_EXCEED"], False, SECRET)
    assert [t["auth_header"] for t in row.targets] == ["Bearer t0ken", ""]
    assert audit_count(world, "update", "ci-renamed") == 1

    # Given values replace; empty strings clear.
    body = policy_body("ci-renamed", secret="", targets=[{"address": "https://hooks.example.test/berth", "auth_header": ""}])
    assert world.client.put(url, json=body, headers=admin).status_code == 200
    row = stored(world, policy_id)
    assert row.secret == "" and row.targets == [
        {
            "type": "http",
            "address": "https://hooks.example.test/berth",
            "auth_header": "",
            "skip_cert_verify": False,
            "payload_format": "Default",
        }
    ]
    body = policy_body("ci-renamed", secret="another-secret-long-enough")
    assert world.client.put(url, json=body, headers=admin).status_code == 200
    assert stored(world, policy_id).secret == "another-secret-long-enough"

    # A name taken by another policy of the project is a conflict.
    created_id(create(world, policy_body("taken")))
    assert world.client.put(url, json=policy_body("taken"), headers=admin).status_code == 409


def test_delete_and_policies_of_other_projects_are_not_found(world) -> None:
    policy_id = created_id(create(world))
    with world.cursor() as cur:
        other = make_project(cur, world.people["project_admin"])
    admin = world.headers("admin")
    # Reaching a policy through another project's path finds nothing.
    for method in ("get", "put", "delete"):
        response = getattr(world.client, method)(f"{base(world, other)}/policies/{policy_id}", json=policy_body(), headers=admin)
        assert response.status_code == 404, method
    assert world.client.get(f"{base(world, other)}/policies/{policy_id}/executions", headers=admin).status_code == 404
    assert world.client.delete(f"{base(world)}/policies/{policy_id}", headers=world.headers("project_admin")).status_code == 200
    assert world.client.get(f"{base(world)}/policies/{policy_id}", headers=admin).status_code == 404
    assert world.client.delete(f"{base(world)}/policies/{policy_id}", headers=admin).status_code == 404
    assert world.client.get("/api/v2.0/projects/999999999/webhook/policies", headers=admin).status_code == 404
    assert audit_count(world, "delete", "ci") == 1


# (method, path suffix, action) of every endpoint; {id}, {eid}, {tid} are filled in.
ENDPOINTS = [
    ("get", "/policies", "list"),
    ("post", "/policies", "create"),
    ("get", "/policies/{id}", "read"),
    ("put", "/policies/{id}", "update"),
    ("delete", "/policies/{id}", "delete"),
    ("get", "/policies/{id}/executions", "list"),
    ("get", "/policies/{id}/executions/{eid}/tasks", "list"),
    ("get", "/policies/{id}/executions/{eid}/tasks/{tid}/log", "read"),
    ("get", "/lasttrigger", "read"),
    ("get", "/events", "read"),
]
# Harbor's notification-policy column: Project Admin all, Maintainer read/list, others nothing.
ALLOWED = {
    "admin": {"list", "create", "read", "update", "delete"},
    "project_admin": {"list", "create", "read", "update", "delete"},
    "maintainer": {"list", "read"},
}


def deliver(world: CoreWorld, policy_id: int, *, event_type: str = "PUSH_ARTIFACT", targets: int = 1, event_id: int = 1):
    """A delivery of one event to the policy as the dispatcher records it (no message is sent)."""
    registry = default_registry(JobserviceSettings(database_url="", rabbitmq_url=""))
    params = {
        "policy_id": policy_id,
        "project_id": world.private.project_id,
        "event_id": event_id,
        "event_type": event_type,
        "payload_format": "Default",
        "payload": {"type": event_type},
    }
    specs = [job_service.TaskSpec("WEBHOOK", {**params, "address": f"https://t{i}.example.test/"}) for i in range(targets)]
    with world.cursor() as cur:
        return job_service.create_execution(
            cur,
            registry,
            vendor_type="WEBHOOK",
            vendor_id=policy_id,
            trigger="EVENT",
            tasks=specs,
            extra_attrs={"event_type": event_type, "event_id": event_id, "project_id": world.private.project_id},
            dedup_key=f"event:{event_id}",
        )


@pytest.mark.parametrize("who", ROLES)
def test_who_may_do_what(world, who: str) -> None:
    policy_id = created_id(create(world, policy_body("roles")))
    submitted = deliver(world, policy_id)
    ids = {"id": policy_id, "eid": submitted.execution.id, "tid": submitted.tasks[0].id}
    for method, suffix, action in ENDPOINTS:
        body = policy_body(f"{method}-{who}") if method in ("post", "put") else None
        response = getattr(world.client, method)(f"{base(world)}{suffix.format(**ids)}", json=body, headers=world.headers(who))
        refused = 401 if who == "anonymous" else 403
        expected = {"post": 201}.get(method, 200) if action in ALLOWED.get(who, set()) else refused
        assert response.status_code == expected, (method, suffix, response.get_data(as_text=True))
        if response.status_code >= 400:
            assert response.get_json()["errors"][0]["code"] in ("UNAUTHORIZED", "FORBIDDEN")
        if method == "delete" and response.status_code == 200:  # the rest of the loop needs the policy
            policy_id = created_id(create(world, policy_body("roles")))
            submitted = deliver(world, policy_id, event_id=2)
            ids = {"id": policy_id, "eid": submitted.execution.id, "tid": submitted.tasks[0].id}


def test_nobody_but_admins_in_a_public_project(world) -> None:
    """Public projects grant nothing on webhooks: anonymous callers and non-members are refused."""
    policy_id = created_id(create(world, who="admin", project=world.public))
    assert world.client.get(f"{base(world, world.public)}/policies", headers=world.headers("anonymous")).status_code == 401
    assert world.client.get(f"{base(world, world.public)}/policies/{policy_id}", headers=world.headers("non_member")).status_code == 403
    assert world.client.get(f"{base(world, world.public)}/events", headers=world.headers("developer")).status_code == 403


BAD_BODIES = [
    ({"targets": [{"address": "ftp://hooks.example.test/"}]}, "http(s) URL"),
    ({"targets": [{"address": "not a url"}]}, "spaces"),
    ({"targets": [{"address": "hooks.example.test/path"}]}, "http(s) URL"),
    ({"targets": [{"address": "http://hooks.example.test/\r\nX-Evil: 1"}]}, "control characters"),
    ({"targets": [{"address": "https://a.example.test/", "payload_format": "XML"}]}, "payload_format"),
    ({"targets": [{"address": "https://a.example.test/", "type": "slack"}]}, "not supported"),
    ({"targets": [{"address": "https://a.example.test/", "auth_header": "Bearer x\r\nX-Evil: 1"}]}, "control characters"),
    ({"targets": [{"address": "https://a.example.test/", "skip_cert_verify": "yes"}]}, "boolean"),
    ({"targets": [{"address": "https://a.example.test/", "colour": "red"}]}, "unknown target field"),
    ({"targets": [{"address": "https://a.example.test/"}, {"address": "https://a.example.test/"}]}, "twice"),
    ({"targets": []}, "targets"),
    ({"targets": "https://a.example.test/"}, "targets"),
    ({"targets": ["https://a.example.test/"]}, "targets[0]"),
    ({"event_types": []}, "event type"),
    ({"event_types": ["PUSH_ARTIFACT", "EXPLODE"]}, "EXPLODE"),
    ({"event_types": "PUSH_ARTIFACT"}, "event_types"),
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "x" * 257}, "name"),
    ({"name": 7}, "name"),
    ({"enabled": "true"}, "enabled"),
    ({"secret": "short"}, "secret"),
    ({"secret": 12345678901234567}, "secret"),
    ({"description": ["a"]}, "description"),
    ({"colour": "red"}, "unknown field"),
]


@pytest.mark.parametrize(("change", "message"), BAD_BODIES)
def test_bad_input_is_a_400_naming_the_problem(world, change: dict, message: str) -> None:
    for response in (
        create(world, policy_body(**change)),
        world.client.put(
            f"{base(world)}/policies/{created_id(create(world, policy_body(f'p{len(str(change))}')))}",
            json=policy_body(**change),
            headers=world.headers("project_admin"),
        ),
    ):
        assert response.status_code == 400, response.get_data(as_text=True)
        error = response.get_json()["errors"][0]
        assert error["code"] == "BAD_REQUEST" and message in error["message"]
    with world.cursor() as cur:
        assert count_rows(cur, "webhook_policy", "project_id = %(p)s", {"p": world.private.project_id}) == 1


def test_not_json_bad_ids_and_bad_list_parameters(world) -> None:
    admin = world.headers("project_admin")
    response = world.client.post(f"{base(world)}/policies", data="{not json", headers={**admin, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert world.client.post(f"{base(world)}/policies", json=["a"], headers=admin).status_code == 400
    assert world.client.get(f"{base(world)}/policies/abc", headers=admin).status_code == 400
    assert world.client.get(f"{base(world)}/policies/0", headers=admin).status_code == 400
    assert world.client.get(f"{base(world)}/policies/123456789", headers=admin).status_code == 404
    for query in ("q=color=red", "sort=colour", "page=0", "page_size=1000", "q=enabled=maybe"):
        response = world.client.get(f"{base(world)}/policies?{query}", headers=admin)
        assert response.status_code == 400, query
        assert response.get_json()["errors"][0]["code"] == "BAD_REQUEST"


def test_query_sort_and_paging(world) -> None:
    for name, enabled in (("beta", True), ("alpha", False), ("gamma-ci", True)):
        created_id(create(world, policy_body(name, enabled=enabled)))
    admin = world.headers("project_admin")

    def names(query: str) -> tuple[list[str], str]:
        response = world.client.get(f"{base(world)}/policies?{query}", headers=admin)
        assert response.status_code == 200, response.get_data(as_text=True)
        return [p["name"] for p in response.get_json()], response.headers["X-Total-Count"]

    assert names("") == (["beta", "alpha", "gamma-ci"], "3")  # by id
    assert names("sort=name") == (["alpha", "beta", "gamma-ci"], "3")
    assert names("sort=-name") == (["gamma-ci", "beta", "alpha"], "3")
    assert names("q=enabled=true&sort=name") == (["beta", "gamma-ci"], "2")
    assert names("q=name=~CI") == (["gamma-ci"], "1")
    assert names("q=name={alpha beta}&sort=-name") == (["beta", "alpha"], "2")
    assert names("sort=name&page=2&page_size=2") == (["gamma-ci"], "3")
    response = world.client.get(f"{base(world)}/policies?sort=name&page=1&page_size=2", headers=admin)
    assert 'rel="next"' in response.headers["Link"]


def test_executions_tasks_logs_and_last_trigger(world) -> None:
    policy_id = created_id(create(world))
    never = world.client.get(f"{base(world)}/lasttrigger", headers=world.headers("maintainer")).get_json()
    assert {(t["policy_name"], t["event_type"], t["last_trigger_time"]) for t in never} == {
        ("ci", "PUSH_ARTIFACT", "0001-01-01T00:00:00.000Z"),
        ("ci", "DELETE_ARTIFACT", "0001-01-01T00:00:00.000Z"),
    }
    first = deliver(world, policy_id, targets=2, event_id=11)
    second = deliver(world, policy_id, event_type="DELETE_ARTIFACT", event_id=12)
    with world.cursor() as cur:
        tasks_db.append_log(cur, first.tasks[1].id, "POST https://t1.example.test/ answered 200")
    admin = world.headers("maintainer")

    response = world.client.get(f"{base(world)}/policies/{policy_id}/executions", headers=admin)
    assert response.status_code == 200 and response.headers["X-Total-Count"] == "2"
    executions = response.get_json()
    assert [e["id"] for e in executions] == [second.execution.id, first.execution.id]  # newest first
    newest = executions[1]
    assert set(newest) == {
        "id", "vendor_type", "vendor_id", "status", "status_message", "metrics", "trigger", "extra_attrs", "start_time", "end_time",
    }  # fmt: skip
    assert (newest["vendor_type"], newest["vendor_id"], newest["trigger"], newest["status"]) == ("WEBHOOK", policy_id, "EVENT", "Running")
    assert newest["extra_attrs"]["event_type"] == "PUSH_ARTIFACT"
    assert newest["metrics"]["task_count"] == 2 and newest["metrics"]["pending_task_count"] == 2
    ascending = world.client.get(f"{base(world)}/policies/{policy_id}/executions?sort=id&page_size=1", headers=admin)
    assert [e["id"] for e in ascending.get_json()] == [first.execution.id]
    page_two = world.client.get(f"{base(world)}/policies/{policy_id}/executions?sort=start_time&page=2&page_size=1", headers=admin)
    assert [e["id"] for e in page_two.get_json()] == [second.execution.id]
    assert world.client.get(f"{base(world)}/policies/{policy_id}/executions?sort=id,-id", headers=admin).status_code == 400
    assert world.client.get(f"{base(world)}/policies/{policy_id}/executions?q=status=Error", headers=admin).status_code == 400

    tasks_url = f"{base(world)}/policies/{policy_id}/executions/{first.execution.id}/tasks"
    tasks = world.client.get(tasks_url, headers=admin)
    assert tasks.status_code == 200 and tasks.headers["X-Total-Count"] == "2"
    task = tasks.get_json()[1]
    assert set(task) == {
        "id", "execution_id", "status", "status_message", "run_count", "extra_attrs",
        "creation_time", "update_time", "start_time", "end_time",
    }  # fmt: skip
    assert (task["id"], task["execution_id"], task["status"], task["run_count"]) == (first.tasks[1].id, first.execution.id, "Pending", 0)
    newest_first = world.client.get(f"{tasks_url}?sort=-id", headers=admin).get_json()
    assert [t["id"] for t in newest_first] == [t.id for t in reversed(first.tasks)]

    log = world.client.get(f"{tasks_url}/{first.tasks[1].id}/log", headers=admin)
    assert log.status_code == 200 and log.mimetype == "text/plain"
    assert log.get_data(as_text=True) == "POST https://t1.example.test/ answered 200\n"
    # Ids that exist but belong elsewhere are not found.
    assert world.client.get(f"{tasks_url}/{second.tasks[0].id}/log", headers=admin).status_code == 404
    other_execution = f"{base(world)}/policies/{policy_id}/executions/{second.execution.id}/tasks/{first.tasks[0].id}/log"
    assert world.client.get(other_execution, headers=admin).status_code == 404
    other_policy = created_id(create(world, policy_body("other")))
    assert (
        world.client.get(f"{base(world)}/policies/{other_policy}/executions/{first.execution.id}/tasks", headers=admin).status_code == 404
    )
    assert world.client.get(f"{base(world)}/policies/{policy_id}/executions/99999999/tasks", headers=admin).status_code == 404

    triggers = world.client.get(f"{base(world)}/lasttrigger", headers=admin).get_json()
    fired = {(t["policy_name"], t["event_type"]): t for t in triggers}
    assert fired[("ci", "PUSH_ARTIFACT")]["last_trigger_time"] == newest["start_time"]
    assert fired[("ci", "DELETE_ARTIFACT")]["last_trigger_time"] == executions[0]["start_time"]
    assert fired[("ci", "PUSH_ARTIFACT")]["enabled"] is True


def test_supported_events(world) -> None:
    events = world.client.get(f"{base(world)}/events", headers=world.headers("maintainer")).get_json()
    assert set(events["event_type"]) >= {"PUSH_ARTIFACT", "PULL_ARTIFACT", "DELETE_ARTIFACT", "QUOTA_EXCEED", "QUOTA_WARNING",
                                         "REPLICATION", "TAG_RETENTION", "SCANNING_COMPLETED", "SCANNING_FAILED"}  # fmt: skip
    assert events["notify_type"] == ["http"]
    assert events["payload_formats"] == [{"notify_type": "http", "formats": ["Default", "CloudEvents"]}]
