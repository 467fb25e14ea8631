"""The audit log: ``record`` in the caller's transaction, and the list APIs with Harbor's filters
and visibility rules, against real PostgreSQL."""

from __future__ import annotations

import pytest

from berth_core.db import configurations as config_db
from berth_core.services import audit
from support.content import count_rows, make_project


def _record(cur, *, when: str | None = None, **fields) -> int:
    entry_id = audit.record(cur, **fields)
    if when:  # test setup: place the entry in time
        cur.execute("UPDATE audit_log SET op_time = %(t)s WHERE id = %(id)s", {"t": when, "id": entry_id})
    return entry_id


@pytest.fixture
def entries(world):
    """Entries in the private project, another project, and system-wide ones; returns ids by name."""
    with world.cursor() as cur:
        cur.execute("DELETE FROM audit_log")  # rolled back with the test: the list starts empty
        other = make_project(cur, world.people["admin"])
        p, o = world.private, other
        ids = {
            "push": _record(cur, operation="push", resource_type="artifact", resource=f"{p.name}/app:v1",
                            username="alice", project_id=p.project_id, when="2024-03-01 10:00:00+00"),
            "pull": _record(cur, operation="pull", resource_type="artifact", resource=f"{p.name}/app:v1",
                            username="bob", project_id=p.project_id, when="2024-06-01 10:00:00+00"),
            "delete": _record(cur, operation="delete", resource_type="tag", resource=f"{p.name}/app:old",
                              username="admin", project_id=p.project_id, when="2025-01-01 10:00:00+00"),
            "other": _record(cur, operation="push", resource_type="artifact", resource=f"{o.name}/x:v1",
                             username="carol", project_id=o.project_id, when="2024-04-01 10:00:00+00"),
            "login": _record(cur, operation="login", resource_type="user", resource="admin", username="admin",
                             client_ip="10.0.0.1", success=False, description="bad password", when="2024-05-01 10:00:00+00"),
        }
    return ids


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [e["id"] for e in response.get_json()]


def test_record_clips_long_values_and_follows_the_transaction(world) -> None:
    with world.cursor() as cur:
        before = count_rows(cur, "audit_log")
    with pytest.raises(RuntimeError), world.cursor() as cur:
        audit.record(cur, operation="create", resource_type="project", resource="rolled-back", username="u")
        raise RuntimeError("the change failed")
    with world.cursor() as cur:
        assert count_rows(cur, "audit_log") == before
        entry_id = audit.record(cur, operation="x" * 80, resource_type="artifact", resource="r" * 5000, username="u" * 300)
        cur.execute("SELECT length(operation), length(resource), length(username) FROM audit_log WHERE id = %s", (entry_id,))
        assert cur.fetchone() == (50, 1024, 255)


def test_admin_sees_everything_newest_first(world, entries) -> None:
    response = world.client.get("/api/v2.0/audit-logs", headers=world.headers("admin"))
    assert _ids(response) == [entries[k] for k in ("delete", "pull", "login", "other", "push")]
    assert response.headers["X-Total-Count"] == "5"
    first = response.get_json()[0]
    assert set(first) == {"id", "username", "resource", "resource_type", "operation", "op_time"}
    assert first["op_time"] == "2025-01-01T10:00:00.000Z"


def test_project_admin_sees_only_their_projects(world, entries) -> None:
    response = world.client.get("/api/v2.0/audit-logs", headers=world.headers("project_admin"))
    assert sorted(_ids(response)) == sorted(entries[k] for k in ("push", "pull", "delete"))


@pytest.mark.parametrize("who", ["developer", "guest", "non_member"])
def test_members_without_log_permission_see_nothing(world, entries, who: str) -> None:
    response = world.client.get("/api/v2.0/audit-logs", headers=world.headers(who))
    assert _ids(response) == [] and response.headers["X-Total-Count"] == "0"


def test_anonymous_is_refused(world, entries) -> None:
    for path in ("/api/v2.0/audit-logs", "/api/v2.0/auditlog-exts", f"/api/v2.0/projects/{world.public.name}/logs"):
        response = world.client.get(path)
        assert response.status_code == 401
        assert response.get_json()["errors"][0]["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=operation%3Dpush", ["other", "push"]),
        ("q=operation%3D%7Bpush%20pull%7D", ["pull", "other", "push"]),
        ("q=username%3D~adm", ["delete", "login"]),
        ("q=resource%3D~app:v1", ["pull", "push"]),
        ("q=resource_type%3Dtag", ["delete"]),
        ("q=op_time%3D%5B2024-01-01%2000:00:00~2024-12-31%2000:00:00%5D", ["pull", "login", "other", "push"]),
        ("q=op_time%3D%5B2024-05-01%2000:00:00~%5D,operation%3Dpull", ["pull"]),
        ("sort=op_time", ["push", "other", "login", "pull", "delete"]),
        ("sort=username,-op_time&page=2&page_size=2", ["push", "pull"]),
    ],
)
def test_filters_sort_and_paging(world, entries, query: str, expected: list[str]) -> None:
    response = world.client.get(f"/api/v2.0/audit-logs?{query}", headers=world.headers("admin"))
    assert _ids(response) == [entries[k] for k in expected]


@pytest.mark.parametrize(
    "query",
    [
        "q=op_time%3D%5Byesterday~%5D",
        "q=op_time%3Dnow",  # times only as ranges
        "q=client_ip%3D10.0.0.1",  # not a filter key
        "q=operation%3D~%27unterminated",
        "sort=client_ip",
        "sort=op_time;DELETE%20FROM%20audit_log",
        "page_size=1000",
    ],
)
def test_bad_parameters_are_400(world, entries, query: str) -> None:
    response = world.client.get(f"/api/v2.0/audit-logs?{query}", headers=world.headers("admin"))
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["code"] == "BAD_REQUEST"
    with world.cursor() as cur:
        assert count_rows(cur, "audit_log") == 5


