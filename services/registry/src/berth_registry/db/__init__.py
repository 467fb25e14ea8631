"""SQL of the registry, one module per aggregate, returning frozen dataclasses.

Two helpers serve the pull path. ``read_cursor``: a single read-only statement on a pooled
connection in autocommit mode costs one round trip instead of three (BEGIN, SELECT, COMMIT).
``execute_prepared``: the hottest statements run as server-side prepared statements, because
planning a four-table join costs more than executing it.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg2.extensions

# Names of the statements each connection has prepared (prepared statements live as long as the
# server session and survive rollbacks; a new connection starts with none).
_prepared: weakref.WeakKeyDictionary[psycopg2.extensions.connection, set[str]] = weakref.WeakKeyDictionary()
_prepared_lock = threading.Lock()


def execute_prepared(cur: psycopg2.extensions.cursor, name: str, statement: str, params: Sequence[Any]) -> None:
    """Execute ``statement`` (with ``$1``, ``$2``... placeholders) as the prepared statement ``name``.

    ``name`` and ``statement`` are constants of the calling module, never client input.
    """
    with _prepared_lock:
        known = _prepared.setdefault(cur.connection, set())
    if name not in known:
        cur.execute(f"PREPARE {name} AS {statement}")
        known.add(name)
    cur.execute(f"EXECUTE {name} ({', '.join(['%s'] * len(params))})", list(params))


@contextlib.contextmanager
def read_cursor(db: Any) -> Iterator[psycopg2.extensions.cursor]:
    """A cursor for read-only statements that need no transaction of their own.

    ``db`` is a berth_common.db.Database (or the tests' SingleConnection). On an idle pooled
    connection the statements run in autocommit; inside an already open transaction (the test
    fixture's outer one) they simply run in it.
    """
    with db.connection() as conn:
        if conn.autocommit or conn.info.transaction_status != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
            with conn.cursor() as cur:
                yield cur
            return
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                yield cur
        finally:
            conn.autocommit = False
