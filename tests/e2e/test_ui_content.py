"""Browsing and changing content in the UI: a multi-platform index pushed with skopeo shows its
platforms and children, its pull command is copied to the clipboard, tags are added and deleted
from the artifact page (the tag form refusing bad names), the artifact is deleted after
confirmation, a project still holding a repository refuses deletion with the server's reason,
and the repository and then the project are deleted. Every change is checked through the API.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from support.browser import Api, chromium, open_page  # noqa: F401 (chromium is a fixture)
from support.images import write_layout
from support.stack import ADMIN_PASSWORD, Stack

REPO, TAG = "multi", "v1"


@pytest.mark.timeout(300)
def test_index_platforms_tags_and_delete(stack: Stack, chromium, tmp_path: Path):  # noqa: F811
    admin = Api(stack.url, "admin", ADMIN_PASSWORD)
    name = f"uicontent{uuid.uuid4().hex[:8]}"
    admin.post("/projects", {"project_name": name, "metadata": {"public": "false"}})
    project = admin.json(f"/projects/{name}")
    image = write_layout(tmp_path / "layout", tag=TAG, platforms=[("linux", "amd64"), ("linux", "arm64")], layers=1, layer_size=4096)
    subprocess.run(
        ["skopeo", "copy", "--all", "--dest-tls-verify=false", "--dest-creds", f"admin:{ADMIN_PASSWORD}",
         image.reference, f"docker://{stack.registry_host}/{name}/{REPO}:{TAG}"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    base = f"/projects/{name}/repositories/{REPO}/artifacts"
    repo_page = f"/harbor/projects/{project['project_id']}/repositories/{REPO}/artifacts-tab"

    with open_page(chromium, stack.url) as ui:
        page = ui.page
        ui.sign_in("admin", ADMIN_PASSWORD)
        ui.goto(repo_page)
        row = page.get_by_role("row").filter(has_text=image.digest[:19])
        for platform in image.manifests:  # "linux/amd64", "linux/arm64", in the index's order
            expect(row).to_contain_text(platform)
        expect(row).to_contain_text("index")
        expect(row).to_contain_text(TAG)

        # The index page lists its children with their platforms, each a link to the child.
        row.get_by_role("link", name=re.compile("^sha256:")).click()
        ui.settle()
        architectures = page.locator(".card", has=page.get_by_role("heading", name="Architectures"))
        for platform, child in image.manifests.items():
            child_row = architectures.get_by_role("row").filter(has_text=platform)
            expect(child_row.get_by_role("link")).to_have_attribute("href", f"{repo_page}/artifacts/{child}")
        ui.screenshot("40-index-artifact")

        # The pull command's Copy button puts the exact command on the clipboard.
        page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        by_digest = page.locator(".copy-field", has=page.get_by_text("By digest", exact=True))
        by_digest.get_by_role("button", name="Copy").click()
        expect(page.get_by_text("Copied to the clipboard.")).to_be_visible()
        expected = f"podman pull {stack.registry_host}/{name}/{REPO}@{image.digest}"
        assert page.evaluate("navigator.clipboard.readText()") == expected

        # Add a tag: a bad name is refused in the browser, a good one lands on the server.
        page.get_by_role("button", name="Add tag").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_label("Tag").fill("-bad tag")
        dialog.get_by_role("button", name="Create").click()
        expect(ui.field_error("Tag")).to_contain_text("starts with a letter, digit or _")
        dialog.get_by_label("Tag").fill("release")
        dialog.get_by_role("button", name="Create").click()
        expect(dialog).to_be_hidden()
        ui.settle()
        tags = lambda: sorted(t["name"] for t in admin.json(f"{base}/{image.digest}/tags"))  # noqa: E731
        assert tags() == ["release", TAG]

        # A taken name goes to the server and its message shows at the field.
        page.get_by_role("button", name="Add tag").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_label("Tag").fill("release")
        dialog.get_by_role("button", name="Create").click()
        expect(ui.field_error("Tag")).not_to_be_empty()
        page.keyboard.press("Escape")
        assert tags() == ["release", TAG]

        # Delete a tag after confirming; cancelling first changes nothing.
        page.get_by_role("button", name="Delete tag release").click()
        page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
        assert tags() == ["release", TAG]
        page.get_by_role("button", name="Delete tag release").click()
        page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        expect(page.get_by_role("button", name="Delete tag release")).to_have_count(0)
        assert tags() == [TAG]

        # Delete the artifact from the repository page.
        ui.goto(repo_page)
        row = page.get_by_role("row").filter(has_text=image.digest[:19])
        row.get_by_role("button", name="Delete artifact").click()
        page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        expect(row).to_have_count(0)
        assert admin.get(f"{base}/{image.digest}").status_code == 404

        # A project that still holds a repository cannot be deleted: the server's reason shows.
        ui.goto("/harbor/projects")
        page.get_by_role("searchbox", name="Filter by name").fill(name)
        page.get_by_role("button", name=f"Delete project {name}").click()
        page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        expect(page.locator(".toast-error")).to_be_visible()
        assert admin.get(f"/projects/{name}").status_code == 200

        # Delete the repository, then the project.
        ui.goto(f"/harbor/projects/{project['project_id']}/repositories")
        page.get_by_role("button", name=f"Delete repository {name}/{REPO}").click()
        page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        expect(page.get_by_role("link", name=f"{name}/{REPO}")).to_have_count(0)
        assert admin.json(f"/projects/{name}/repositories") == []
        ui.goto("/harbor/projects")
        page.get_by_role("searchbox", name="Filter by name").fill(name)
        page.get_by_role("button", name=f"Delete project {name}").click()
        page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        expect(page.get_by_role("link", name=name, exact=True)).to_have_count(0)
        assert admin.get(f"/projects/{name}").status_code == 404
        ui.assert_clean()
