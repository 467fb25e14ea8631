"""Every form of the UI rejects bad input with a message next to the field and changes nothing.

Each test drives real headless Chromium against the running stack, types what people get wrong
(invalid names, weak passwords, duplicates, unknown users, impossible numbers) and then asks the
REST API that nothing changed. Client-side checks catch most mistakes before a request is sent;
the duplicate and unknown-user cases go to the server and show its 4xx message at the field.
Where a form's good path is not covered by the walkthrough it is driven too (member roles, admin
flag, password reset, robot secret and disable, sign-up). The module also covers two behaviours
of the frame: a session that ends while a page is open leads back to sign-in and then to the
same page, and the language choice is remembered per user.
"""

from __future__ import annotations

import re
import uuid

import pytest
import requests
from playwright.sync_api import expect

from support.browser import Api, chromium, open_page  # noqa: F401 (chromium is a fixture)
from support.stack import ADMIN_PASSWORD, Stack

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def admin(stack: Stack) -> Api:
    return Api(stack.url, "admin", ADMIN_PASSWORD)


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def project(admin: Api) -> dict:
    name = unique("uiforms")
    admin.post("/projects", {"project_name": name, "metadata": {"public": "false"}})
    return admin.json(f"/projects/{name}")


@pytest.fixture(scope="module")
def member(admin: Api) -> tuple[str, str]:
    """A plain user (no admin rights) for the forms every user has."""
    username, password = unique("uiuser"), "Passw0rdUi"
    admin.post("/users", {"username": username, "password": password, "email": f"{username}@example.com", "realname": "UI Forms"})
    return username, password


def test_sign_in_rejects_missing_and_wrong_credentials(stack: Stack, chromium):  # noqa: F811
    with open_page(chromium, stack.url) as ui:
        ui.goto("/account/sign-in")
        page = ui.page
        page.get_by_role("button", name="Sign in").click()
        expect(ui.field_error("User name")).to_have_text("This field is required.")
        expect(ui.field_error("Password")).to_have_text("This field is required.")

        page.get_by_label("User name").fill("admin")
        page.get_by_label("Password").fill("not-the-password")
        page.get_by_role("button", name="Sign in").click()
        expect(ui.field_error("Password")).to_have_text("Invalid user name or password.")
        expect(page).to_have_url(re.compile(r"/account/sign-in$"))
        # No session was created: the API still refuses this browser.
        assert page.context.request.get(f"{stack.url}/api/v2.0/users/current").status == 401
        ui.screenshot("30-sign-in-error")
        ui.assert_clean()


def test_new_project_form(stack: Stack, chromium, admin: Api):  # noqa: F811
    before = {p["name"] for p in admin.json("/projects", page_size=100)}
    with open_page(chromium, stack.url) as ui:
        ui.sign_in("admin", ADMIN_PASSWORD)
        page = ui.page
        page.get_by_role("button", name="New project").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_label("Project name").fill("Bad Name!")
        dialog.get_by_label("Storage quota").fill("0")
        dialog.get_by_role("button", name="Create").click()
        expect(ui.field_error("Project name")).to_contain_text("lower-case letters and digits")
        expect(ui.field_error("Storage quota")).to_contain_text("positive size")
        ui.screenshot("31-new-project-errors", full_page=False)

        # A duplicate passes the browser's checks; the server's 409 shows at the name.
        dialog.get_by_label("Project name").fill("library")
        dialog.get_by_label("Storage quota").fill("-1")
        dialog.get_by_role("button", name="Create").click()
        expect(ui.field_error("Project name")).to_contain_text("already exists")
        expect(dialog).to_be_visible()
        ui.assert_clean()
    assert {p["name"] for p in admin.json("/projects", page_size=100)} == before


