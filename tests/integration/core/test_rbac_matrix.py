"""Every cell of Harbor's permission matrix (harbor-features.md §2), for every role, checked
three ways: the permission list the API reports, the API endpoints that exist for a resource,
and the actions the token service grants on repositories. Public-project rules included.

The expected matrix below is a literal copy of the reference table, parsed here, so the test
does not trust the implementation's own table.
"""

from __future__ import annotations

from collections.abc import Callable

import jwt
import pytest

from berth_core.db import members as members_db
from support.content import build_world, make_user, unique

# resource | Project Admin | Maintainer | Developer | Guest | Limited Guest
REFERENCE_TABLE = """
| project itself | R U D | R | R | R | R |
| member | C R U D L | R L | R L | R L | - |
| metadata (project settings) | C R U D | R | - | - | - |
| log (project audit log) | L | - | - | - | - |
| label (project labels) | C R U D L | C R U D L | R L | R L | - |
| quota | R | R | R | R | R |
| repository | C R U D L pull push | C R U D L pull push | C R U L pull push | R L pull | R L pull |
| tag-retention | C R U D L op | C R U D L op | C R U D L op | - | - |
| immutable-tag | C U D L | C U D L | - | - | - |
| configuration (portal view) | R U | R | R | R | R |
| robot (project robots) | C R U D L | R L | R L | R L | - |
| notification-policy (webhooks) | C R U D L | R L | - | - | - |
| scan / sbom | C R stop | C R stop | R | R | R |
| scanner (project scanner) | C R | R | R | R | R |
| artifact | C R D L | C R D L | C R L | R L | R L |
| artifact-addition | R | R | R | R | R |
| tag | C D L | C D L | C L | L | L |
| accessory | L | L | L | L | L |
| artifact-label | C D | C D | C D | - | - |
| preheat-policy | C R U D L | - | - | - | - |
| export-cve | C R L | C R L | C R L | - | - |
"""
ROLES = ("project_admin", "maintainer", "developer", "guest", "limited_guest")
WORDS = {"C": "create", "R": "read", "U": "update", "D": "delete", "L": "list", "op": "operate"}
# What anyone may do in a public project (Harbor's public-project policy set).
PUBLIC = {
    ("project", "read"), ("label", "read"), ("label", "list"), ("repository", "list"), ("repository", "pull"),
    ("scan", "read"), ("scanner", "read"), ("tag", "list"), ("accessory", "list"), ("artifact", "read"),
    ("artifact", "list"), ("artifact-addition", "read"),
}  # fmt: skip


def _resources(label: str) -> list[str]:
    name = label.split(" (")[0].strip()
    return {"project itself": ["project"], "scan / sbom": ["scan", "sbom"]}.get(name, [name])


def _parse() -> dict[str, set[tuple[str, str]]]:
    matrix: dict[str, set[tuple[str, str]]] = {role: set() for role in ROLES}
    for line in REFERENCE_TABLE.strip().splitlines():
        label, *cells = [cell.strip() for cell in line.strip("|").split("|")]
        for role, cell in zip(ROLES, cells, strict=True):
            for resource in _resources(label):
                for word in cell.split():
                    if word != "-":
                        matrix[role].add((resource, WORDS.get(word, word)))
    return matrix


EXPECTED = _parse()
EVERY_PAIR = sorted(set().union(*EXPECTED.values()))
RESOURCES = sorted({resource for resource, _ in EVERY_PAIR})
PRINCIPALS = ("admin", *ROLES, "non_member", "anonymous")


def expected_for(who: str, public: bool) -> set[tuple[str, str]]:
    if who == "admin":
        return set(EVERY_PAIR)
    own = EXPECTED.get(who, set())
    return own | (PUBLIC if public else set())


