"""The seed's walkthrough in a real headless Chromium against the whole stack (``berthctl up``).

Admin signs in, creates the public project ``test_project`` and the user ``test`` / ``Test12345``,
and adds ``test`` as Developer, all through the UI. ``test`` then pushes an image with podman,
and the UI shows it in the project's repositories with its tag and size, and the audit log shows
the push. Signed in as ``test``, the UI offers no administration and no delete button. Every
step is checked against the REST API as well, so the UI cannot pass by drawing what it assumed.
Screenshots of each main page go to tests/artifacts/screenshots/.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from support.browser import PHONE, Api, chromium, open_page  # noqa: F401 (chromium is a fixture)
from support.stack import ADMIN_PASSWORD, Stack

PROJECT = "test_project"
USER, USER_PASSWORD = "test", "Test12345"
IMAGE_REPO, IMAGE_TAG = "cirros", "v2"


def remove_leftovers(api: Api) -> None:
    """The stack is shared by the session's e2e tests: start from a state without our names."""
    if api.get(f"/projects/{PROJECT}").status_code == 200:
        project = api.json(f"/projects/{PROJECT}")
        for repo in api.json(f"/projects/{PROJECT}/repositories", page_size=100):
            name = repo["name"].split("/", 1)[1].replace("/", "%252F")
            api.delete(f"/projects/{PROJECT}/repositories/{name}").raise_for_status()
        api.delete(f"/projects/{project['project_id']}").raise_for_status()
    for user in api.json("/users", q=f"username={USER}"):
        api.delete(f"/users/{user['user_id']}").raise_for_status()


def podman_push(stack: Stack, work: Path) -> str:
    """Build a one-file image with buildah and push it as ``test`` with podman; returns the
    reference pushed. Storage, run state and credentials stay in ``work``."""
    (work / "hello.txt").write_text("hello from the Berth UI walkthrough\n")
    # podman refuses a run root longer than 50 characters: pytest's tmp_path is too long.
    runroot = Path(tempfile.mkdtemp(prefix="bui-", dir="/tmp"))
    storage = ["--root", str(work / "storage"), "--runroot", str(runroot), "--storage-driver", "vfs"]
    reference = f"{stack.registry_host}/{PROJECT}/{IMAGE_REPO}:{IMAGE_TAG}"
    auth = ["--authfile", str(work / "auth.json")]

    def run(*command: str) -> str:
        result = subprocess.run(command, capture_output=True, text=True, timeout=180)
        assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout.strip()

    try:
        container = run("buildah", *storage, "from", "scratch")
        run("buildah", *storage, "copy", container, str(work / "hello.txt"), "/hello.txt")
        run("buildah", *storage, "config", "--os", "linux", "--arch", "amd64", "--cmd", "/hello.txt", container)
        run("buildah", *storage, "commit", "--quiet", container, reference)
        run("podman", *storage, "login", "--tls-verify=false", *auth, "-u", USER, "-p", USER_PASSWORD, stack.registry_host)
        run("podman", *storage, "push", "--tls-verify=false", *auth, reference)
    finally:
        shutil.rmtree(runroot, ignore_errors=True)
    return reference


def human_size(size: int) -> str:
    """What the UI prints for a size (format.js ``bytes``)."""
    value, unit = float(size), 0
    units = ["B", "KiB", "MiB", "GiB", "TiB"]
    while value >= 1024 and unit < len(units) - 1:
        value /= 1024
        unit += 1
    digits = 0 if unit == 0 or value >= 100 else 1 if value >= 10 else 2
    return f"{value:.{digits}f} {units[unit]}"