def test_new_user_form(stack: Stack, chromium, admin: Api):  # noqa: F811
    before = admin.get("/users", page_size=1).headers["X-Total-Count"]
    with open_page(chromium, stack.url) as ui:
        ui.sign_in("admin", ADMIN_PASSWORD)
        ui.goto("/harbor/users")
        page = ui.page
        page.get_by_role("button", name="New user").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_label("User name").fill("bad name")
        dialog.get_by_label("Email").fill("not-an-email")
        dialog.get_by_label("Full name").fill("Someone")
        dialog.get_by_label("Password", exact=True).fill("short")
        dialog.get_by_label("Confirm password").fill("different")
        dialog.get_by_role("button", name="Create").click()
        expect(ui.field_error("User name")).to_contain_text("cannot contain spaces")
        expect(ui.field_error("Email")).to_contain_text("email address")
        expect(ui.field_error("Password")).to_contain_text("8 to 128 characters")
        expect(ui.field_error("Confirm password")).to_have_text("The passwords do not match.")
        ui.screenshot("32-new-user-errors", full_page=False)

        dialog.get_by_label("Password", exact=True).fill("alllowercase1")
        dialog.get_by_role("button", name="Create").click()
        expect(ui.field_error("Password")).to_contain_text("upper-case letter")

        # Valid in the browser, refused by the server: the name is taken.
        dialog.get_by_label("User name").fill("admin")
        dialog.get_by_label("Email").fill("someone-else@example.com")
        dialog.get_by_label("Password", exact=True).fill("Passw0rdOk")
        dialog.get_by_label("Confirm password").fill("Passw0rdOk")
        dialog.get_by_role("button", name="Create").click()
        expect(ui.field_error("User name")).to_contain_text("already taken")
        expect(dialog).to_be_visible()
        ui.assert_clean()
    assert admin.get("/users", page_size=1).headers["X-Total-Count"] == before


def test_user_administration(stack: Stack, chromium, admin: Api):  # noqa: F811
    username = unique("uiadmin")
    admin.post("/users", {"username": username, "password": "Passw0rdOne", "email": f"{username}@example.com", "realname": "Managed"})
    [user] = admin.json("/users", q=f"username={username}")
    with open_page(chromium, stack.url) as ui:
        ui.sign_in("admin", ADMIN_PASSWORD)
        ui.goto("/harbor/users")
        page = ui.page
        page.get_by_role("searchbox", name="Filter by user name").fill(username)
        row = page.get_by_role("row").filter(has_text=username)
        expect(row).to_have_count(1)

        row.get_by_role("button", name="Make administrator").click()
        expect(row.get_by_role("button", name="Revoke administrator")).to_be_visible()
        assert admin.json(f"/users/{user['user_id']}")["sysadmin_flag"] is True
        row.get_by_role("button", name="Revoke administrator").click()
        expect(row.get_by_role("button", name="Make administrator")).to_be_visible()
        assert admin.json(f"/users/{user['user_id']}")["sysadmin_flag"] is False

        row.get_by_role("button", name=f"Reset password of {username}").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_label("New password").fill("nodigits")
        dialog.get_by_label("Confirm password").fill("nodigits")
        dialog.get_by_role("button", name="Save").click()
        expect(ui.field_error("New password")).to_contain_text("upper-case letter")
        dialog.get_by_label("New password").fill("Passw0rdTwo")
        dialog.get_by_label("Confirm password").fill("Passw0rdTwo")
        dialog.get_by_role("button", name="Save").click()
        expect(dialog).to_be_hidden()
        Api(stack.url, username, "Passw0rdTwo")  # the new password works

        row.get_by_role("button", name=f"Delete user {username}").click()
        page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        expect(row).to_have_count(0)
        ui.assert_clean()
    assert admin.json("/users", q=f"username={username}") == []


def test_members_form_and_role_changes(stack: Stack, chromium, admin: Api, project: dict, member: tuple[str, str]):  # noqa: F811
    username, _ = member
    members = lambda: {m["entity_name"]: m["role_id"] for m in admin.json(f"/projects/{project['project_id']}/members")}  # noqa: E731
    before = members()
    with open_page(chromium, stack.url) as ui:
        ui.sign_in("admin", ADMIN_PASSWORD)
        ui.goto(f"/harbor/projects/{project['project_id']}/members")
        page = ui.page
        page.get_by_role("button", name="Add user").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_role("button", name="Add", exact=True).click()
        expect(ui.field_error("User name")).to_have_text("This field is required.")
        dialog.get_by_label("User name").fill("no-such-user-anywhere")
        dialog.get_by_role("button", name="Add", exact=True).click()
        expect(ui.field_error("User name")).to_contain_text("does not exist")
        assert members() == before

        dialog.get_by_label("User name").fill(username)
        dialog.get_by_label("Role").select_option(label="Guest")
        dialog.get_by_role("button", name="Add", exact=True).click()
        expect(dialog).to_be_hidden()
        assert members()[username] == 3

        page.get_by_role("combobox", name=f"Role of {username}").select_option(label="Maintainer")
        expect(page.get_by_text(f"{username} is now Maintainer.")).to_be_visible()
        assert members()[username] == 4

        page.get_by_role("button", name=f"Remove {username}").click()
        page.get_by_role("dialog").get_by_role("button", name="Remove").click()
        expect(page.get_by_role("row").filter(has_text=username)).to_have_count(0)
        ui.assert_clean()
    assert members() == before


