"""Webhooks in the browser: the policy form refuses bad input, a policy created in the UI really
delivers a push to a real HTTP receiver, the list then shows that delivery as the last one, and
the policy is disabled and deleted again, each change checked through the API.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from support.browser import Api, chromium, open_page  # noqa: F401 (chromium is a fixture)
from support.images import write_layout
from support.stack import ADMIN_PASSWORD, Stack
from support.webhook_receiver import WebhookReceiver


@pytest.mark.timeout(300)
def test_webhook_policy_form_delivery_and_delete(stack: Stack, chromium, tmp_path: Path):  # noqa: F811
    admin = Api(stack.url, "admin", ADMIN_PASSWORD)
    name = f"uihooks{uuid.uuid4().hex[:8]}"
    admin.post("/projects", {"project_name": name, "metadata": {"public": "false"}})
    project = admin.json(f"/projects/{name}")
    policies = f"/projects/{project['project_id']}/webhook/policies"

    with WebhookReceiver() as receiver, open_page(chromium, stack.url) as ui:
        page = ui.page
        ui.sign_in("admin", ADMIN_PASSWORD)
        ui.goto(f"/harbor/projects/{project['project_id']}/webhook")
        expect(page.get_by_text("No webhooks.", exact=False)).to_be_visible()
        page.get_by_role("button", name="New webhook").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_label("Endpoint URL").fill("ftp://example.com/hook")
        dialog.get_by_label("Signing secret").fill("short")
        for box in dialog.locator(".permissions input[type=checkbox]").all():
            box.uncheck()
        dialog.get_by_role("button", name="Create").click()
        expect(ui.field_error("Name")).to_have_text("This field is required.")
        expect(ui.field_error("Endpoint URL")).to_contain_text("http:// or https://")
        expect(ui.field_error("Signing secret")).to_contain_text("16 to 256")

        dialog.get_by_label("Name").fill("ci-hook")
        dialog.get_by_label("Endpoint URL").fill(receiver.url)
        dialog.get_by_label("Signing secret").fill("")
        dialog.get_by_role("button", name="Create").click()
        expect(dialog.locator(".permissions .field-error")).to_have_text("Choose at least one event.")
        ui.screenshot("60-webhook-errors", full_page=False)
        assert admin.json(policies) == []

        dialog.get_by_label("Artifact pushed").check()
        dialog.get_by_role("button", name="Create").click()
        expect(dialog).to_be_hidden()
        [policy] = admin.json(policies)
        assert (policy["name"], policy["event_types"], policy["targets"][0]["address"]) == ("ci-hook", ["PUSH_ARTIFACT"], receiver.url)
        row = page.get_by_role("row").filter(has_text="ci-hook")
        expect(row).to_contain_text("Never triggered")

        # A push reaches the receiver, and the list shows it as the last delivery.
        image = write_layout(tmp_path / "layout", tag="v1", layers=1, layer_size=2048)
        subprocess.run(
            ["skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", f"admin:{ADMIN_PASSWORD}",
             image.reference, f"docker://{stack.registry_host}/{name}/hooked:v1"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        [delivery] = receiver.wait_for(1, timeout=60)
        assert delivery.json()["type"] == "PUSH_ARTIFACT"
        deadline = time.monotonic() + 30
        while True:
            ui.goto(f"/harbor/projects/{project['project_id']}/webhook")
            text = page.get_by_role("row").filter(has_text="ci-hook").inner_text()
            if "Success" in text or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert "Success" in text, text
        ui.screenshot("61-webhooks")

        # Disable through the edit form, then delete after confirming.
        page.get_by_role("row").filter(has_text="ci-hook").get_by_role("button", name="Edit").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_label("Enabled").uncheck()
        dialog.get_by_role("button", name="Save").click()
        expect(dialog).to_be_hidden()
        assert admin.json(policies)[0]["enabled"] is False
        page.get_by_role("button", name="Delete webhook ci-hook").click()
        page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        expect(page.get_by_role("row").filter(has_text="ci-hook")).to_have_count(0)
        assert admin.json(policies) == []
        ui.assert_clean()
