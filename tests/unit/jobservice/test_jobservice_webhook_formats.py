"""Harbor's webhook payload formats, signatures and policy validation, without any server."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from berth_jobservice.jobs.base import JobParameterError
from berth_jobservice.services import webhooks

PAYLOAD = {
    "type": "PUSH_ARTIFACT",
    "occur_at": 1714557600,
    "operator": "alice",
    "event_data": {
        "resources": [{"digest": "sha256:" + "0" * 64, "tag": "v1", "resource_url": "berth.example/library/app:v1"}],
        "repository": {"name": "app", "namespace": "library", "repo_full_name": "library/app", "repo_type": "public"},
    },
}


def test_default_format_is_the_harbor_payload_as_is():
    headers, body = webhooks.render("Default", PAYLOAD, event_id=1, project_id=2, policy_id=3)
    assert headers == {"Content-Type": "application/json"}
    assert json.loads(body) == PAYLOAD
    assert webhooks.render("", PAYLOAD, event_id=1, project_id=2, policy_id=3)[1] == body  # Harbor: empty = Default


def test_cloudevents_format():
    headers, body = webhooks.render("CloudEvents", PAYLOAD, event_id=1, project_id=2, policy_id=3, request_id="req-1")
    event = json.loads(body)
    assert headers == {"Content-Type": "application/cloudevents+json"}
    assert event == {
        "specversion": "1.0",
        "id": event["id"],
        "requestid": "req-1",
        "source": "/projects/2/webhook/policies/3",
        "type": "harbor.artifact.pushed",
        "datacontenttype": "application/json",
        "time": "2024-05-01T10:00:00Z",
        "data": PAYLOAD["event_data"],
        "operator": "alice",
    }
    again = json.loads(webhooks.render("CloudEvents", PAYLOAD, event_id=1, project_id=2, policy_id=3)[1])
    other = json.loads(webhooks.render("CloudEvents", PAYLOAD, event_id=1, project_id=2, policy_id=4)[1])
    assert again["id"] == event["id"] != other["id"]  # stable across retries, distinct per policy


@pytest.mark.parametrize(
    ("event_type", "cloud_type"),
    [
        ("PULL_ARTIFACT", "harbor.artifact.pulled"),
        ("DELETE_ARTIFACT", "harbor.artifact.deleted"),
        ("QUOTA_EXCEED", "harbor.quota.exceeded"),
        ("SCANNING_FAILED", "harbor.scan.failed"),
    ],
)
def test_cloudevents_types_follow_harbor(event_type, cloud_type):
    body = webhooks.render("CloudEvents", {**PAYLOAD, "type": event_type}, event_id=1, project_id=1, policy_id=1)[1]
    assert json.loads(body)["type"] == cloud_type


def test_unknown_formats_and_event_types_are_refused():
    with pytest.raises(JobParameterError):
        webhooks.render("Xml", PAYLOAD, event_id=1, project_id=1, policy_id=1)
    with pytest.raises(JobParameterError):
        webhooks.render("CloudEvents", {**PAYLOAD, "type": "CREATE_TAG"}, event_id=1, project_id=1, policy_id=1)


def test_signature_is_hmac_sha256_of_the_exact_body():
    body = b'{"a":1}'
    expected = "sha256=" + hmac.new(b"key", body, hashlib.sha256).hexdigest()
    assert webhooks.sign("key", body) == expected
    assert webhooks.verify("key", body, expected)
    assert not webhooks.verify("key", body + b" ", expected)
    assert not webhooks.verify("key", body, "")


def test_default_payload_fills_what_a_producer_left_out():
    filled = webhooks.default_payload("PULL_ARTIFACT", {"event_data": {"x": 1}})
    assert filled["type"] == "PULL_ARTIFACT" and filled["operator"] == "" and filled["event_data"] == {"x": 1}
    assert isinstance(filled["occur_at"], int)


def test_policy_targets_are_normalised():
    targets = webhooks.validate_policy(
        name="p", targets=[{"address": "http://h/x", "skip_cert_verify": 1, "auth_header": None}], event_types=["PUSH_ARTIFACT"]
    )
    assert targets == [{"type": "http", "address": "http://h/x", "auth_header": "", "skip_cert_verify": True, "payload_format": "Default"}]