@pytest.fixture
def world(settings, db):
    """The content tests' world; the five roles are also members of the public project, so
    the public-project rules are checked on top of a role, and alone for outsiders."""
    world = build_world(settings, db)
    with world.cursor() as cur:
        for role, role_id in zip(ROLES, (1, 4, 2, 3, 5), strict=True):
            members_db.add_member(cur, world.public.project_id, world.people[role].user_id, "u", role_id)
    return world


def test_reference_table_parsed_completely() -> None:
    assert len(RESOURCES) == 22
    assert ("repository", "push") in EXPECTED["developer"] and ("repository", "delete") not in EXPECTED["developer"]
    assert ("member", "list") not in EXPECTED["limited_guest"]


# --- 1. the permission list, every cell --------------------------------------------------------


@pytest.mark.parametrize("who", PRINCIPALS)
@pytest.mark.parametrize("visibility", ["private", "public"])
def test_permission_cells(world, who: str, visibility: str) -> None:
    """Each (resource, action) cell for this principal: granted exactly when the table says."""
    project = world.private if visibility == "private" else world.public
    response = world.client.get(
        f"/api/v2.0/users/current/permissions?scope=/project/{project.project_id}&relative=true", headers=world.headers(who)
    )
    if who == "anonymous":
        assert response.status_code == 401
        return
    assert response.status_code == 200
    granted = {(p["resource"], p["action"]) for p in response.get_json()}
    want = expected_for(who, visibility == "public")
    wrong = {cell: (cell in granted) for cell in EVERY_PAIR if (cell in granted) != (cell in want)}
    assert not wrong, f"cells granted wrongly (True) or missing (False): {wrong}"
    assert granted <= set(EVERY_PAIR)


def test_permissions_absolute_and_system_scope(world) -> None:
    project_id = world.private.project_id
    body = world.client.get(f"/api/v2.0/users/current/permissions?scope=/project/{project_id}", headers=world.headers("guest")).get_json()
    assert {"resource": f"/project/{project_id}/repository", "action": "pull"} in body
    system = world.client.get("/api/v2.0/users/current/permissions?scope=/system&relative=true", headers=world.headers("admin")).get_json()
    assert {"resource": "user", "action": "create"} in system and {"resource": "catalog", "action": "read"} in system
    for who in ROLES:
        assert world.client.get("/api/v2.0/users/current/permissions?scope=/system", headers=world.headers(who)).get_json() == []
    assert world.client.get("/api/v2.0/users/current/permissions?scope=/nowhere", headers=world.headers("guest")).status_code == 400


# --- 2. the endpoints that exist, every role -------------------------------------------------------


