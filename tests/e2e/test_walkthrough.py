"""The seed's walkthrough through the proxy with real clients, as a new user would do it.

admin creates public project test_project and user test/Test12345, adds test as Developer; test
logs in with podman, pushes test_project/cirros:v2 and pulls it back; anonymous clients pull
from the public project but not from a private one; a Guest pulls but cannot push; a Developer
cannot delete an artifact; the audit log shows each push and pull with its user.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import requests

from support.images import write_layout
from support.stack import ADMIN_PASSWORD, Stack

ADMIN = ("admin", ADMIN_PASSWORD)


class Podman:
    def __init__(self, root: Path) -> None:
        self.runroot = tempfile.mkdtemp(prefix="berth-run-")  # podman wants < 50 characters
        self.auth = str(root / "auth.json")
        self.base = ["podman", "--root", str(root / "storage"), "--runroot", self.runroot, "--storage-driver", "vfs"]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([*self.base, *args], capture_output=True, text=True, timeout=300)
        if check:
            assert result.returncode == 0, f"podman {' '.join(args)}\n{result.stdout}\n{result.stderr}"
        return result

    def close(self) -> None:
        shutil.rmtree(self.runroot, ignore_errors=True)


@pytest.fixture
def podman(tmp_path):
    made: list[Podman] = []

    def make(name: str) -> Podman:
        made.append(Podman(tmp_path / name))
        return made[-1]

    yield make
    for tool in made:
        tool.close()


def api(stack: Stack, method: str, path: str, auth=ADMIN, **kwargs) -> requests.Response:
    return requests.request(method, f"{stack.url}/api/v2.0{path}", auth=auth, timeout=30, **kwargs)


def create_user(stack: Stack, username: str, password: str) -> None:
    response = api(stack, "POST", "/users", json={"username": username, "email": f"{username}@example.com",
                                                  "realname": username, "password": password})  # fmt: skip
    assert response.status_code == 201, response.text


def add_member(stack: Stack, project: str, username: str, role_id: int) -> None:
    response = api(stack, "POST", f"/projects/{project}/members", json={"role_id": role_id, "member_user": {"username": username}})
    assert response.status_code == 201, response.text


def test_walkthrough(stack, tmp_path, podman):
    suffix = uuid.uuid4().hex[:6]
    project, private = f"test_project_{suffix}", f"private_{suffix}"
    developer, guest = f"test_{suffix}", f"guest_{suffix}"
    host = stack.registry_host

    # admin: public project, user test, membership as Developer (role 2); a private project too.
    assert api(stack, "POST", "/projects", json={"project_name": project, "metadata": {"public": "true"}}).status_code == 201
    assert api(stack, "POST", "/projects", json={"project_name": private, "metadata": {"public": "false"}}).status_code == 201
    create_user(stack, developer, "Test12345")
    create_user(stack, guest, "Guest12345")
    add_member(stack, project, developer, 2)
    add_member(stack, project, guest, 3)
    add_member(stack, private, developer, 2)

    # test logs in with podman, pushes cirros:v2 and pulls it back.
    image = write_layout(tmp_path / "cirros", tag="v2", layers=2)
    dev = podman("developer")
    image_id = dev.run("pull", "--quiet", image.reference).stdout.split()[-1]
    dev.run("login", "--tls-verify=false", "--authfile", dev.auth, "-u", developer, "-p", "Test12345", host)
    digest_file = tmp_path / "pushed.digest"
    dev.run("push", "--tls-verify=false", "--authfile", dev.auth, "--digestfile", str(digest_file), image_id,
            f"docker://{host}/{project}/cirros:v2")  # fmt: skip
    pushed = digest_file.read_text().strip()
    dev.run("push", "--tls-verify=false", "--authfile", dev.auth, image_id, f"docker://{host}/{private}/cirros:v2")
    again = podman("developer-pull")
    again.run("login", "--tls-verify=false", "--authfile", again.auth, "-u", developer, "-p", "Test12345", host)
    again.run("pull", "--tls-verify=false", "--authfile", again.auth, f"{host}/{project}/cirros:v2")

    # Anonymous: the public project pulls without login; the private one refuses.
    anonymous = podman("anonymous")
    anonymous.run("pull", "--tls-verify=false", f"{host}/{project}/cirros:v2")
    refused = anonymous.run("pull", "--tls-verify=false", f"{host}/{private}/cirros:v2", check=False)
    assert refused.returncode != 0
    assert "unauthorized" in refused.stderr.lower() or "authentication required" in refused.stderr.lower()

    # A Guest pulls but cannot push.
    viewer = podman("guest")
    viewer.run("login", "--tls-verify=false", "--authfile", viewer.auth, "-u", guest, "-p", "Guest12345", host)
    viewer.run("pull", "--tls-verify=false", "--authfile", viewer.auth, f"{host}/{project}/cirros:v2")
    denied = viewer.run("push", "--tls-verify=false", "--authfile", viewer.auth, image_id, f"docker://{host}/{project}/cirros:guest",
                        check=False)  # fmt: skip
    assert denied.returncode != 0
    assert any(word in denied.stderr.lower() for word in ("denied", "unauthorized", "forbidden"))

    # A Developer cannot delete an artifact; the admin can see it is still there.
    artifact = f"/projects/{project}/repositories/cirros/artifacts/v2"
    assert api(stack, "DELETE", artifact, auth=(developer, "Test12345")).status_code == 403
    shown = api(stack, "GET", artifact)
    assert shown.status_code == 200 and shown.json()["digest"] == pushed
    assert [t["name"] for t in shown.json()["tags"]] == ["v2"]

    # The audit log shows each push and pull with its user (pulls are flushed about once a second).
    deadline = time.monotonic() + 20
    while True:
        logs = api(stack, "GET", f"/projects/{project}/logs", params={"page_size": 100}).json()
        seen = {(entry["username"], entry["operation"]) for entry in logs}
        wanted = {(developer, "push"), (developer, "pull"), ("anonymous", "pull"), (guest, "pull")}
        if wanted <= seen or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert wanted <= seen, seen
    assert all(entry["resource"].startswith(f"{project}/cirros") for entry in logs if entry["operation"] in ("push", "pull"))
