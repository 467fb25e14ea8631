"""Uploads stream: a 2 GiB layer pushed through the proxy leaves every registry process within
50 MiB of its idle memory (issue 3), and the blob reads back with the right digest."""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from pathlib import Path

import requests

from support.oci_client import HttpTransport, OCIClient
from support.stack import ADMIN_PASSWORD

ADMIN = ("admin", ADMIN_PASSWORD)
BLOCK = os.urandom(1024 * 1024)
BLOCKS = 2048  # 2 GiB
LIMIT = 50 * 1024 * 1024


def blob_stream():
    for number in range(BLOCKS):
        # Vary each block so no layer of the system could deduplicate its way through.
        yield number.to_bytes(8, "big") + BLOCK[8:]


def rss(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def process_tree(root: int) -> list[int]:
    """``root`` and its children (gunicorn master and workers)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == root:
                children.append(int(entry.name))
    return [root, *children]


class Sampler(threading.Thread):
    def __init__(self, pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.idle = {pid: rss(pid) or 0 for pid in pids}
        self.peak = dict(self.idle)
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.1):
            for pid in self.peak:
                self.peak[pid] = max(self.peak[pid], rss(pid) or 0)


def test_two_gib_push_keeps_registry_memory_flat(stack):
    project = f"mem-{uuid.uuid4().hex[:8]}"
    created = requests.post(f"{stack.url}/api/v2.0/projects", auth=ADMIN, json={"project_name": project}, timeout=30)
    assert created.status_code == 201, created.text
    repo = f"{project}/big"
    digest = hashlib.sha256()
    for block in blob_stream():
        digest.update(block)
    expected = f"sha256:{digest.hexdigest()}"

    sampler = Sampler(process_tree(stack.state()["registry"]["pid"]))
    sampler.start()
    try:
        # A streamed body cannot be replayed after a 401 challenge, so take the token up front.
        token = requests.get(f"{stack.url}/service/token", auth=ADMIN, timeout=30,
                             params={"service": "berth-registry", "scope": f"repository:{repo}:pull,push"}).json()["token"]  # fmt: skip
        client = OCIClient(HttpTransport(stack.url), token=token)
        assert client.push_blob_stream(repo, blob_stream(), expected) == expected
    finally:
        sampler.done.set()
        sampler.join()
    growth = {pid: sampler.peak[pid] - sampler.idle[pid] for pid in sampler.peak}
    assert max(growth.values()) < LIMIT, {pid: f"{g / 2**20:.1f} MiB" for pid, g in growth.items()}

    head = client.head_blob(repo, expected)
    assert head.status == 200 and int(head.headers["Content-Length"]) == BLOCKS * len(BLOCK)
    tail = client.get_blob(repo, expected, byte_range=f"bytes={BLOCKS * len(BLOCK) - 16}-")
    assert tail.status == 206 and tail.body == BLOCK[-16:]