def test_robot_form(stack: Stack, chromium, admin: Api, project: dict):  # noqa: F811
    query = {"q": f"Level=project,ProjectID={project['project_id']}"}
    with open_page(chromium, stack.url) as ui:
        ui.sign_in("admin", ADMIN_PASSWORD)
        ui.goto(f"/harbor/projects/{project['project_id']}/robot-account")
        page = ui.page
        page.get_by_role("button", name="New robot account").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_label("Name").fill("Bad Name")
        dialog.get_by_label("Expires after (days)").fill("0")
        for box in dialog.locator(".permissions input[type=checkbox]").all():
            box.uncheck()
        dialog.get_by_role("button", name="Create").click()
        expect(ui.field_error("Name")).to_contain_text("lower-case letters and digits")
        expect(ui.field_error("Expires after (days)")).to_contain_text("-1 for never")

        dialog.get_by_label("Name").fill("ci")
        dialog.get_by_label("Expires after (days)").fill("30")
        dialog.get_by_role("button", name="Create").click()
        expect(dialog.locator(".permissions .field-error")).to_have_text("Choose at least one permission.")
        ui.screenshot("33-robot-errors", full_page=False)
        assert admin.json("/robots", **query) == []

        # With a permission it is created, and the secret is shown once.
        dialog.get_by_label("Pull").first.check()
        dialog.get_by_role("button", name="Create").click()
        secret_dialog = page.get_by_role("dialog", name="Robot account secret")
        expect(secret_dialog).to_be_visible()
        secret = secret_dialog.get_by_label("Secret").input_value()
        ui.screenshot("34-robot-secret", full_page=False)
        secret_dialog.get_by_role("button", name="Done").click()
        [robot] = admin.json("/robots", **query)
        assert robot["name"] == f"robot${project['name']}+ci"
        # The secret shown is the real one: the token service accepts it.
        challenge = requests.get(f"{stack.url}/v2/", timeout=30).headers["WWW-Authenticate"]
        service = re.search(r'service="([^"]+)"', challenge).group(1)
        token = requests.get(f"{stack.url}/service/token", params={"service": service}, auth=(robot["name"], secret), timeout=30)
        assert token.status_code == 200, token.text
        expect(page.get_by_role("cell", name=robot["name"], exact=True)).to_be_visible()

        # Disable it from the list: the server stores it, and its secret stops working.
        page.get_by_role("row").filter(has_text=robot["name"]).get_by_role("button", name="Disable").click()
        expect(page.get_by_role("row").filter(has_text=robot["name"])).to_contain_text("Disabled")
        [robot] = admin.json("/robots", **query)
        assert robot["disable"] is True
        refused = requests.get(f"{stack.url}/service/token", params={"service": service}, auth=(robot["name"], secret), timeout=30)
        assert refused.status_code == 401
        ui.assert_clean()


