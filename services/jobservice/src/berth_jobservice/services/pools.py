"""This process as a worker pool (Harbor's jobservice pools): registration and heartbeat."""

from __future__ import annotations

import os
import socket
import uuid

from berth_common.db import Database
from berth_jobservice.db import pools as pools_db


def new_pool_id() -> str:
    """A pool id unique to this process start: host, pid and a random suffix."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def register(db: Database, pool_id: str, concurrency: int) -> None:
    with db.transaction() as cur:
        pools_db.register(cur, pool_id=pool_id, host=socket.gethostname(), pid=os.getpid(), concurrency=concurrency)


def heartbeat(db: Database, pool_id: str, concurrency: int, *, prune_after_seconds: float) -> None:
    """Refresh our heartbeat (re-registering if our row was pruned) and forget long-dead pools."""
    with db.transaction() as cur:
        if not pools_db.heartbeat(cur, pool_id):
            pools_db.register(cur, pool_id=pool_id, host=socket.gethostname(), pid=os.getpid(), concurrency=concurrency)
        pools_db.prune(cur, prune_after_seconds)


def unregister(db: Database, pool_id: str) -> None:
    with db.transaction() as cur:
        pools_db.unregister(cur, pool_id)
