"""The resumable digest: same results as hashlib, states that survive a process, forgeries refused."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time

import pytest

from berth_registry.hashing import ResumableHash, resumable_available


def test_libcrypto_is_available():
    # The deployment images ship OpenSSL 3; without it uploads would fall back to rehashing.
    assert resumable_available()


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
@pytest.mark.parametrize("split", [0, 1, 63, 64, 65, 127, 128, 129, 1000, 4095])
def test_resumed_hash_equals_hashlib(algorithm, split):
    data = os.urandom(4096)
    first = ResumableHash(algorithm)
    first.update(data[:split])
    state = first.state()

    resumed = ResumableHash.restore(state, split)

    assert resumed is not None and resumed.algorithm == algorithm
    resumed.update(data[split:])
    assert resumed.digest() == f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def test_hexdigest_does_not_end_the_hash():
    hasher = ResumableHash("sha256")
    hasher.update(b"abc")
    assert hasher.hexdigest() == hashlib.sha256(b"abc").hexdigest()
    hasher.update(b"def")
    assert hasher.hexdigest() == hashlib.sha256(b"abcdef").hexdigest()


def test_state_continues_in_another_process():
    data = os.urandom(100_000)
    hasher = ResumableHash("sha512")
    hasher.update(data[:70_001])
    code = (
        "import sys; from berth_registry.hashing import ResumableHash; "
        "h = ResumableHash.restore(bytes.fromhex(sys.argv[1]), 70001); h.update(bytes.fromhex(sys.argv[2])); print(h.digest())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, hasher.state().hex(), data[70_001:].hex()], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "sha512:" + hashlib.sha512(data).hexdigest()


@pytest.mark.parametrize(
    "state",
    [None, b"", b"BHS1", b"XXXX\x01" + bytes(112), b"BHS1\x09" + bytes(112), b"BHS1\x01" + bytes(111), os.urandom(200)],
)
def test_malformed_states_are_refused(state):
    assert ResumableHash.restore(state, 0) is None


def test_state_for_another_offset_is_refused():
    hasher = ResumableHash("sha256")
    hasher.update(b"x" * 1000)
    assert ResumableHash.restore(hasher.state(), 1000) is not None
    for offset in (0, 999, 1001, 1000 + 2**32):
        assert ResumableHash.restore(hasher.state(), offset) is None


def test_throughput_matches_hashlib():
    """ctypes adds one call per update; with 1 MiB updates that is noise next to hashing."""
    block = os.urandom(1024 * 1024)
    rounds = 64

    def ours() -> None:
        hasher = ResumableHash("sha256")
        for _ in range(rounds):
            hasher.update(block)

    def theirs() -> None:
        hasher = hashlib.sha256()
        for _ in range(rounds):
            hasher.update(block)

    def timed(fn) -> float:
        started = time.perf_counter()
        fn()
        return time.perf_counter() - started

    ours_time = min(timed(ours) for _ in range(3))
    hashlib_time = min(timed(theirs) for _ in range(3))
    assert ours_time < hashlib_time * 1.5, (ours_time, hashlib_time)
