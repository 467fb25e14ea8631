"""Robot accounts API: project and system robots, names, secret shown once and hashed, grants
limited to what the creator holds, list/get/update/refresh/delete, and robots on the API."""

from __future__ import annotations

import time

import pytest

from support.content import basic, build_world, count_rows


@pytest.fixture
def world(settings, db):
    return build_world(settings, db)


def project_robot(world, name: str = "ci", access=(("repository", "pull"),), **extra) -> dict:
    return {
        "name": name,
        "level": "project",
        "permissions": [{"kind": "project", "namespace": world.private.name, "access": [{"resource": r, "action": a} for r, a in access]}],
        **extra,
    }


def create(world, body: dict, who: str = "project_admin"):
    return world.client.post("/api/v2.0/robots", json=body, headers=world.headers(who))


def test_create_project_robot_secret_shown_once(world) -> None:
    response = create(world, project_robot(world, description="builds"))
    assert response.status_code == 201, response.get_data(as_text=True)
    created = response.get_json()
    assert set(created) == {"id", "name", "secret", "creation_time", "expires_at"}
    assert created["name"] == f"robot${world.private.name}+ci"
    assert len(created["secret"]) >= 32
    assert response.headers["Location"] == f"/api/v2.0/robots/{created['id']}"
    # Default duration: robot_token_duration (30 days).
    assert abs(created["expires_at"] - (time.time() + 30 * 86400)) < 120
    robot = world.client.get(f"/api/v2.0/robots/{created['id']}", headers=world.headers("project_admin")).get_json()
    assert "secret" not in robot
    assert robot["permissions"] == [
        {"kind": "project", "namespace": world.private.name, "access": [{"resource": "repository", "action": "pull", "effect": "allow"}]}
    ]
    assert (robot["level"], robot["duration"], robot["disable"], robot["description"]) == ("project", 30, False, "builds")
    with world.cursor() as cur:
        cur.execute("SELECT secret_hash FROM robots WHERE id = %s", (created["id"],))
        stored = cur.fetchone()[0]
        assert stored.startswith("$argon2id$") and created["secret"] not in stored
        assert (
            count_rows(cur, "audit_log", "resource_type = 'robot' AND operation = 'create' AND resource = %(n)s", {"n": created["name"]})
            == 1
        )
    # The robot authenticates on the API with its secret.
    me = basic(created["name"], created["secret"])
    listed = world.client.get("/api/v2.0/projects?page_size=100", headers=me)
    assert listed.status_code == 200 and world.private.name in {p["name"] for p in listed.get_json()}
    # It holds exactly its grants: pulling, not reading the project's settings.
    assert world.client.get(f"/api/v2.0/projects/{world.private.project_id}", headers=me).status_code == 403
    assert world.client.get("/api/v2.0/users/current", headers=me).status_code == 412


def test_who_may_create_robots(world) -> None:
    assert create(world, project_robot(world, "a"), who="maintainer").status_code == 403
    assert create(world, project_robot(world, "a"), who="non_member").status_code == 403
    assert create(world, project_robot(world, "a"), who="anonymous").status_code == 401
    system = {
        "name": "sys",
        "level": "system",
        "permissions": [{"kind": "system", "namespace": "/", "access": [{"resource": "catalog", "action": "read"}]}],
    }
    assert create(world, system, who="project_admin").status_code == 403
    assert create(world, system, who="admin").status_code == 201


def test_no_grant_beyond_the_creators_rights(world) -> None:
    """A project admin cannot hand out system rights or rights on a project it does not run."""
    escalate = project_robot(world, "esc", access=(("repository", "pull"),))
    escalate["permissions"].append(
        {"kind": "project", "namespace": world.public.name, "access": [{"resource": "repository", "action": "push"}]}
    )
    assert create(world, escalate).status_code == 400  # a project robot covers one project
    other = {
        "name": "other",
        "level": "project",
        "permissions": [{"kind": "project", "namespace": world.public.name, "access": [{"resource": "repository", "action": "push"}]}],
    }
    assert create(world, other).status_code == 403


@pytest.mark.parametrize(
    "change",
    [
        {"name": "Bad Name"},
        {"name": ""},
        {"level": "galaxy"},
        {"duration": 0},
        {"duration": -2},
        {"duration": "7"},
        {"permissions": []},
        {"permissions": "all"},
        {
            "permissions": [
                {"kind": "project", "namespace": "x", "access": [{"resource": "repository", "action": "pull", "effect": "deny"}]}
            ]
        },
        {"permissions": [{"kind": "project", "namespace": "PRIVATE", "access": [{"resource": "repository", "action": "fly"}]}]},
        {"permissions": [{"kind": "galaxy", "namespace": "PRIVATE", "access": [{"resource": "repository", "action": "pull"}]}]},
        {"secret": "weak"},
        {"disable": "no"},
        {"unknown": 1},
    ],
)
def test_bad_robot_bodies_are_400(world, change: dict) -> None:
    body = project_robot(world, "bad")
    if "permissions" in change and isinstance(change["permissions"], list) and change["permissions"]:
        change = {
            "permissions": [
                {**p, "namespace": world.private.name if p["namespace"] == "PRIVATE" else p["namespace"]} for p in change["permissions"]
            ]
        }
    body.update(change)
    with world.cursor() as cur:
        before = count_rows(cur, "robots")
    response = create(world, body)
    assert response.status_code == 400, response.get_data(as_text=True)
    with world.cursor() as cur:
        assert count_rows(cur, "robots") == before