def test_sign_up_form(stack: Stack, chromium, admin: Api):  # noqa: F811
    username = unique("uisignup")
    admin.put("/configurations", {"self_registration": True})
    try:
        with open_page(chromium, stack.url) as ui:
            ui.goto("/account/sign-in")
            page = ui.page
            page.get_by_role("link", name="Sign up").click()
            ui.settle()
            page.get_by_label("User name").fill(username)
            page.get_by_label("Email").fill("broken@")
            page.get_by_label("Full name").fill("Self Service")
            page.get_by_label("Password", exact=True).fill("Passw0rdSelf")
            page.get_by_label("Confirm password").fill("Passw0rdSelf")
            page.get_by_role("button", name="Create account").click()
            expect(ui.field_error("Email")).to_contain_text("email address")
            assert admin.json("/users", q=f"username={username}") == []
            ui.screenshot("39-sign-up-error", full_page=False)

            page.get_by_label("Email").fill(f"{username}@example.com")
            page.get_by_role("button", name="Create account").click()
            page.wait_for_url("**/account/sign-in")
            [created] = admin.json("/users", q=f"username={username}")
            assert created["sysadmin_flag"] is False
            ui.sign_in(username, "Passw0rdSelf")
            ui.assert_clean()
    finally:
        admin.put("/configurations", {"self_registration": False})
    # Closed again: the page says so instead of showing the form.
    with open_page(chromium, stack.url) as ui:
        ui.goto("/account/sign-up")
        expect(ui.page.get_by_text("Self-registration is turned off.")).to_be_visible()
        expect(ui.page.get_by_role("button", name="Create account")).to_have_count(0)


def test_profile_form(stack: Stack, chromium, admin: Api, member: tuple[str, str]):  # noqa: F811
    username, password = member
    [before] = admin.json("/users", q=f"username={username}")
    with open_page(chromium, stack.url) as ui:
        ui.sign_in(username, password)
        page = ui.page
        page.locator(".user-menu .dropdown-toggle").click()
        page.get_by_role("menuitem", name="User profile").click()
        dialog = page.get_by_role("dialog")
        expect(dialog.get_by_label("User name")).to_be_disabled()
        dialog.get_by_label("Email").fill("no-at-sign")
        dialog.get_by_label("Full name").fill("")
        dialog.get_by_role("button", name="Save").click()
        expect(ui.field_error("Email")).to_contain_text("email address")
        expect(ui.field_error("Full name")).to_have_text("This field is required.")
        ui.assert_clean()
    [after] = admin.json("/users", q=f"username={username}")
    assert (after["email"], after["realname"]) == (before["email"], before["realname"])


def test_change_password_form(stack: Stack, chromium, member: tuple[str, str]):  # noqa: F811
    username, password = member
    with open_page(chromium, stack.url) as ui:
        ui.sign_in(username, password)
        page = ui.page
        page.locator(".user-menu .dropdown-toggle").click()
        page.get_by_role("menuitem", name="Change password").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_label("Current password").fill("WrongPassw0rd")
        dialog.get_by_label("New password").fill("weak")
        dialog.get_by_label("Confirm password").fill("weak")
        dialog.get_by_role("button", name="Save").click()
        expect(ui.field_error("New password")).to_contain_text("8 to 128 characters")

        dialog.get_by_label("New password").fill("NewPassw0rd")
        dialog.get_by_label("Confirm password").fill("NewPassw0rd")
        dialog.get_by_role("button", name="Save").click()
        expect(ui.field_error("Current password")).to_contain_text("old password is not correct")
        ui.screenshot("35-change-password-error", full_page=False)
        ui.assert_clean()
    # The password did not change.
    Api(stack.url, username, password)


def test_configuration_form(stack: Stack, chromium, admin: Api):  # noqa: F811
    before = admin.json("/configurations")
    with open_page(chromium, stack.url) as ui:
        ui.sign_in("admin", ADMIN_PASSWORD)
        ui.goto("/harbor/configs")
        page = ui.page
        auth_card = page.locator(".card", has=page.get_by_role("heading", name="Authentication"))
        auth_card.get_by_label("Session timeout").fill("0")
        auth_card.get_by_label("Robot name prefix").fill("bad prefix!")
        auth_card.get_by_role("button", name="Save").click()
        expect(ui.field_error("Session timeout")).to_contain_text("from 1 to 525600")
        expect(ui.field_error("Robot name prefix")).to_contain_text("1 to 32")

        system_card = page.locator(".card", has=page.get_by_role("heading", name="System settings"))
        system_card.get_by_label("Forward audit log to (syslog host:port)").fill("no-port-here")
        system_card.get_by_label("Audit event types not to record (comma-separated)").fill("create user")
        system_card.get_by_role("button", name="Save").click()
        expect(ui.field_error("Forward audit log to (syslog host:port)")).to_contain_text("host:port")
        expect(ui.field_error("Audit event types not to record (comma-separated)")).to_contain_text("create_user,pull_artifact")
        ui.screenshot("36-configuration-errors")
        ui.assert_clean()
    assert admin.json("/configurations") == before


