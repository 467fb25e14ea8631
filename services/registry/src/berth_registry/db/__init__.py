"""SQL of the registry, one module per aggregate, returning frozen dataclasses.

``read_cursor`` serves the pull path: a single read-only statement on a pooled connection in
autocommit mode costs one round trip instead of three (BEGIN, SELECT, COMMIT).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import psycopg2.extensions


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
