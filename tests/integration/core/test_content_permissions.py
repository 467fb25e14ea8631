"""Every content endpoint × every role, through the HTTP API with Basic credentials.

Expected outcomes follow Harbor's matrix (harbor-features.md §2): a write refused by the matrix
answers 403 (401 for anonymous callers) and changes nothing.
"""

from __future__ import annotations

import pytest

from support.content import ROLES, basic, count_rows, make_project, push_accessory, push_image

ALL = set(ROLES) - {"non_member", "anonymous"}
WRITERS = {"admin", "project_admin", "maintainer", "developer"}  # create/update
DELETERS = {"admin", "project_admin", "maintainer"}


def _case(world, action: str):
    """(method, path, kwargs) for ``action`` against content in the private project."""
    p = world.private.name
    base = f"/api/v2.0/projects/{p}/repositories/app%252Fweb"
    return {
        "list_repositories": ("GET", f"/api/v2.0/projects/{p}/repositories", {}),
        "get_repository": ("GET", base, {}),
        "update_repository": ("PUT", base, {"json": {"description": "new"}}),
        "delete_repository": ("DELETE", base, {}),
        "list_artifacts": ("GET", f"{base}/artifacts", {}),
        "list_project_artifacts": ("GET", f"/api/v2.0/projects/{p}/artifacts", {}),
        "get_artifact": ("GET", f"{base}/artifacts/v1", {}),
        "delete_artifact": ("DELETE", f"{base}/artifacts/v1", {}),
        "copy_artifact": ("POST", f"{base}/artifacts?from={p}/app/web:v1", {}),
        "list_tags": ("GET", f"{base}/artifacts/v1/tags", {}),
        "create_tag": ("POST", f"{base}/artifacts/v1/tags", {"json": {"name": "v2"}}),
        "delete_tag": ("DELETE", f"{base}/artifacts/v1/tags/v1", {}),
        "list_accessories": ("GET", f"{base}/artifacts/v1/accessories", {}),
        "project_logs": ("GET", f"/api/v2.0/projects/{p}/logs", {}),
    }[action]


ALLOWED = {
    "list_repositories": ALL,
    "get_repository": ALL,
    "update_repository": WRITERS,
    "delete_repository": DELETERS,
    "list_artifacts": ALL,
    "list_project_artifacts": ALL,
    "get_artifact": ALL,
    "delete_artifact": DELETERS,
    "copy_artifact": WRITERS,
    "list_tags": ALL,
    "create_tag": WRITERS,
    "delete_tag": DELETERS,
    "list_accessories": ALL,
    "project_logs": {"admin", "project_admin"},
}
SUCCESS = {"GET": 200, "PUT": 200, "DELETE": 200, "POST": 201}


def _state(world) -> tuple:
    with world.cursor() as cur:
        return (
            count_rows(cur, "repositories"),
            count_rows(cur, "artifacts"),
            count_rows(cur, "tags"),
            count_rows(cur, "outbox"),
            count_rows(cur, "audit_log"),
            count_rows(cur, "repositories", "description = 'new'"),
        )


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", sorted(ALLOWED))
def test_private_project_matrix(world, action: str, role: str) -> None:
    with world.cursor() as cur:
        image = push_image(cur, world.private, "app/web", ["v1"])
        push_accessory(cur, world.private, "app/web", image)
    method, path, kwargs = _case(world, action)
    before = _state(world)
    response = world.client.open(path, method=method, headers=world.headers(role), **kwargs)
    if role in ALLOWED[action]:
        assert response.status_code == SUCCESS[method], response.get_data(as_text=True)
    else:
        expected = 401 if role == "anonymous" else 403
        assert response.status_code == expected, response.get_data(as_text=True)
        body = response.get_json()
        assert body["errors"][0]["code"] == ("UNAUTHORIZED" if expected == 401 else "FORBIDDEN")
        assert _state(world) == before, "a refused request changed something"


PUBLIC_READS = (
    "list_repositories",
    "get_repository",
    "list_artifacts",
    "list_project_artifacts",
    "get_artifact",
    "list_tags",
    "list_accessories",
)


@pytest.mark.parametrize("role", ["non_member", "anonymous"])
@pytest.mark.parametrize("action", sorted(ALLOWED))
def test_public_project_outsiders(world, action: str, role: str) -> None:
    """Anyone may read a public project's content; nobody outside it may change anything."""
    with world.cursor() as cur:
        image = push_image(cur, world.public, "app/web", ["v1"])
        push_accessory(cur, world.public, "app/web", image)
    method, path, kwargs = _case(world, action)
    path = path.replace(world.private.name, world.public.name)
    before = _state(world)
    response = world.client.open(path, method=method, headers=world.headers(role), **kwargs)
    if action in PUBLIC_READS:
        assert response.status_code == 200, response.get_data(as_text=True)
    else:
        assert response.status_code == (401 if role == "anonymous" else 403)
        assert _state(world) == before


def test_copy_needs_read_access_to_the_source(world) -> None:
    """A developer of the target project cannot copy out of a private project they cannot see."""
    with world.cursor() as cur:
        push_image(cur, world.public, "src/img", ["v1"])
        hidden = make_project(cur, world.people["admin"])
        push_image(cur, hidden, "secret", ["v1"])
    target = f"/api/v2.0/projects/{world.private.name}/repositories/copy/artifacts"
    denied = world.client.post(f"{target}?from={hidden.name}/secret:v1", headers=world.headers("developer"))
    assert denied.status_code == 403
    allowed = world.client.post(f"{target}?from={world.public.name}/src/img:v1", headers=world.headers("developer"))
    assert allowed.status_code == 201, allowed.get_data(as_text=True)


def test_robot_accounts_do_exactly_what_they_were_granted(world) -> None:
    """A project robot acts on content only through its explicit grants (Harbor's robot v2)."""
    from berth_core.db import robots as robots_db
    from berth_core.db.robots import Grant

    with world.cursor() as cur:
        push_image(cur, world.private, "app", ["v1", "v2"])
        hidden = make_project(cur, world.people["admin"])
        push_image(cur, hidden, "app", ["v1"])
        name = f"{world.private.name}+ci"
        robot_id = robots_db.insert_robot(
            cur,
            name=name,
            description="",
            level="project",
            project_id=world.private.project_id,
            secret_hash=world.hasher.hash("Robot-secret-1"),
            duration=-1,
            expires_at=-1,
            disabled=False,
            creator_type="local",
            creator_ref=world.people["admin"].user_id,
        )
        grants = [("artifact", "list"), ("artifact", "read"), ("tag", "delete"), ("repository", "pull")]
        robots_db.replace_grants(
            cur, robot_id, [Grant("project", world.private.name, world.private.project_id, res, act) for res, act in grants]
        )
    robot = basic(f"robot${name}", "Robot-secret-1")
    base = f"/api/v2.0/projects/{world.private.name}/repositories/app/artifacts"
    assert world.client.get(base, headers=robot).status_code == 200
    assert world.client.delete(f"{base}/v1/tags/v2", headers=robot).status_code == 200
    assert world.client.delete(f"{base}/v1", headers=robot).status_code == 403  # no artifact delete grant
    assert world.client.post(f"{base}/v1/tags", json={"name": "x"}, headers=robot).status_code == 403
    other = f"/api/v2.0/projects/{hidden.name}/repositories/app/artifacts"
    assert world.client.get(other, headers=robot).status_code == 403
    with world.cursor() as cur:
        assert count_rows(cur, "tags", "name = 'v2'") == 0 and count_rows(cur, "tags", "name = 'x'") == 0
