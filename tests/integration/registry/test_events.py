"""Events: outbox and audit rows in the pushing/deleting transaction; pulls buffered, then flushed."""

from __future__ import annotations

import threading
import time

from berth_registry.services.events import WRITE_CHUNK
from support.oci_client import FlaskTransport, OCIClient, expect
from support.tokens import access


def outbox(registry, repo: str) -> list[tuple[str, dict]]:
    return registry.sql("SELECT event_type, payload FROM outbox WHERE ordering_key = %s ORDER BY event_id", (repo,))


def audit(registry, repo: str) -> list[tuple]:
    return registry.sql(
        "SELECT operation, resource_type, resource, username, client_ip FROM audit_log WHERE resource LIKE %s ORDER BY id", (f"{repo}%",)
    )


def test_push_writes_harbor_shaped_event_and_audit_row(registry):
    repo = registry.repo()
    client = registry.client(repo, sub="alice")
    digest, _ = client.push_image(repo, "v1", [b"layer"])

    [(event_type, payload)] = outbox(registry, repo)
    assert event_type == "PUSH_ARTIFACT"
    assert payload["type"] == "PUSH_ARTIFACT"
    assert payload["operator"] == "alice"
    assert isinstance(payload["occur_at"], int)
    assert payload["event_data"]["resources"] == [{"digest": digest, "tag": "v1", "resource_url": f"registry.example.test/{repo}:v1"}]
    repository = payload["event_data"]["repository"]
    assert repository["name"] == repo.split("/", 1)[1]
    assert repository["namespace"] == registry.project
    assert repository["repo_full_name"] == repo
    assert repository["repo_type"] == "private"
    assert isinstance(repository["date_created"], int)
    assert audit(registry, repo) == [("push", "artifact", f"{repo}:v1", "alice", "127.0.0.1")]


def test_refused_push_writes_no_event(registry):
    repo = registry.repo()
    client = registry.client(repo)
    client.put_manifest(repo, "v1", b"{not json", expect_status=400)
    assert outbox(registry, repo) == []
    assert audit(registry, repo) == []


def test_delete_events(registry):
    repo = registry.repo()
    client = registry.client(repo, sub="bob")
    digest, _ = client.push_image(repo, "v1", [b"layer"])
    client.put_manifest(repo, "v2", expect(client.get_manifest(repo, digest), 200).body)

    expect(client.delete_manifest(repo, "v2"), 202)
    expect(client.delete_manifest(repo, digest), 202)

    events = outbox(registry, repo)
    assert [event_type for event_type, _ in events] == ["PUSH_ARTIFACT", "PUSH_ARTIFACT", "DELETE_TAG", "DELETE_ARTIFACT"]
    assert events[2][1]["event_data"]["resources"] == [{"digest": digest, "tag": "v2", "resource_url": f"registry.example.test/{repo}:v2"}]
    assert [r["tag"] for r in events[3][1]["event_data"]["resources"]] == ["v1"]
    assert audit(registry, repo)[-2:] == [
        ("delete", "tag", f"{repo}:v2", "bob", "127.0.0.1"),
        ("delete", "artifact", f"{repo}:v1", "bob", "127.0.0.1"),
    ]


