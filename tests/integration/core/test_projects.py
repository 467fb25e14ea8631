"""Projects API: create rules, Harbor paging and q/sort, HEAD, get by id or name, update,
delete (refused while repositories exist), _deletable, summary, metadata and quotas."""

from __future__ import annotations

import pytest

from berth_core.db import configurations as config_db
from berth_core.db import projects as projects_db
from support.content import build_world, count_rows, push_image, unique


@pytest.fixture
def world(settings, db):
    return build_world(settings, db)


def create(world, body: dict, who: str = "developer", headers: dict | None = None):
    return world.client.post("/api/v2.0/projects", json=body, headers={**world.headers(who), **(headers or {})})


def new_project(world, who: str = "developer", **body) -> tuple[int, str]:
    name = unique("p")
    response = create(world, {"project_name": name, **body}, who=who)
    assert response.status_code == 201, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[1]), name


def get(world, ref, who: str = "developer", **headers):
    return world.client.get(f"/api/v2.0/projects/{ref}", headers={**world.headers(who), **headers})


def test_create_private_project_by_default_and_creator_is_project_admin(world) -> None:
    project_id, name = new_project(world)
    body = get(world, project_id).get_json()
    assert body["name"] == name and body["metadata"]["public"] == "false"
    assert body["owner_name"] == world.people["developer"].username
    assert body["current_user_role_id"] == 1 and body["current_user_role_ids"] == [1]
    assert body["repo_count"] == 0 and body["togglable"] is True
    assert body["creation_time"].endswith("Z")
    assert get(world, project_id, who="guest").status_code == 403
    assert get(world, project_id, who="anonymous").status_code == 401
    with world.cursor() as cur:
        assert count_rows(cur, "audit_log", "operation = 'create' AND resource_type = 'project' AND resource = %(n)s", {"n": name}) == 1
        cur.execute("SELECT hard_storage, used_storage FROM quotas WHERE project_id = %s", (project_id,))
        assert cur.fetchone() == (-1, 0)


def test_create_public_with_metadata_or_deprecated_flag(world) -> None:
    first, _ = new_project(world, metadata={"public": "true", "auto_scan": "true"})
    second, _ = new_project(world, public=True)
    for project_id in (first, second):
        assert get(world, project_id, who="anonymous").get_json()["metadata"]["public"] == "true"


def test_storage_limit_only_from_admins(world) -> None:
    mine, _ = new_project(world, storage_limit=1000)
    theirs, _ = new_project(world, who="admin", storage_limit=1000)
    with world.cursor() as cur:
        config_db.upsert(cur, {"storage_per_project": 5000})
    defaulted, _ = new_project(world)
    with world.cursor() as cur:
        cur.execute("SELECT project_id, hard_storage FROM quotas WHERE project_id = ANY(%s)", ([mine, theirs, defaulted],))
        assert dict(cur.fetchall()) == {mine: -1, theirs: 1000, defaulted: 5000}


def test_creation_restriction_adminonly(world) -> None:
    with world.cursor() as cur:
        config_db.upsert(cur, {"project_creation_restriction": "adminonly"})
    assert create(world, {"project_name": unique("r")}).status_code == 403
    assert create(world, {"project_name": unique("r")}, who="anonymous").status_code == 401
    assert create(world, {"project_name": unique("r")}, who="admin").status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        {"project_name": "Upper"},
        {"project_name": "a b"},
        {"project_name": "-lead"},
        {"project_name": "x" * 256},
        {"project_name": ""},
        {"project_name": 12},
        {},
        {"project_name": "okname", "metadata": {"public": "maybe"}},
        {"project_name": "okname", "metadata": {"unknown_key": "1"}},
        {"project_name": "okname", "metadata": "public"},
        {"project_name": "okname", "storage_limit": 0},
        {"project_name": "okname", "storage_limit": -5},
        {"project_name": "okname", "storage_limit": "10"},
        {"project_name": "okname", "registry_id": 3},
        {"project_name": "okname", "public": "yes"},
        {"project_name": "okname", "owner_id": 1},
    ],
)
def test_bad_create_bodies_are_400_and_write_nothing(world, body: dict) -> None:
    with world.cursor() as cur:
        before = count_rows(cur, "projects")
    response = create(world, body, who="admin")
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["errors"][0]["code"] == "BAD_REQUEST"
    with world.cursor() as cur:
        assert count_rows(cur, "projects") == before