def test_project_logs(world, entries) -> None:
    url = f"/api/v2.0/projects/{world.private.name}/logs"
    assert sorted(_ids(world.client.get(url, headers=world.headers("project_admin")))) == sorted(
        entries[k] for k in ("push", "pull", "delete")
    )
    assert _ids(world.client.get(url + "?q=operation%3Dpull", headers=world.headers("admin"))) == [entries["pull"]]
    assert world.client.get(url, headers=world.headers("maintainer")).status_code == 403
    assert world.client.get("/api/v2.0/projects/nope/logs", headers=world.headers("admin")).status_code == 404


def test_auditlog_exts_add_description_and_result(world, entries) -> None:
    response = world.client.get("/api/v2.0/auditlog-exts?q=operation%3Dlogin", headers=world.headers("admin"))
    (entry,) = response.get_json()
    assert entry["operation_result"] is False
    assert entry["operation_description"] == "bad password"
    assert entry["id"] == entries["login"]
    project = world.client.get(f"/api/v2.0/projects/{world.private.name}/auditlog-exts", headers=world.headers("project_admin"))
    assert len(project.get_json()) == 3 and all("operation_result" in e for e in project.get_json())


def test_api_deletes_show_up_with_their_user(world) -> None:
    """An API change is visible in the project's log under the caller's name."""
    from support.content import push_image

    with world.cursor() as cur:
        push_image(cur, world.private, "app", ["v1"])
    url = f"/api/v2.0/projects/{world.private.name}/repositories/app/artifacts/v1/tags"
    assert world.client.post(url, json={"name": "v2"}, headers=world.headers("developer")).status_code == 201
    logs = world.client.get(
        f"/api/v2.0/projects/{world.private.name}/logs?q=resource_type%3Dtag", headers=world.headers("project_admin")
    ).get_json()
    assert logs[0]["username"] == world.people["developer"].username
    assert logs[0]["operation"] == "create" and logs[0]["resource"] == f"{world.private.name}/app:v2"


def _forwarded(cur) -> list[dict]:
    cur.execute("SELECT payload FROM outbox WHERE event_type = 'AUDIT_LOG' ORDER BY event_id")
    return [row[0] for row in cur.fetchall()]


def test_harbor_audit_switches_decide_what_is_stored_and_forwarded(world) -> None:
    entry = {"resource": "library/app:v1", "username": "alice", "project_id": world.private.project_id, "client_ip": "10.1.2.3"}
    with world.cursor() as cur:
        stored_before, forwarded_before = count_rows(cur, "audit_log"), len(_forwarded(cur))
        # Disabled event types (Harbor's names; a push is create_artifact) are not recorded at all.
        config_db.upsert(cur, {"disabled_audit_log_event_types": "create_artifact, pull_artifact"})
        assert audit.record(cur, operation="push", resource_type="artifact", **entry) is None
        assert audit.record(cur, operation="pull", resource_type="artifact", **entry) is None
        assert audit.record(cur, operation="delete", resource_type="artifact", **entry) is not None
        assert count_rows(cur, "audit_log") == stored_before + 1 and len(_forwarded(cur)) == forwarded_before

        # With an endpoint, each record is also queued for the forwarder, in the same transaction.
        config_db.upsert(cur, {"disabled_audit_log_event_types": "", "audit_log_forward_endpoint": "127.0.0.1:1514"})
        assert audit.record(cur, operation="push", resource_type="artifact", **entry) is not None
        payload = _forwarded(cur)[-1]
        assert payload["event_type"] == "create_artifact" and payload["operation"] == "push"
        assert payload["resource"] == "library/app:v1" and payload["username"] == "alice" and payload["client_ip"] == "10.1.2.3"
        assert payload["op_time"].endswith("Z") and payload["success"] is True

        # skip_audit_log_database: forwarded only.
        config_db.upsert(cur, {"skip_audit_log_database": True})
        stored_now = count_rows(cur, "audit_log")
        assert audit.record(cur, operation="login", resource_type="user", resource="alice", username="alice", success=False) is None
        assert count_rows(cur, "audit_log") == stored_now
        assert _forwarded(cur)[-1]["event_type"] == "login_user" and _forwarded(cur)[-1]["success"] is False
        # Our own spelling of an event type disables it too.
        config_db.upsert(cur, {"disabled_audit_log_event_types": "push_artifact"})
        before = len(_forwarded(cur))
        assert audit.record(cur, operation="push", resource_type="artifact", **entry) is None
        assert len(_forwarded(cur)) == before


def test_api_changes_follow_the_switches(world) -> None:
    admin = world.headers("admin")
    response = world.client.put("/api/v2.0/configurations", json={"disabled_audit_log_event_types": "create_user"}, headers=admin)
    assert response.status_code == 200
    with world.cursor() as cur:
        before = count_rows(cur, "audit_log")
    user = {"username": "quiet-user", "password": "Secret123", "email": "q@example.com", "realname": "Q"}
    created = world.client.post("/api/v2.0/users", json=user, headers=admin)
    assert created.status_code == 201, created.get_data(as_text=True)
    with world.cursor() as cur:
        assert count_rows(cur, "audit_log") == before
        cur.execute("SELECT count(*) FROM audit_log WHERE resource = 'quiet-user'")
        assert cur.fetchone()[0] == 0