def test_pulls_are_buffered_then_flushed_in_one_batch(registry):
    repo = registry.repo()
    digest, _ = registry.client(repo).push_image(repo, "v1", [b"layer"])
    client = OCIClient(FlaskTransport(registry.app.test_client()), token=registry.token([access(repo, "pull")], sub="carol"))

    for headers in ({"X-Real-IP": "10.1.2.3"}, {"X-Forwarded-For": "10.9.9.9, 10.0.0.1"}, {}):
        expect(client.request("GET", f"/v2/{repo}/manifests/v1", headers=headers), 200)
    expect(client.request("GET", f"/v2/{repo}/manifests/{digest}"), 200)
    expect(client.head_manifest(repo, "v1"), 200)  # HEAD is not a pull

    # Nothing is written on the request path...
    assert registry.sql("SELECT pull_count FROM repositories WHERE name = %s", (repo,)) == [(0,)]
    assert [e for e, _ in outbox(registry, repo)] == ["PUSH_ARTIFACT"]

    assert registry.flush_pulls() == 4

    assert registry.sql("SELECT pull_count FROM repositories WHERE name = %s", (repo,)) == [(4,)]
    [(artifact_pulled, tag_pulled)] = registry.sql(
        "SELECT a.pull_time, t.pull_time FROM artifacts a JOIN tags t USING (artifact_id) WHERE a.digest = %s", (digest,)
    )
    assert artifact_pulled is not None and tag_pulled is not None
    pulls = [payload for event_type, payload in outbox(registry, repo) if event_type == "PULL_ARTIFACT"]
    assert [p["event_data"]["resources"][0]["tag"] for p in pulls] == ["v1", "v1", "v1", ""]
    assert [p["operator"] for p in pulls] == ["carol"] * 4
    rows = [row for row in audit(registry, repo) if row[0] == "pull"]
    assert rows == [
        ("pull", "artifact", f"{repo}:v1", "carol", "10.1.2.3"),
        ("pull", "artifact", f"{repo}:v1", "carol", "10.9.9.9"),
        ("pull", "artifact", f"{repo}:v1", "carol", "127.0.0.1"),
        ("pull", "artifact", f"{repo}@{digest}", "carol", "127.0.0.1"),
    ]
    assert registry.flush_pulls() == 0


def test_a_large_batch_is_written_whole_and_in_order(registry):
    """More pulls than one write chunk, by users whose names need COPY's escapes."""
    repo = registry.repo()
    registry.client(repo).push_image(repo, "v1", [b"layer"])
    count = 2 * WRITE_CHUNK + 7
    for index in range(count):
        client = OCIClient(FlaskTransport(registry.app.test_client()), token=registry.token([access(repo, "pull")], sub=f"u{index}\\\t"))
        expect(client.get_manifest(repo, "v1"), 200)

    assert registry.flush_pulls() == count

    assert registry.sql("SELECT pull_count FROM repositories WHERE name = %s", (repo,)) == [(count,)]
    operators = [payload["operator"] for event_type, payload in outbox(registry, repo) if event_type == "PULL_ARTIFACT"]
    assert operators == [f"u{index}\\\t" for index in range(count)]
    assert [row[3] for row in audit(registry, repo) if row[0] == "pull"] == operators


def test_background_flusher_writes_within_its_interval(make_pooled):
    """A process's flush thread writes its pulls on its own, about every pull_flush_seconds."""
    registry = make_pooled(pull_flush_seconds=0.2)
    repo = registry.repo()
    client = registry.client(repo)
    client.push_image(repo, "v1", [b"layer"])
    expect(client.get_manifest(repo, "v1"), 200)

    deadline = time.monotonic() + 10
    while registry.sql("SELECT pull_count FROM repositories WHERE name = %s", (repo,)) != [(1,)]:
        assert time.monotonic() < deadline, "the pull was not flushed"
        time.sleep(0.05)
    assert [e for e, _ in outbox(registry, repo)] == ["PUSH_ARTIFACT", "PULL_ARTIFACT"]


def test_pulls_survive_a_failed_flush(make_pooled):
    """A batch that cannot be written is kept and written by the next flush."""
    registry = make_pooled()
    repo = registry.repo()
    client = registry.client(repo)
    client.push_image(repo, "v1", [b"layer"])
    expect(client.get_manifest(repo, "v1"), 200)
    recorder = registry.app.extensions["berth.pulls"]
    working_db = recorder.db

    class Broken:
        def transaction(self):
            raise RuntimeError("database unavailable")

    recorder.db = Broken()
    try:
        try:
            recorder.flush()
        except RuntimeError:
            pass
        else:
            raise AssertionError("flush should have failed")
    finally:
        recorder.db = working_db
    assert recorder.flush() == 1
    assert registry.sql("SELECT pull_count FROM repositories WHERE name = %s", (repo,)) == [(1,)]


