"""Upload sessions outlive the process: another registry instance resumes the hash and finishes.

Each ``make_pooled()`` app has its own connection pool and shares the database and the storage
root, exactly like a restarted process or a second replica.
"""

from __future__ import annotations

import os
import uuid

from berth_registry.hashing import ResumableHash
from berth_registry.storage import paths
from support.oci_client import digest_of, expect


def session_row(registry, location: str) -> tuple[int, bytes | None]:
    [(size, state)] = registry.sql("SELECT size, hash_state FROM blob_uploads WHERE upload_id = %s", (location.rsplit("/", 1)[1],))
    return size, bytes(state) if state is not None else None


def no_rehash(registry) -> None:
    """Make the app fail if it ever has to hash stored content again."""

    def refuse(path: str, algorithm: str) -> str:
        raise AssertionError("the saved hash state should have been resumed")

    registry.app.extensions["berth.blobs"].digest_of = refuse


def test_chunked_upload_started_in_one_process_is_finished_by_another(make_pooled):
    first, second = make_pooled(), make_pooled()
    repo = first.repo()
    data = os.urandom(3 * 1024 * 1024 + 17)
    digest = digest_of(data)
    chunk = 1024 * 1024
    client = first.client(repo)
    location = client.start_upload(repo).headers["Location"]
    for start in (0, chunk):
        location = client.patch_chunk(location, data[start : start + chunk], start).headers["Location"]
    size, state = session_row(first, location)
    assert size == 2 * chunk
    assert ResumableHash.restore(state, size) is not None, "a resumable state was saved"
    first.app.extensions["berth.pulls"].close()
    first.db.close()  # the first process is gone

    no_rehash(second)
    other = second.client(repo)
    assert expect(other.request("GET", location), 204).headers["Range"] == f"0-{2 * chunk - 1}"
    location = other.patch_chunk(location, data[2 * chunk : 3 * chunk], 2 * chunk).headers["Location"]
    reply = other.request("PUT", f"{location}?digest={digest}", body=data[3 * chunk :])

    expect(reply, 201)
    assert other.pull_blob(repo, digest) == data


def test_lost_or_forged_hash_state_is_rehashed_from_storage(make_pooled):
    registry = make_pooled()
    repo = registry.repo()
    client = registry.client(repo)
    data = os.urandom(200_000)
    digest = digest_of(data)
    for forged in (None, os.urandom(117), b"BHS1\x01" + bytes(112)):
        location = client.start_upload(repo).headers["Location"]
        location = client.patch_chunk(location, data[:100_000], 0).headers["Location"]
        registry.sql("UPDATE blob_uploads SET hash_state = %s WHERE upload_id = %s", (forged, location.rsplit("/", 1)[1]))
        location = client.patch_chunk(location, data[100_000:], 100_000).headers["Location"]
        expect(client.request("PUT", f"{location}?digest={digest}", body=b""), 201)
    assert client.pull_blob(repo, digest) == data


def test_bytes_written_by_a_crashed_request_are_adopted(make_pooled):
    """Storage holds more than the row says (a process died mid-chunk): storage wins."""
    registry = make_pooled()
    repo = registry.repo()
    client = registry.client(repo)
    data = os.urandom(90_000)
    location = client.start_upload(repo).headers["Location"]
    location = client.patch_chunk(location, data[:30_000], 0).headers["Location"]
    upload_id = location.rsplit("/", 1)[1]
    writer = registry.storage.writer(paths.upload_data(upload_id), append=True)
    writer.write(data[30_000:50_000])  # the part of the next chunk that reached the disk
    writer.close()

    status = expect(client.request("GET", location), 204)
    assert status.headers["Range"] == "0-49999"
    # The row adopts storage's count; its hash state (for 30000 bytes) is dropped.
    assert session_row(registry, location) == (50_000, None)

    location = client.patch_chunk(location, data[50_000:], 50_000).headers["Location"]
    expect(client.request("PUT", f"{location}?digest={digest_of(data)}", body=b""), 201)
    assert client.pull_blob(repo, digest_of(data)) == data


def test_a_session_being_written_refuses_a_second_writer(make_pooled):
    registry = make_pooled()
    repo = registry.repo()
    client = registry.client(repo)
    location = client.start_upload(repo).headers["Location"]
    location = client.patch_chunk(location, b"x" * 100, 0).headers["Location"]
    upload_id = location.rsplit("/", 1)[1]
    registry.sql(
        "UPDATE blob_uploads SET lease_owner = %s, lease_expires = now() + interval '1 minute' WHERE upload_id = %s",
        (str(uuid.uuid4()), upload_id),
    )

    busy = client.request("PATCH", location, headers={"Content-Range": "100-199"}, body=b"y" * 100)
    assert busy.status == 400
    assert busy.error_codes == ["BLOB_UPLOAD_INVALID"]
    assert expect(client.request("GET", location), 204).headers["Range"] == "0-99"

    # A writer that died loses its lease when it expires.
    registry.sql("UPDATE blob_uploads SET lease_expires = now() - interval '1 second' WHERE upload_id = %s", (upload_id,))
    client.patch_chunk(location, b"y" * 100, 100)
    expect(client.request("PUT", f"{location}?digest={digest_of(b'x' * 100 + b'y' * 100)}", body=b""), 201)
