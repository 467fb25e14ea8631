"""``/api/v2.0/systeminfo`` and ``/systeminfo/volumes``, and the read-only switch they report."""

from __future__ import annotations

import pytest

from berth_core.db import configurations as config_db
from support.content import build_app, core_settings, count_rows, push_image, world_on


@pytest.fixture(scope="module")
def volume(tmp_path_factory):
    return tmp_path_factory.mktemp("volume")


@pytest.fixture(scope="module")
def settings(tmp_path_factory, database_url, volume):
    return core_settings(tmp_path_factory.mktemp("keys"), database_url, storage_volume_path=str(volume))


PUBLIC_KEYS = {"auth_mode", "primary_auth_mode", "self_registration", "harbor_version", "banner_message"}


def test_anonymous_sees_only_public_fields(world) -> None:
    response = world.client.get("/api/v2.0/systeminfo")
    assert response.status_code == 200
    info = response.get_json()
    assert set(info) == PUBLIC_KEYS
    assert info["auth_mode"] == "db_auth" and info["self_registration"] is False
    assert info["harbor_version"].startswith("v")


def test_logged_in_callers_see_deployment_details(world) -> None:
    info = world.client.get("/api/v2.0/systeminfo", headers=world.headers("limited_guest")).get_json()
    assert set(info) >= PUBLIC_KEYS
    assert info["external_url"] == "https://berth.test"
    assert info["registry_url"] == "berth.test"
    assert info["read_only"] is False
    assert info["with_notary"] is False and info["with_chartmuseum"] is False
    assert info["registry_storage_provider_name"] == "filesystem"
    assert info["project_creation_restriction"] == "everyone"
    assert info["current_time"].endswith("Z")


def test_configuration_changes_show(world) -> None:
    with world.cursor() as cur:
        config_db.upsert(cur, {"self_registration": True, "read_only": True, "project_creation_restriction": "adminonly"})
    info = world.client.get("/api/v2.0/systeminfo", headers=world.headers("admin")).get_json()
    assert info["self_registration"] is True and info["read_only"] is True
    assert info["project_creation_restriction"] == "adminonly"


def test_read_only_mode_refuses_content_changes_but_not_reads(world) -> None:
    with world.cursor() as cur:
        push_image(cur, world.private, "app", ["v1"])
        config_db.upsert(cur, {"read_only": True})
        before = (count_rows(cur, "artifacts"), count_rows(cur, "tags"), count_rows(cur, "outbox"))
    base = f"/api/v2.0/projects/{world.private.name}/repositories/app"
    admin = world.headers("admin")
    for method, path, kwargs in (
        ("DELETE", f"{base}/artifacts/v1", {}),
        ("DELETE", f"{base}/artifacts/v1/tags/v1", {}),
        ("POST", f"{base}/artifacts/v1/tags", {"json": {"name": "v2"}}),
        ("POST", f"{base}/artifacts?from={world.private.name}/app:v1", {}),
        ("PUT", base, {"json": {"description": "x"}}),
        ("DELETE", base, {}),
    ):
        response = world.client.open(path, method=method, headers=admin, **kwargs)
        assert response.status_code == 403, (method, path)
        assert response.get_json()["errors"][0]["code"] == "DENIED"
    assert world.client.get(f"{base}/artifacts/v1", headers=admin).status_code == 200
    with world.cursor() as cur:
        assert (count_rows(cur, "artifacts"), count_rows(cur, "tags"), count_rows(cur, "outbox")) == before


def test_volumes_for_admins_only(world) -> None:
    response = world.client.get("/api/v2.0/systeminfo/volumes", headers=world.headers("admin"))
    assert response.status_code == 200
    (storage,) = response.get_json()["storage"]
    assert storage["total"] > 0 and 0 <= storage["free"] <= storage["total"]
    assert world.client.get("/api/v2.0/systeminfo/volumes", headers=world.headers("project_admin")).status_code == 403
    assert world.client.get("/api/v2.0/systeminfo/volumes").status_code == 401


def test_volumes_without_a_configured_path_is_404(tmp_path, database_url, db) -> None:
    world = world_on(build_app(core_settings(tmp_path, database_url), database_url), db)
    response = world.client.get("/api/v2.0/systeminfo/volumes", headers=world.headers("admin"))
    assert response.status_code == 404
    assert response.get_json()["errors"][0]["code"] == "NOT_FOUND"