@pytest.mark.timeout(600)
def test_walkthrough_admin_then_developer(stack: Stack, chromium, tmp_path: Path):  # noqa: F811
    admin_api = Api(stack.url, "admin", ADMIN_PASSWORD)
    remove_leftovers(admin_api)

    with open_page(chromium, stack.url) as ui:
        page = ui.page
        # / sends a visitor without a session to the sign-in page.
        ui.goto("/")
        expect(page).to_have_url(re.compile(r"/account/sign-in$"))
        expect(page.get_by_role("heading", name="Sign in to Berth")).to_be_visible()
        ui.screenshot("01-sign-in")
        ui.sign_in("admin", ADMIN_PASSWORD)

        # --- admin creates the public project test_project -----------------------------------
        page.get_by_role("button", name="New project").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_label("Project name").fill(PROJECT)
        dialog.get_by_label("Public", exact=True).check()
        ui.screenshot("02-new-project-dialog", full_page=False)
        dialog.get_by_role("button", name="Create").click()
        expect(dialog).to_be_hidden()
        expect(page.get_by_role("link", name=PROJECT)).to_be_visible()
        project = admin_api.json(f"/projects/{PROJECT}")
        assert project["metadata"]["public"] == "true"
        ui.settle()
        ui.screenshot("03-projects")

        # --- admin creates the user test -------------------------------------------------------
        page.get_by_role("link", name="Users", exact=True).click()
        ui.settle()
        page.get_by_role("button", name="New user").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_label("User name").fill(USER)
        dialog.get_by_label("Email").fill("test@example.com")
        dialog.get_by_label("Full name").fill("Test Developer")
        dialog.get_by_label("Password", exact=True).fill(USER_PASSWORD)
        dialog.get_by_label("Confirm password").fill(USER_PASSWORD)
        dialog.get_by_role("button", name="Create").click()
        expect(dialog).to_be_hidden()
        expect(page.get_by_role("cell", name=USER, exact=True)).to_be_visible()
        [created] = admin_api.json("/users", q=f"username={USER}")
        assert created["email"] == "test@example.com" and created["sysadmin_flag"] is False
        ui.settle()
        ui.screenshot("04-users")

        # --- admin adds test to test_project as Developer ---------------------------------------
        ui.goto(f"/harbor/projects/{project['project_id']}/members")
        page.get_by_role("button", name="Add user").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_label("User name").fill(USER)
        dialog.get_by_label("Role").select_option(label="Developer")
        dialog.get_by_role("button", name="Add", exact=True).click()
        expect(dialog).to_be_hidden()
        expect(page.get_by_role("combobox", name=f"Role of {USER}")).to_have_value("2")
        members = admin_api.json(f"/projects/{project['project_id']}/members")
        assert {(m["entity_name"], m["role_id"]) for m in members} >= {(USER, 2)}
        ui.settle()
        ui.screenshot("05-members")

        # --- test pushes with podman ------------------------------------------------------------
        podman_push(stack, tmp_path)
        [artifact] = admin_api.json(f"/projects/{PROJECT}/repositories/{IMAGE_REPO}/artifacts", with_tag="true")
        assert [t["name"] for t in artifact["tags"]] == [IMAGE_TAG]

        # The push shows in the project's repository list, with its tag and size one click away.
        ui.goto(f"/harbor/projects/{project['project_id']}/repositories")
        repo_link = page.get_by_role("link", name=f"{PROJECT}/{IMAGE_REPO}")
        expect(repo_link).to_be_visible()
        ui.screenshot("06-repositories")
        repo_link.click()
        ui.settle()
        row = page.get_by_role("row").filter(has_text=artifact["digest"][:19])
        expect(row).to_contain_text(IMAGE_TAG)
        expect(row).to_contain_text(human_size(artifact["size"]))
        expect(row).to_contain_text("linux/amd64")
        ui.screenshot("07-artifacts")
        row.get_by_role("link").first.click()
        ui.settle()
        expect(page.get_by_text(artifact["digest"], exact=True)).to_be_visible()
        expect(page.locator(".chip", has_text=IMAGE_TAG)).to_be_visible()
        ui.screenshot("08-artifact")

        # --- the audit log shows the push by test ------------------------------------------------
        page.get_by_role("link", name="Audit log", exact=True).click()
        ui.settle()
        page.get_by_label("Operation", exact=True).select_option("push")
        page.get_by_role("button", name="Filter").click()
        ui.settle()
        push_row = page.get_by_role("row").filter(has_text=f"{PROJECT}/{IMAGE_REPO}")
        expect(push_row.first).to_contain_text(USER)
        expect(push_row.first).to_contain_text("Push")
        expect(page.locator("figure.chart")).to_be_visible()
        ui.screenshot("09-audit-log")

        # --- the other main pages, for the record ------------------------------------------------
        for path, name in (
            ("/harbor/dashboard", "10-dashboard"),
            (f"/harbor/projects/{project['project_id']}/summary", "11-project-summary"),
            ("/harbor/configs", "12-configuration"),
            ("/harbor/system", "13-system"),
            ("/harbor/robot-accounts", "14-robot-accounts"),
            ("/harbor/job-service-dashboard", "15-job-service"),
            ("/harbor/clearing-job", "16-clean-up"),
            (f"/harbor/projects/{project['project_id']}/logs", "17-project-logs"),
            (f"/harbor/projects/{project['project_id']}/webhook", "18-project-webhooks"),
            (f"/harbor/projects/{project['project_id']}/configs", "19-project-settings"),
        ):
            ui.goto(path)
            expect(page.locator(".alert-error")).to_have_count(0)
            ui.screenshot(name)
        expect(page.locator(".usage-track")).to_be_visible()
        ui.assert_clean()

    # --- test signs in: no administration, no delete ----------------------------------------------
    with open_page(chromium, stack.url) as ui:
        page = ui.page
        ui.sign_in(USER, USER_PASSWORD)
        expect(page.get_by_text("Administration")).to_have_count(0)
        expect(page.get_by_role("link", name="Users", exact=True)).to_have_count(0)
        expect(page.get_by_role("button", name="New project")).to_be_visible()  # everyone may create
        expect(page.get_by_role("button", name=re.compile(r"^Delete project"))).to_have_count(0)
        ui.screenshot("20-developer-projects")

        ui.goto(f"/harbor/projects/{project['project_id']}/repositories")
        expect(page.get_by_role("link", name=f"{PROJECT}/{IMAGE_REPO}")).to_be_visible()
        expect(page.get_by_role("button", name=re.compile("Delete"))).to_have_count(0)
        expect(page.get_by_role("link", name="Logs", exact=True)).to_have_count(0)  # project logs: admins only
        page.get_by_role("link", name=f"{PROJECT}/{IMAGE_REPO}").click()
        ui.settle()
        expect(page.get_by_role("row").filter(has_text=IMAGE_TAG)).to_be_visible()
        expect(page.get_by_role("button", name=re.compile("Delete"))).to_have_count(0)
        ui.screenshot("21-developer-artifacts")

        ui.goto(f"/harbor/projects/{project['project_id']}/members")
        expect(page.get_by_role("button", name="Add user")).to_have_count(0)
        expect(page.get_by_role("button", name=re.compile("^Remove"))).to_have_count(0)
        expect(page.get_by_role("combobox", name=re.compile("^Role of"))).to_have_count(0)

        # Administration pages are refused in the UI, and the API refuses them anyway.
        ui.goto("/harbor/users")
        expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
        assert Api(stack.url, USER, USER_PASSWORD).get("/users").status_code == 403
        ui.assert_clean()

    # --- a narrow screen: navigation behind the menu button, tables as cards ------------------------
    with open_page(chromium, stack.url, viewport=PHONE) as ui:
        page = ui.page
        ui.sign_in("admin", ADMIN_PASSWORD)
        expect(page.locator(".sidenav")).not_to_be_in_viewport()
        ui.screenshot("22-phone-projects")
        page.get_by_role("button", name="Show or hide navigation").click()
        expect(page.locator(".sidenav")).to_be_in_viewport(ratio=1)
        ui.screenshot("23-phone-navigation", full_page=False)
        page.locator(".sidenav").get_by_role("link", name="Projects").click()
        expect(page.locator(".sidenav")).not_to_be_in_viewport()
        ui.assert_clean()