def test_duplicate_name_is_409(world) -> None:
    _, name = new_project(world)
    response = create(world, {"project_name": name})
    assert response.status_code == 409 and response.get_json()["errors"][0]["code"] == "CONFLICT"


def test_location_by_name(world) -> None:
    name = unique("loc")
    response = create(world, {"project_name": name}, headers={"X-Resource-Name-In-Location": "true"})
    assert response.headers["Location"] == f"/api/v2.0/projects/{name}"


def test_head_project(world) -> None:
    _, name = new_project(world)
    assert world.client.head(f"/api/v2.0/projects?project_name={name}", headers=world.headers("guest")).status_code == 200
    assert world.client.head("/api/v2.0/projects?project_name=nope-none", headers=world.headers("guest")).status_code == 404
    assert world.client.head("/api/v2.0/projects", headers=world.headers("guest")).status_code == 400
    assert world.client.head(f"/api/v2.0/projects?project_name={name}").status_code == 401


def test_get_by_name_id_and_header(world) -> None:
    name = unique("byname")
    assert create(world, {"project_name": name}).status_code == 201
    by_name = get(world, name)
    assert by_name.status_code == 200
    project_id = by_name.get_json()["project_id"]
    assert get(world, project_id).get_json()["name"] == name
    # A name made only of digits reads as an id unless X-Is-Resource-Name says otherwise.
    numeric = str(7_000_000_000 + project_id)
    assert create(world, {"project_name": numeric}).status_code == 201
    assert get(world, numeric).status_code == 404
    assert get(world, numeric, **{"X-Is-Resource-Name": "true"}).get_json()["name"] == numeric
    assert get(world, "no-such-project").status_code == 404
    assert get(world, "99999999999999").status_code == 404


def test_list_visibility_paging_and_link(world) -> None:
    prefix = unique("page")
    names = [f"{prefix}-{i}" for i in range(5)]
    for name in names:
        assert create(world, {"project_name": name}).status_code == 201
    hidden = f"{prefix}-hidden"
    assert create(world, {"project_name": hidden}, who="admin").status_code == 201
    url = f"/api/v2.0/projects?q=name%3D~{prefix}&sort=-name&page_size=2"
    first = world.client.get(url + "&page=1", headers=world.headers("developer"))
    assert first.status_code == 200
    assert [p["name"] for p in first.get_json()] == names[::-1][:2]
    assert first.headers["X-Total-Count"] == "5"
    assert 'rel="next"' in first.headers["Link"] and 'rel="prev"' not in first.headers["Link"]
    assert "page=2" in first.headers["Link"] and "page_size=2" in first.headers["Link"]
    last = world.client.get(url + "&page=3", headers=world.headers("developer"))
    assert [p["name"] for p in last.get_json()] == [names[0]]
    assert 'rel="prev"' in last.headers["Link"] and 'rel="next"' not in last.headers["Link"]
    admin = world.client.get(url + "&page_size=10", headers=world.headers("admin"))
    assert admin.headers["X-Total-Count"] == "6"
    assert world.client.get(url, headers=world.headers("guest")).headers["X-Total-Count"] == "0"


def test_list_filters(world) -> None:
    prefix = unique("flt")
    create(world, {"project_name": f"{prefix}-pub", "metadata": {"public": "true"}})
    create(world, {"project_name": f"{prefix}-priv"})
    public = world.client.get(f"/api/v2.0/projects?name={prefix}&public=true", headers=world.headers("developer")).get_json()
    assert [p["name"] for p in public] == [f"{prefix}-pub"]
    anonymous = world.client.get(f"/api/v2.0/projects?name={prefix}").get_json()
    assert [p["name"] for p in anonymous] == [f"{prefix}-pub"]
    owner = world.people["developer"].username
    mine = world.client.get(f"/api/v2.0/projects?name={prefix}&owner={owner}", headers=world.headers("admin")).get_json()
    assert sorted(p["name"] for p in mine) == [f"{prefix}-priv", f"{prefix}-pub"]
    by_q = world.client.get(f"/api/v2.0/projects?q=name%3D{{{prefix}-pub {prefix}-priv}},public%3Dfalse", headers=world.headers("admin"))
    assert [p["name"] for p in by_q.get_json()] == [f"{prefix}-priv"]