def test_concurrent_pulls_are_all_counted(make_pooled):
    registry = make_pooled()
    repo = registry.repo()
    registry.client(repo).push_image(repo, "v1", [b"layer"])

    def pull() -> None:
        client = registry.client(repo, actions=["pull"])
        for _ in range(25):
            expect(client.get_manifest(repo, "v1"), 200)

    threads = [threading.Thread(target=pull) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    registry.flush_pulls()
    assert registry.sql("SELECT pull_count FROM repositories WHERE name = %s", (repo,)) == [(100,)]


def test_harbors_pull_switches_turn_off_pull_time_count_and_audit_but_not_the_event(registry):
    repo = registry.repo()
    digest, _ = registry.client(repo).push_image(repo, "v1", [b"layer"])
    client = OCIClient(FlaskTransport(registry.app.test_client()), token=registry.token([access(repo, "pull")], sub="carol"))
    for key in ("pull_time_update_disable", "pull_count_update_disable", "pull_audit_log_disable"):
        registry.sql("INSERT INTO configurations (k, v) VALUES (%s, 'true')", (key,))  # rolled back after the test

    expect(client.request("GET", f"/v2/{repo}/manifests/v1"), 200)
    assert registry.flush_pulls() == 1

    assert registry.sql("SELECT pull_count FROM repositories WHERE name = %s", (repo,)) == [(0,)]
    assert registry.sql("SELECT pull_time FROM artifacts WHERE digest = %s", (digest,)) == [(None,)]
    assert [row for row in audit(registry, repo) if row[0] == "pull"] == []
    assert [e for e, _ in outbox(registry, repo)] == ["PUSH_ARTIFACT", "PULL_ARTIFACT"]  # webhooks still see it

    # Each switch on its own.
    registry.sql("UPDATE configurations SET v = 'false' WHERE k IN ('pull_count_update_disable', 'pull_audit_log_disable')")
    expect(client.request("GET", f"/v2/{repo}/manifests/v1"), 200)
    assert registry.flush_pulls() == 1
    assert registry.sql("SELECT pull_count FROM repositories WHERE name = %s", (repo,)) == [(1,)]
    assert registry.sql("SELECT pull_time FROM artifacts WHERE digest = %s", (digest,)) == [(None,)]
    assert [row[2] for row in audit(registry, repo) if row[0] == "pull"] == [f"{repo}:v1"]


def forwarded(registry, repo: str) -> list[dict]:
    rows = registry.sql("SELECT payload FROM outbox WHERE event_type = 'AUDIT_LOG' ORDER BY event_id")
    return [payload for (payload,) in rows if payload["resource"].startswith(f"{repo}:") or payload["resource"].startswith(f"{repo}@")]


def test_harbors_audit_switches_apply_to_push_pull_and_delete(registry):
    repo = registry.repo()
    client = registry.client(repo, sub="dave")
    puller = OCIClient(FlaskTransport(registry.app.test_client()), token=registry.token([access(repo, "pull")], sub="erin"))
    # rolled back after the test
    registry.sql("INSERT INTO configurations (k, v) VALUES ('disabled_audit_log_event_types', '\"create_artifact,pull_artifact\"')")
    digest, _ = client.push_image(repo, "v1", [b"layer"])
    expect(puller.request("GET", f"/v2/{repo}/manifests/v1"), 200)
    registry.flush_pulls()
    assert audit(registry, repo) == [] and forwarded(registry, repo) == []
    assert [e for e, _ in outbox(registry, repo)] == ["PUSH_ARTIFACT", "PULL_ARTIFACT"]  # webhooks are another matter

    # Forwarded and not stored: the records travel through the outbox, in the same transactions.
    registry.sql("UPDATE configurations SET v = '\"\"' WHERE k = 'disabled_audit_log_event_types'")
    registry.sql(
        "INSERT INTO configurations (k, v) VALUES ('audit_log_forward_endpoint', '\"127.0.0.1:1514\"'), ('skip_audit_log_database', 'true')"
    )
    client.put_manifest(repo, "v2", expect(client.get_manifest(repo, digest), 200).body)
    expect(puller.request("GET", f"/v2/{repo}/manifests/v2"), 200)
    registry.flush_pulls()
    expect(client.delete_manifest(repo, "v2"), 202)
    assert audit(registry, repo) == []
    assert sorted((p["event_type"], p["resource"], p["username"]) for p in forwarded(registry, repo)) == [
        ("create_artifact", f"{repo}:v2", "dave"),
        ("delete_tag", f"{repo}:v2", "dave"),
        ("pull_artifact", f"{repo}:v2", "erin"),
        ("pull_artifact", f"{repo}@{digest}", "dave"),  # the GET by digest that fetched the manifest
    ]
