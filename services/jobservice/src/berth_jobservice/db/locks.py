"""PostgreSQL advisory locks of the jobservice: who is the scheduler, the relay, the sweeper, and
which concurrency slots of a job type are taken.

Keys are 64-bit: a fixed namespace in the high half ("jobs" in ASCII) and a purpose in the low
half. Session locks (held by a connection until it closes) mark a leader or a running limited
job: if the process dies, PostgreSQL drops its connection and the lock with it. Transaction locks
serialise short periodic work (the sweeper) without blocking anyone.
"""

from __future__ import annotations

import zlib
from typing import Any

NAMESPACE = 0x6A6F6273  # "jobs"

SCHEDULER = 1
RELAY = 2
SWEEPER = 3


def key(purpose: int) -> int:
    """The bigint key of a fixed purpose (SCHEDULER, RELAY, SWEEPER)."""
    return (NAMESPACE << 32) | purpose


def slot_key(job_type: str, slot: int) -> int:
    """The key of concurrency slot ``slot`` (0..32767) of ``job_type``.

    The low half is 16 bits of crc32(job_type) (stable across processes), a marker bit that keeps
    it clear of the fixed purposes, and the slot number. Two types sharing a hash would only share
    slots, never lose mutual exclusion.
    """
    low = (zlib.crc32(job_type.encode()) & 0xFFFF0000) | 0x8000 | (slot & 0x7FFF)
    return (NAMESPACE << 32) | low


def try_session_lock(cur: Any, lock_key: int) -> bool:
    cur.execute("SELECT pg_try_advisory_lock(%(k)s)", {"k": lock_key})
    return bool(cur.fetchone()[0])


def session_unlock(cur: Any, lock_key: int) -> bool:
    cur.execute("SELECT pg_advisory_unlock(%(k)s)", {"k": lock_key})
    return bool(cur.fetchone()[0])


def try_transaction_lock(cur: Any, lock_key: int) -> bool:
    cur.execute("SELECT pg_try_advisory_xact_lock(%(k)s)", {"k": lock_key})
    return bool(cur.fetchone()[0])