@pytest.mark.parametrize(
    "query",
    [
        "q=owner_id%3D1",
        "q=name%3D~a%27%3B%20DROP%20TABLE%20projects%3B--",
        "q=project_id%3D1%20OR%201%3D1",
        "q=name%3D(a",
        "q=creation_time%3D[2020-13-01~]",
        "q=public%3Dmaybe",
        "sort=name%3BDROP%20TABLE%20projects",
        "sort=password",
        "page=0",
        "page=abc",
        "page_size=101",
        "page_size=-1",
        "public=notabool",
    ],
)
def test_list_rejects_bad_parameters(world, query: str) -> None:
    response = world.client.get(f"/api/v2.0/projects?{query}", headers=world.headers("admin"))
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["errors"][0]["code"] == "BAD_REQUEST"
    with world.cursor() as cur:
        assert count_rows(cur, "projects") > 0


def test_injection_in_a_quoted_value_is_just_a_string(world) -> None:
    q = "name=~\"x' OR '1'='1\",owner=~\"%';--\""
    response = world.client.get("/api/v2.0/projects", query_string={"q": q}, headers=world.headers("admin"))
    assert response.status_code == 200 and response.get_json() == []


def test_update_metadata_needs_project_admin(world) -> None:
    project_id, _ = new_project(world)
    url = f"/api/v2.0/projects/{project_id}"
    body = {"metadata": {"public": "true", "severity": "high"}}
    assert world.client.put(url, json=body, headers=world.headers("guest")).status_code == 403
    assert world.client.put(url, json=body, headers=world.headers("developer")).status_code == 200
    assert get(world, project_id, who="anonymous").get_json()["metadata"] == {"public": "true", "severity": "high"}
    assert world.client.put(url, json={"project_name": "renamed"}, headers=world.headers("developer")).status_code == 400
    assert world.client.put(url, json={"storage_limit": 100}, headers=world.headers("developer")).status_code == 403
    assert world.client.put(url, json={"storage_limit": 100}, headers=world.headers("admin")).status_code == 200
    with world.cursor() as cur:
        cur.execute("SELECT hard_storage FROM quotas WHERE project_id = %s", (project_id,))
        assert cur.fetchone()[0] == 100


def test_delete_refused_while_repositories_exist(world) -> None:
    project_id, name = new_project(world)
    with world.cursor() as cur:
        project = projects_db.get_project(cur, project_id)
        push_image(cur, project, "app", ["v1"])
    deletable = world.client.get(f"/api/v2.0/projects/{project_id}/_deletable", headers=world.headers("developer")).get_json()
    assert deletable["deletable"] is False and "repositories" in deletable["message"]
    refused = world.client.delete(f"/api/v2.0/projects/{project_id}", headers=world.headers("developer"))
    assert refused.status_code == 412 and refused.get_json()["errors"][0]["code"] == "PRECONDITION"
    with world.cursor() as cur:
        cur.execute("DELETE FROM repositories WHERE project_id = %s", (project_id,))
    assert world.client.get(f"/api/v2.0/projects/{project_id}/_deletable", headers=world.headers("developer")).get_json() == {
        "deletable": True,
        "message": "",
    }
    assert world.client.delete(f"/api/v2.0/projects/{project_id}", headers=world.headers("guest")).status_code == 403
    assert world.client.delete(f"/api/v2.0/projects/{project_id}", headers=world.headers("developer")).status_code == 200
    assert get(world, project_id, who="admin").status_code == 404
    with world.cursor() as cur:
        assert count_rows(cur, "quotas", "project_id = %(p)s", {"p": project_id}) == 0
        assert count_rows(cur, "project_members", "project_id = %(p)s", {"p": project_id}) == 0
        assert count_rows(cur, "audit_log", "operation = 'delete' AND resource = %(n)s", {"n": name}) == 1