def test_duplicate_name_is_409_and_unknown_project_404(world) -> None:
    assert create(world, project_robot(world, "dup")).status_code == 201
    assert create(world, project_robot(world, "dup")).status_code == 409
    body = project_robot(world, "x")
    body["permissions"][0]["namespace"] = "no-such-project"
    assert create(world, body, who="admin").status_code == 404


def test_list_robots(world) -> None:
    assert create(world, project_robot(world, "one")).status_code == 201
    assert create(world, project_robot(world, "two")).status_code == 201
    q = f"Level=project,ProjectID={world.private.project_id}"
    listed = world.client.get("/api/v2.0/robots", query_string={"q": q, "sort": "name"}, headers=world.headers("guest"))
    assert listed.status_code == 200
    assert [r["name"] for r in listed.get_json()] == [f"robot${world.private.name}+one", f"robot${world.private.name}+two"]
    assert listed.headers["X-Total-Count"] == "2"
    assert world.client.get("/api/v2.0/robots", query_string={"q": q}, headers=world.headers("limited_guest")).status_code == 403
    assert world.client.get("/api/v2.0/robots", headers=world.headers("project_admin")).status_code == 403
    assert world.client.get("/api/v2.0/robots", headers=world.headers("admin")).status_code == 200
    assert world.client.get("/api/v2.0/robots", query_string={"q": "secret_hash=x"}, headers=world.headers("admin")).status_code == 400


def test_update_refresh_and_delete(world) -> None:
    created = create(world, project_robot(world, "upd", duration=-1)).get_json()
    robot_url = f"/api/v2.0/robots/{created['id']}"
    robot = world.client.get(robot_url, headers=world.headers("project_admin")).get_json()
    assert robot["expires_at"] == -1
    robot.update(description="new", duration=10)
    robot["permissions"][0]["access"].append({"resource": "repository", "action": "push", "effect": "allow"})
    assert world.client.put(robot_url, json=robot, headers=world.headers("maintainer")).status_code == 403
    assert world.client.put(robot_url, json=robot, headers=world.headers("project_admin")).status_code == 200
    updated = world.client.get(robot_url, headers=world.headers("project_admin")).get_json()
    assert updated["description"] == "new" and updated["duration"] == 10
    assert {a["action"] for a in updated["permissions"][0]["access"]} == {"pull", "push"}
    assert updated["expires_at"] > time.time() + 9 * 86400
    assert world.client.put(robot_url, json={**robot, "level": "system"}, headers=world.headers("project_admin")).status_code == 400

    old = basic(created["name"], created["secret"])
    refreshed = world.client.patch(robot_url, json={}, headers=world.headers("project_admin"))
    assert refreshed.status_code == 200
    new_secret = refreshed.get_json()["secret"]
    assert world.client.get("/api/v2.0/projects", headers=old).status_code == 401
    assert world.client.get("/api/v2.0/projects", headers=basic(created["name"], new_secret)).status_code == 200
    # A robot may refresh its own secret; a chosen secret must satisfy the policy.
    mine = basic(created["name"], new_secret)
    assert world.client.patch(robot_url, json={"secret": "weak"}, headers=mine).status_code == 400
    assert world.client.patch(robot_url, json={"secret": "Chosen12345"}, headers=mine).status_code == 200
    assert world.client.get("/api/v2.0/projects", headers=basic(created["name"], "Chosen12345")).status_code == 200

    assert world.client.delete(robot_url, headers=world.headers("guest")).status_code == 403
    assert world.client.delete(robot_url, headers=world.headers("project_admin")).status_code == 200
    assert world.client.get(robot_url, headers=world.headers("admin")).status_code == 404
    assert world.client.get("/api/v2.0/projects", headers=basic(created["name"], "Chosen12345")).status_code == 401


def test_robot_permissions_apply_on_the_api(world) -> None:
    """A robot with member:list sees members; one without it does not."""
    lister = create(world, project_robot(world, "lister", access=(("member", "list"),))).get_json()
    puller = create(world, project_robot(world, "puller")).get_json()
    members = f"/api/v2.0/projects/{world.private.project_id}/members"
    assert world.client.get(members, headers=basic(lister["name"], lister["secret"])).status_code == 200
    assert world.client.get(members, headers=basic(puller["name"], puller["secret"])).status_code == 403


def test_project_deletion_removes_its_robots(world) -> None:
    created = world.client.post("/api/v2.0/projects", json={"project_name": "robotsgone"}, headers=world.headers("developer"))
    project_id = int(created.headers["Location"].rsplit("/", 1)[1])
    body = {
        "name": "temp",
        "level": "project",
        "permissions": [{"kind": "project", "namespace": "robotsgone", "access": [{"resource": "repository", "action": "pull"}]}],
    }
    robot = create(world, body, who="developer").get_json()
    assert world.client.delete(f"/api/v2.0/projects/{project_id}", headers=world.headers("developer")).status_code == 200
    assert world.client.get(f"/api/v2.0/robots/{robot['id']}", headers=world.headers("admin")).status_code == 404
