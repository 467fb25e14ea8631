"""Harbor's audit switches as every writer reads them (berth_common.audit)."""

from __future__ import annotations

import datetime as dt

from berth_common.audit import AuditPolicy, event_type, forward_payload, parse_event_types, spellings


def test_event_types_use_harbors_names():
    assert event_type("push", "artifact") == "create_artifact"
    assert event_type("pull", "artifact") == "pull_artifact"
    assert event_type("delete", "tag") == "delete_tag"
    assert event_type("Login", "User") == "login_user"


def test_lists_are_lower_cased_and_blanks_ignored():
    assert parse_event_types(" Create_User, ,delete_user ,") == {"create_user", "delete_user"}
    assert parse_event_types("") == frozenset()


def test_disabled_types_match_harbors_or_our_spelling():
    policy = AuditPolicy(disabled=frozenset({"create_artifact", "delete_user"}))
    assert not policy.records("push", "artifact")
    assert not policy.records("delete", "user")
    assert policy.records("pull", "artifact") and policy.records("delete", "artifact")
    assert not AuditPolicy(disabled=frozenset({"push_artifact"})).records("push", "artifact")


def test_the_database_is_skipped_only_when_records_are_forwarded():
    assert AuditPolicy().stores and not AuditPolicy().forwards
    assert AuditPolicy(skip_database=True).stores  # nowhere else to go: still stored
    forwarded = AuditPolicy(forward_endpoint="logs:514")
    assert forwarded.stores and forwarded.forwards
    assert not AuditPolicy(forward_endpoint="logs:514", skip_database=True).stores


def test_payload_times_are_utc_with_milliseconds():
    when = dt.datetime(2026, 1, 2, 5, 4, 5, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    payload = forward_payload(operation="push", resource_type="artifact", resource="a/b:c", username="u", client_ip="", op_time=when)
    assert payload["op_time"] == "2026-01-02T03:04:05.123Z"
    assert payload["event_type"] == "create_artifact" and payload["success"] is True


def test_spellings_add_ours_to_harbors_names():
    assert spellings(["create_artifact", "delete_tag", "create_artifact"]) == ["create_artifact", "push_artifact", "delete_tag"]
    assert spellings(["create"]) == ["create"]
