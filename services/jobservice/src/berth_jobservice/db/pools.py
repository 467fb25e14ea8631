"""Worker pools (``jobservice_pools`` in 0001): one row per running jobservice process."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from berth_jobservice.db import fetch_all, fetch_one

_COLUMNS = "pool_id, host, pid, concurrency, started_at, heartbeat_at"


@dataclasses.dataclass(frozen=True)
class Pool:
    pool_id: str
    host: str
    pid: int
    concurrency: int
    started_at: dt.datetime
    heartbeat_at: dt.datetime


def register(cur: Any, *, pool_id: str, host: str, pid: int, concurrency: int) -> None:
    cur.execute(
        """
        INSERT INTO jobservice_pools (pool_id, host, pid, concurrency) VALUES (%(id)s, %(host)s, %(pid)s, %(c)s)
        ON CONFLICT (pool_id) DO UPDATE SET heartbeat_at = now()
        """,
        {"id": pool_id, "host": host, "pid": pid, "c": concurrency},
    )


def heartbeat(cur: Any, pool_id: str) -> bool:
    """Refresh the pool's heartbeat; False when its row is gone (pruned while we were stalled)."""
    cur.execute("UPDATE jobservice_pools SET heartbeat_at = now() WHERE pool_id = %(id)s", {"id": pool_id})
    return cur.rowcount == 1


def unregister(cur: Any, pool_id: str) -> None:
    cur.execute("DELETE FROM jobservice_pools WHERE pool_id = %(id)s", {"id": pool_id})


def prune(cur: Any, older_than_seconds: float) -> int:
    """Forget pools whose heartbeat stopped long ago (processes that died without unregistering)."""
    cur.execute(
        "DELETE FROM jobservice_pools WHERE heartbeat_at < now() - make_interval(secs => %(age)s)",
        {"age": older_than_seconds},
    )
    return cur.rowcount


def list_all(cur: Any) -> list[Pool]:
    cur.execute(f"SELECT {_COLUMNS} FROM jobservice_pools ORDER BY started_at")
    return fetch_all(cur, Pool)


def get(cur: Any, pool_id: str) -> Pool | None:
    cur.execute(f"SELECT {_COLUMNS} FROM jobservice_pools WHERE pool_id = %(id)s", {"id": pool_id})
    return fetch_one(cur, Pool)
