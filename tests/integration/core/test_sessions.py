"""UI sessions: /c/login and /c/log_out, cookie flags, server-side rows (revocable, expiring),
and CSRF on every state-changing request authenticated by the cookie."""

from __future__ import annotations

import base64
import hashlib

import pytest

from berth_core.db import configurations as config_db
from support.content import build_world, core_settings, count_rows


@pytest.fixture
def world(settings, db):
    return build_world(settings, db)


def client(world):
    return world.app.test_client(use_cookies=False)


def login(world, who: str = "developer", password: str | None = None):
    person = world.people[who]
    return client(world).post("/c/login", data={"principal": person.username, "password": password or person.password})


def session_headers(response) -> dict[str, str]:
    """Cookie and CSRF headers a browser would send after this login response."""
    cookies = {}
    for header in response.headers.getlist("Set-Cookie"):
        name, _, rest = header.partition("=")
        cookies[name] = rest.split(";", 1)[0]
    return {"Cookie": f"sid={cookies['sid']}; __csrf={cookies['__csrf']}", "X-Harbor-CSRF-Token": cookies["__csrf"]}


def without_csrf(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k != "X-Harbor-CSRF-Token"}


def test_login_sets_secure_cookies_and_a_session_row(world) -> None:
    response = login(world)
    assert response.status_code == 200
    cookies = {h.split("=", 1)[0]: h for h in response.headers.getlist("Set-Cookie")}
    assert "HttpOnly" in cookies["sid"] and "SameSite=Lax" in cookies["sid"] and "Secure" in cookies["sid"]
    assert "HttpOnly" not in cookies["__csrf"] and "Secure" in cookies["__csrf"]
    assert response.headers["X-Harbor-CSRF-Token"]
    raw_id = cookies["sid"].split("=", 1)[1].split(";", 1)[0].split(".", 1)[0]
    with world.cursor() as cur:
        cur.execute("SELECT user_id FROM ui_sessions WHERE id_hash = %s", (hashlib.sha256(raw_id.encode()).digest(),))
        assert cur.fetchone()[0] == world.people["developer"].user_id
        assert (
            count_rows(
                cur, "audit_log", "operation = 'login' AND operation_result AND username = %(u)s", {"u": world.people["developer"].username}
            )
            == 1
        )
    me = client(world).get("/api/v2.0/users/current", headers=session_headers(response))
    assert me.status_code == 200 and me.get_json()["username"] == world.people["developer"].username
    assert me.headers["X-Harbor-CSRF-Token"] == response.headers["X-Harbor-CSRF-Token"]


def test_bad_login(world) -> None:
    assert login(world, password="Wrong1234").status_code == 401
    assert client(world).post("/c/login", data={"principal": "", "password": ""}).status_code == 401
    assert client(world).post("/c/login").status_code == 401


def test_csrf_required_for_cookie_writes_only(world) -> None:
    headers = session_headers(login(world))
    body = {"project_name": "csrfproject"}
    refused = client(world).post("/api/v2.0/projects", json=body, headers=without_csrf(headers))
    assert refused.status_code == 403 and "CSRF" in refused.get_json()["errors"][0]["message"]
    wrong = client(world).post("/api/v2.0/projects", json=body, headers={**headers, "X-Harbor-CSRF-Token": "forged"})
    assert wrong.status_code == 403
    with world.cursor() as cur:
        assert count_rows(cur, "projects", "name = 'csrfproject'") == 0
    assert client(world).post("/api/v2.0/projects", json=body, headers=headers).status_code == 201
    # Reads need no token; Basic-auth writes need none either.
    assert client(world).get("/api/v2.0/projects", headers=without_csrf(headers)).status_code == 200
    assert (
        client(world).post("/api/v2.0/projects", json={"project_name": "basicproject"}, headers=world.headers("developer")).status_code
        == 201
    )


def test_log_out_revokes_the_session(world) -> None:
    headers = session_headers(login(world))
    out = client(world).get("/c/log_out", headers=headers)
    assert out.status_code == 200
    assert any(h.startswith("sid=;") for h in out.headers.getlist("Set-Cookie"))
    assert client(world).get("/api/v2.0/users/current", headers=headers).status_code == 401


def test_tampered_and_expired_cookies_are_anonymous(world) -> None:
    headers = session_headers(login(world))
    cookie = headers["Cookie"]
    raw = cookie.split("sid=", 1)[1].split(";", 1)[0]
    tampered = raw[:-1] + ("0" if raw[-1] != "0" else "1")
    assert client(world).get("/api/v2.0/users/current", headers={"Cookie": f"sid={tampered}"}).status_code == 401
    assert client(world).get("/api/v2.0/users/current", headers={"Cookie": "sid=garbage"}).status_code == 401
    with world.cursor() as cur:
        cur.execute("UPDATE ui_sessions SET expires_at = now() - interval '1 second'")
    assert client(world).get("/api/v2.0/users/current", headers=headers).status_code == 401


def test_session_timeout_from_configuration(world) -> None:
    with world.cursor() as cur:
        config_db.upsert(cur, {"session_timeout": 5})
    login(world)
    with world.cursor() as cur:
        cur.execute("SELECT extract(epoch FROM expires_at - created_at) FROM ui_sessions ORDER BY created_at DESC LIMIT 1")
        assert 299 <= cur.fetchone()[0] <= 301


def test_password_change_revokes_other_sessions(world) -> None:
    person = world.people["guest"]
    other_device = session_headers(login(world, "guest"))
    this_device = session_headers(login(world, "guest"))
    changed = client(world).put(
        f"/api/v2.0/users/{person.user_id}/password",
        json={"old_password": person.password, "new_password": "Brand-New-1"},
        headers=this_device,
    )
    assert changed.status_code == 200
    assert client(world).get("/api/v2.0/users/current", headers=this_device).status_code == 200
    assert client(world).get("/api/v2.0/users/current", headers=other_device).status_code == 401


def test_robots_cannot_sign_in_to_the_ui(world) -> None:
    created = world.client.post(
        "/api/v2.0/robots",
        json={
            "name": "ui",
            "level": "project",
            "permissions": [{"kind": "project", "namespace": world.private.name, "access": [{"resource": "repository", "action": "pull"}]}],
        },
        headers=world.headers("project_admin"),
    ).get_json()
    response = client(world).post("/c/login", data={"principal": created["name"], "password": created["secret"]})
    assert response.status_code == 401


def test_plain_http_deployments_get_no_secure_flag(settings, db, tmp_path) -> None:
    world = build_world(core_settings(tmp_path, settings.database_url, external_url="http://berth.local"), db)
    response = login(world)
    assert all("Secure" not in h for h in response.headers.getlist("Set-Cookie"))


def test_user_exists_only_with_self_registration(world) -> None:
    body = {"target": "username", "value": world.people["developer"].username}
    assert client(world).post("/c/userExists", data=body).status_code == 403
    with world.cursor() as cur:
        config_db.upsert(cur, {"self_registration": True})
    assert client(world).post("/c/userExists", data=body).get_json() is True
    assert client(world).post("/c/userExists", data={"target": "username", "value": "nobody-x"}).get_json() is False
    assert client(world).post("/c/userExists", data={"target": "password", "value": "x"}).status_code == 400


def test_basic_auth_header_on_login_form_is_ignored(world) -> None:
    headers = {"Authorization": "Basic " + base64.b64encode(b"nobody:nothing").decode()}
    person = world.people["developer"]
    response = client(world).post("/c/login", data={"principal": person.username, "password": person.password}, headers=headers)
    assert response.status_code == 200