def test_project_settings_and_audit_filter(stack: Stack, chromium, admin: Api, project: dict):  # noqa: F811
    [quota_before] = admin.json("/quotas", reference="project", reference_id=project["project_id"])
    with open_page(chromium, stack.url) as ui:
        ui.sign_in("admin", ADMIN_PASSWORD)
        ui.goto(f"/harbor/projects/{project['project_id']}/configs")
        page = ui.page
        page.get_by_label("Storage quota").fill("-5")
        page.locator(".card", has=page.get_by_label("Storage quota")).get_by_role("button", name="Save").click()
        expect(ui.field_error("Storage quota")).to_contain_text("positive size")

        ui.goto("/harbor/logs")
        page.get_by_label("From").fill("2030-05-02")
        page.get_by_label("To").fill("2030-05-01")
        page.get_by_role("button", name="Filter").click()
        expect(page.locator(".filters .field-error")).to_have_text("The end date must be on or after the start date.")
        ui.assert_clean()
    [quota_after] = admin.json("/quotas", reference="project", reference_id=project["project_id"])
    assert quota_after["hard"] == quota_before["hard"]


def test_ended_session_returns_to_sign_in_and_back(stack: Stack, chromium):  # noqa: F811
    with open_page(chromium, stack.url) as ui:
        ui.sign_in("admin", ADMIN_PASSWORD)
        ui.goto("/harbor/users")
        page = ui.page
        # End the session on the server while the page stays open (as a timeout does).
        cookies = {c["name"]: c["value"] for c in page.context.cookies()}
        requests.get(f"{stack.url}/c/log_out", cookies=cookies, timeout=30).raise_for_status()

        page.get_by_role("searchbox", name="Filter by user name").fill("adm")
        expect(page).to_have_url(re.compile(r"/account/sign-in\?redirect_url=%2Fharbor%2Fusers$"))
        expect(page.get_by_text("Your session has ended. Please sign in again.")).to_be_visible()
        ui.screenshot("37-session-ended", full_page=False)
        page.get_by_label("User name").fill("admin")
        page.get_by_label("Password").fill(ADMIN_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/harbor/users")
        expect(page.get_by_role("heading", name="Users")).to_be_visible()
        ui.assert_clean()


def test_language_is_remembered_per_user(stack: Stack, chromium, member: tuple[str, str]):  # noqa: F811
    username, password = member
    with open_page(chromium, stack.url) as ui:
        page = ui.page
        ui.sign_in("admin", ADMIN_PASSWORD)
        page.locator(".language-menu .dropdown-toggle").click()
        page.get_by_role("menuitem", name="简体中文").click()
        expect(page.get_by_role("heading", name="项目")).to_be_visible()
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        ui.goto("/harbor/projects")  # a full reload keeps the choice
        expect(page.get_by_role("link", name="用户管理")).to_be_visible()
        ui.screenshot("38-projects-zh-CN")

        # Another user in the same browser picks English for themselves...
        page.locator(".user-menu .dropdown-toggle").click()
        page.get_by_role("menuitem", name="退出登录").click()
        page.wait_for_url("**/account/sign-in")
        page.get_by_label("用户名").fill(username)
        page.get_by_label("密码").fill(password)
        page.get_by_role("button", name="登录").click()
        page.wait_for_url("**/harbor/projects")
        page.locator(".language-menu .dropdown-toggle").click()
        page.get_by_role("menuitem", name="English").click()
        expect(page.get_by_role("heading", name="Projects")).to_be_visible()
        ui.sign_out()

        # ...and admin still gets Chinese.
        page.get_by_label("User name").fill("admin")
        page.get_by_label("Password").fill(ADMIN_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/harbor/projects")
        expect(page.get_by_role("heading", name="项目")).to_be_visible()
        ui.assert_clean()
