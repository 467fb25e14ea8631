"""PostgreSQL connection pool and the transaction boundary used by every service.

``Database.transaction()`` hands out a pooled connection inside one transaction: it commits when
the block ends normally and rolls back on any exception, then returns the connection to the pool.
Code that streams bytes must not hold a connection meanwhile (STYLE §10): open a transaction
before and after, not around, the long part.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import psycopg2
import psycopg2.extensions
import psycopg2.extras
import psycopg2.pool

psycopg2.extensions.register_adapter(dict, psycopg2.extras.Json)


class Database:
    """A thread-safe pool of connections to one PostgreSQL database."""

    def __init__(self, url: str, minconn: int = 0, maxconn: int = 8, application_name: str = "berth") -> None:
        self.url = url
        self._pool = psycopg2.pool.ThreadedConnectionPool(
            minconn,
            maxconn,
            dsn=url,
            application_name=application_name,
            connect_timeout=5,
        )
        # psycopg2's pool closes every returned connection beyond ``minconn``. Raising it after
        # construction keeps up to ``maxconn`` idle connections without connecting eagerly
        # (connections made before gunicorn's preload fork would be shared by the workers).
        self._pool.minconn = maxconn
        # ThreadedConnectionPool raises when exhausted; the semaphore makes callers wait instead.
        self._slots = threading.BoundedSemaphore(maxconn)

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg2.extensions.connection]:
        """A pooled connection; the caller manages transactions (autocommit is off)."""
        self._slots.acquire()
        conn = None
        try:
            conn = self._pool.getconn()
            if conn.closed:
                self._pool.putconn(conn, close=True)
                conn = self._pool.getconn()
            yield conn
        finally:
            if conn is not None:
                broken = conn.closed or conn.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_UNKNOWN
                if not broken and conn.info.transaction_status != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
                    conn.rollback()
                self._pool.putconn(conn, close=broken)
            self._slots.release()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[psycopg2.extensions.cursor]:
        """A cursor inside one transaction: commit on success, rollback on any exception."""
        with self.connection() as conn:
            try:
                with conn.cursor() as cur:
                    yield cur
                conn.commit()
            except BaseException:
                if not conn.closed:
                    conn.rollback()
                raise

    def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        with self.transaction() as cur:
            cur.execute("SELECT 1")

    def close(self) -> None:
        self._pool.closeall()


class SingleConnection:
    """A Database look-alike over one existing connection, for tests running in a savepoint.

    ``transaction()`` opens a SAVEPOINT instead of a transaction, so service code that commits
    its unit of work can run inside an outer test transaction that is rolled back afterwards.
    """

    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self.conn = conn
        self._depth = 0
        self._lock = threading.RLock()

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg2.extensions.connection]:
        with self._lock:
            yield self.conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[psycopg2.extensions.cursor]:
        with self._lock:
            self._depth += 1
            name = f"berth_sp_{self._depth}"
            with self.conn.cursor() as cur:
                cur.execute(f"SAVEPOINT {name}")
                try:
                    yield cur
                except BaseException:
                    cur.execute(f"ROLLBACK TO SAVEPOINT {name}")
                    raise
                else:
                    cur.execute(f"RELEASE SAVEPOINT {name}")
                finally:
                    self._depth -= 1

    def ping(self) -> None:
        with self.transaction() as cur:
            cur.execute("SELECT 1")

    def close(self) -> None:
        pass