def test_summary(world) -> None:
    with world.cursor() as cur:
        push_image(cur, world.private, "a", ["v1"])
    summary = world.client.get(f"/api/v2.0/projects/{world.private.project_id}/summary", headers=world.headers("guest")).get_json()
    assert summary["repo_count"] == 1
    assert (summary["project_admin_count"], summary["maintainer_count"], summary["developer_count"]) == (1, 1, 1)
    assert (summary["guest_count"], summary["limited_guest_count"]) == (1, 1)
    assert summary["quota"]["hard"] == {"storage": -1} and summary["quota"]["used"]["storage"] > 0
    limited = world.client.get(f"/api/v2.0/projects/{world.private.project_id}/summary", headers=world.headers("limited_guest")).get_json()
    assert "guest_count" not in limited and "quota" in limited
    assert (
        world.client.get(f"/api/v2.0/projects/{world.private.project_id}/summary", headers=world.headers("non_member")).status_code == 403
    )


def test_metadata_endpoints(world) -> None:
    base = f"/api/v2.0/projects/{world.private.project_id}/metadatas/"
    admin = world.headers("project_admin")
    assert world.client.get(base, headers=world.headers("maintainer")).get_json() == {"public": "false"}
    assert world.client.get(base, headers=world.headers("developer")).status_code == 403
    assert world.client.post(base, json={"auto_scan": "true"}, headers=world.headers("maintainer")).status_code == 403
    assert world.client.post(base, json={"auto_scan": "true"}, headers=admin).status_code == 200
    assert world.client.post(base, json={"auto_scan": "false"}, headers=admin).status_code == 409
    assert world.client.post(base, json={"nonsense": "1"}, headers=admin).status_code == 400
    assert world.client.get(base + "auto_scan", headers=admin).get_json() == {"auto_scan": "true"}
    assert world.client.put(base + "auto_scan", json={"auto_scan": "false"}, headers=admin).status_code == 200
    assert world.client.put(base + "auto_scan", json={"severity": "low"}, headers=admin).status_code == 400
    assert world.client.get(base + "auto_scan", headers=admin).get_json() == {"auto_scan": "false"}
    assert world.client.delete(base + "auto_scan", headers=admin).status_code == 200
    assert world.client.get(base + "auto_scan", headers=admin).status_code == 404
    assert world.client.delete(base + "auto_scan", headers=admin).status_code == 404
    assert world.client.get(base + "bogus", headers=admin).status_code == 400


def test_quotas_api(world) -> None:
    pid = world.private.project_id
    listed = world.client.get(f"/api/v2.0/quotas?reference=project&reference_id={pid}", headers=world.headers("guest"))
    assert listed.status_code == 200
    (quota,) = listed.get_json()
    assert quota["id"] == pid and quota["ref"]["name"] == world.private.name
    assert quota["hard"] == {"storage": -1} and quota["used"] == {"storage": 0}
    assert world.client.get("/api/v2.0/quotas", headers=world.headers("guest")).status_code == 403
    assert world.client.get("/api/v2.0/quotas?sort=-used.storage&page_size=5", headers=world.headers("admin")).status_code == 200
    assert world.client.get(f"/api/v2.0/quotas/{pid}", headers=world.headers("limited_guest")).status_code == 200
    assert world.client.get(f"/api/v2.0/quotas/{pid}", headers=world.headers("non_member")).status_code == 403
    url = f"/api/v2.0/quotas/{pid}"
    assert world.client.put(url, json={"hard": {"storage": 2048}}, headers=world.headers("project_admin")).status_code == 403
    assert world.client.put(url, json={"hard": {"storage": 0}}, headers=world.headers("admin")).status_code == 400
    assert world.client.put(url, json={"hard": {"count": 1}}, headers=world.headers("admin")).status_code == 400
    assert world.client.put(url, json={"hard": {"storage": "1"}}, headers=world.headers("admin")).status_code == 400
    assert world.client.put(url, json={"hard": {"storage": 2048}}, headers=world.headers("admin")).status_code == 200
    assert world.client.get(url, headers=world.headers("guest")).get_json()["hard"] == {"storage": 2048}
    assert world.client.get("/api/v2.0/quotas/999999", headers=world.headers("admin")).status_code == 404