def _api_cases(world) -> list[tuple[tuple[str, str], Callable]]:
    """(permission, request) for every implemented project-level endpoint. Each request gets
    fresh objects made by the admin, so cases do not depend on each other's outcome."""
    pid = world.private.project_id
    base = f"/api/v2.0/projects/{pid}"
    admin = world.headers("admin")

    def fresh_user():
        with world.cursor() as cur:
            return make_user(cur, world.hasher)

    def member_body() -> dict:
        return {"role_id": 3, "member_user": {"user_id": fresh_user().user_id}}

    def fresh_member() -> int:
        response = world.client.post(f"{base}/members", json=member_body(), headers=admin)
        return int(response.headers["Location"].rsplit("/", 1)[1])

    def fresh_robot() -> int:
        return world.client.post("/api/v2.0/robots", json=robot_body(), headers=admin).get_json()["id"]

    def robot_body(name: str | None = None) -> dict:
        return {
            "name": name or unique("r"),
            "level": "project",
            "permissions": [{"kind": "project", "namespace": world.private.name, "access": [{"resource": "repository", "action": "pull"}]}],
        }

    def update_robot(headers):
        robot_id = fresh_robot()
        body = world.client.get(f"/api/v2.0/robots/{robot_id}", headers=admin).get_json()
        return world.client.put(f"/api/v2.0/robots/{robot_id}", json={**body, "description": "changed"}, headers=headers)

    def with_meta(name: str) -> str:
        world.client.post(f"{base}/metadatas/", json={name: "true"}, headers=admin)
        return name

    robot_q = {"q": f"Level=project,ProjectID={pid}"}
    return [
        (("project", "read"), lambda h: world.client.get(base, headers=h)),
        (("project", "update"), lambda h: world.client.put(base, json={"metadata": {"auto_scan": "true"}}, headers=h)),
        (("project", "delete"), lambda h: world.client.get(f"{base}/_deletable", headers=h)),
        (("project", "read"), lambda h: world.client.get(f"{base}/summary", headers=h)),
        (("member", "list"), lambda h: world.client.get(f"{base}/members", headers=h)),
        (("member", "read"), lambda h: world.client.get(f"{base}/members/{fresh_member()}", headers=h)),
        (("member", "create"), lambda h: world.client.post(f"{base}/members", json=member_body(), headers=h)),
        (("member", "update"), lambda h: world.client.put(f"{base}/members/{fresh_member()}", json={"role_id": 2}, headers=h)),
        (("member", "delete"), lambda h: world.client.delete(f"{base}/members/{fresh_member()}", headers=h)),
        (("metadata", "read"), lambda h: world.client.get(f"{base}/metadatas/", headers=h)),
        (("metadata", "create"), lambda h: world.client.post(f"{base}/metadatas/", json={"prevent_vul": "true"}, headers=h)),
        (("metadata", "update"), lambda h: world.client.put(f"{base}/metadatas/public", json={"public": "false"}, headers=h)),
        (("metadata", "delete"), lambda h: world.client.delete(f"{base}/metadatas/{with_meta('reuse_sys_cve_allowlist')}", headers=h)),
        (("quota", "read"), lambda h: world.client.get(f"/api/v2.0/quotas/{pid}", headers=h)),
        (("robot", "list"), lambda h: world.client.get("/api/v2.0/robots", query_string=robot_q, headers=h)),
        (("robot", "read"), lambda h: world.client.get(f"/api/v2.0/robots/{fresh_robot()}", headers=h)),
        (("robot", "create"), lambda h: world.client.post("/api/v2.0/robots", json=robot_body(), headers=h)),
        (("robot", "update"), update_robot),
        (("robot", "update"), lambda h: world.client.patch(f"/api/v2.0/robots/{fresh_robot()}", json={}, headers=h)),
        (("robot", "delete"), lambda h: world.client.delete(f"/api/v2.0/robots/{fresh_robot()}", headers=h)),
    ]  # fmt: skip


@pytest.mark.parametrize("who", PRINCIPALS)
def test_api_endpoints_follow_the_matrix(world, who: str) -> None:
    allowed = expected_for(who, public=False)
    failures = []
    for permission, call in _api_cases(world):
        response = call(world.headers(who))
        denied = 401 if who == "anonymous" else 403
        ok = response.status_code < 300 if permission in allowed else response.status_code == denied
        if not ok:
            failures.append((permission, response.status_code, response.get_data(as_text=True)[:200]))
    assert not failures


# --- 3. registry tokens, every role, private and public -----------------------------------------------


TOKEN_ACTIONS = {"pull": ("repository", "pull"), "push": ("repository", "push"), "delete": ("repository", "delete")}


@pytest.mark.parametrize("who", PRINCIPALS)
@pytest.mark.parametrize("visibility", ["private", "public"])
def test_token_scopes_follow_the_matrix(world, who: str, visibility: str) -> None:
    project = world.private if visibility == "private" else world.public
    scope = f"repository:{project.name}/some/repo:pull,push,delete,*"
    response = world.client.get("/service/token", query_string={"service": "berth-registry", "scope": scope}, headers=world.headers(who))
    assert response.status_code == 200
    actions = jwt.decode(response.get_json()["token"], options={"verify_signature": False})["access"][0]["actions"]
    allowed = expected_for(who, visibility == "public")
    want = [action for action, pair in TOKEN_ACTIONS.items() if pair in allowed]
    if len(want) == 3:
        want.append("*")
    assert actions == want
