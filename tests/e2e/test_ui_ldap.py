"""LDAP in the browser, against a real slapd and a stack of its own (auth_mode can only change
while ``admin`` is the only user, so the shared stack will not do).

The administrator switches the authentication mode to LDAP, tries "Test LDAP connection" with a
wrong and then the right password, has a malformed URL refused at the field, and saves. A
directory user then signs in through the UI (onboarded at first login), and an LDAP group added
as a project member gives its members their role, all checked through the API as well.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from support.browser import Api, chromium, open_page  # noqa: F401 (chromium is a fixture)
from support.ldap import PASSWORDS, Directory, slapd_server
from support.stack import ADMIN_PASSWORD, Stack, running_stack

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def directory() -> Iterator[Directory]:
    with slapd_server() as found:
        yield found


@pytest.fixture(scope="module")
def ldap_stack(postgres_admin_url: str, rabbitmq_url: str) -> Iterator[Stack]:
    with running_stack("ui_ldap", postgres_admin_url, rabbitmq_url) as stack:
        yield stack


def test_ldap_configuration_sign_in_and_group_membership(ldap_stack: Stack, directory: Directory, chromium):  # noqa: F811
    admin = Api(ldap_stack.url, "admin", ADMIN_PASSWORD)
    with open_page(chromium, ldap_stack.url) as ui:
        page = ui.page
        ui.sign_in("admin", ADMIN_PASSWORD)
        ui.goto("/harbor/configs")
        auth = page.locator(".card", has=page.get_by_role("heading", name="Authentication"))
        expect(auth.get_by_label("LDAP URL")).to_be_hidden()
        auth.get_by_label("Authentication mode").select_option("ldap_auth")
        expect(auth.get_by_label("Allow self-registration")).to_be_hidden()
        auth.get_by_label("LDAP URL").fill(directory.url)
        auth.get_by_label("Search DN").fill(directory.search_dn)
        auth.get_by_label("Search password").fill("wrong-password")
        auth.get_by_label("Base DN", exact=True).fill(directory.people_dn)
        auth.get_by_label("User filter").fill("(objectClass=inetOrgPerson)")
        auth.get_by_label("UID attribute").fill("uid")
        auth.get_by_label("Group base DN").fill(directory.groups_dn)
        auth.get_by_label("Group membership attribute").fill("memberOf")

        # "Test LDAP connection" uses what is typed, saved or not.
        auth.get_by_role("button", name="Test LDAP connection").click()
        expect(auth.locator(".ping-result .alert-error")).to_contain_text("Connection failed")
        auth.get_by_label("Search password").fill(directory.search_password)
        auth.get_by_role("button", name="Test LDAP connection").click()
        expect(auth.locator(".ping-result")).to_contain_text("Connected to the LDAP server.")
        assert admin.json("/configurations")["auth_mode"]["value"] == "db_auth"  # testing saved nothing

        # A malformed URL is refused next to the field and nothing is saved.
        auth.get_by_label("LDAP URL").fill("http://not-ldap")
        auth.get_by_role("button", name="Save").click()
        expect(ui.field_error("LDAP URL")).to_contain_text("ldap://host:port")
        assert admin.json("/configurations")["auth_mode"]["value"] == "db_auth"
        ui.screenshot("50-configuration-ldap")

        auth.get_by_label("LDAP URL").fill(directory.url)
        auth.get_by_role("button", name="Save").click()
        expect(page.get_by_text("Configuration saved.")).to_be_visible()
        saved = admin.json("/configurations")
        assert saved["auth_mode"]["value"] == "ldap_auth"
        assert saved["ldap_url"]["value"] == directory.url
        assert "ldap_search_password" not in saved  # write-only
        ui.assert_clean()

    # A directory user signs in through the UI; the account is created at that moment.
    with open_page(chromium, ldap_stack.url) as ui:
        ui.sign_in("alice", PASSWORDS["alice"])
        expect(ui.page.locator(".user-menu")).to_contain_text("alice")
        ui.assert_clean()
    assert [u["username"] for u in admin.json("/users", q="username=alice")] == ["alice"]

    # An LDAP group as a project member: its members get the role.
    admin.post("/projects", {"project_name": "ldap_team", "metadata": {"public": "false"}})
    project = admin.json("/projects/ldap_team")
    with open_page(chromium, ldap_stack.url) as ui:
        page = ui.page
        ui.sign_in("admin", ADMIN_PASSWORD)
        ui.goto(f"/harbor/projects/{project['project_id']}/members")
        page.get_by_role("button", name="Add LDAP group").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_label("Group DN").fill(f"cn=nobody,{directory.groups_dn}")
        dialog.get_by_role("button", name="Add", exact=True).click()
        expect(ui.field_error("Group DN")).to_contain_text("not found")
        dialog.get_by_label("Group DN").fill(directory.group_dn("developers"))
        dialog.get_by_label("Role").select_option(label="Developer")
        dialog.get_by_role("button", name="Add", exact=True).click()
        expect(dialog).to_be_hidden()
        expect(page.get_by_role("cell", name="Group")).to_be_visible()
        ui.screenshot("51-ldap-group-member")
        ui.assert_clean()
    members = admin.json(f"/projects/{project['project_id']}/members")
    assert [(m["entity_type"], m["role_id"]) for m in members if m["entity_type"] == "g"] == [("g", 2)]

    with open_page(chromium, ldap_stack.url) as ui:
        ui.sign_in("bob", PASSWORDS["bob"])
        row = ui.page.get_by_role("row").filter(has_text="ldap_team")
        expect(row).to_contain_text("Developer")
        ui.assert_clean()
