"""Session advisory locks held on a connection of their own: leaders and concurrency slots.

The lock lives as long as its connection. A process that dies loses its connection and so its
locks, which is exactly what lets another replica take over the scheduler or the relay, and what
frees the slot of a singleton job whose process was killed. Pooled connections are not used
because a lock must not travel back into the pool with its connection.
"""

from __future__ import annotations

from collections.abc import Iterable

import psycopg2
import psycopg2.extensions
import structlog

from berth_jobservice.db import locks as locks_db

log = structlog.get_logger(__name__)


class SessionLock:
    """One advisory lock (the first free of ``keys``) on a dedicated connection."""

    def __init__(self, database_url: str, keys: Iterable[int], *, name: str) -> None:
        self._url = database_url
        self._keys = list(keys)
        self._name = name
        self._conn: psycopg2.extensions.connection | None = None
        self.key: int | None = None

    @property
    def held(self) -> bool:
        return self.key is not None

    def try_acquire(self) -> bool:
        """Take the first free key; False when all are taken or the database is unreachable."""
        if self.key is not None:
            return True
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg2.connect(self._url, connect_timeout=5, application_name=f"berth-jobservice-{self._name}")
                self._conn.autocommit = True
            with self._conn.cursor() as cur:
                for lock_key in self._keys:
                    if locks_db.try_session_lock(cur, lock_key):
                        self.key = lock_key
                        return True
        except psycopg2.Error as exc:
            log.warning("session_lock_unavailable", lock=self._name, error=str(exc).splitlines()[0] if str(exc) else "")
            self._close()
        return False

    def alive(self) -> bool:
        """Whether the lock is still ours: its connection answers. Drops the lock if not."""
        if self.key is None or self._conn is None or self._conn.closed:
            self.key = None
            return False
        try:
            with self._conn.cursor() as cur:
                cur.execute("SELECT 1")
            return True
        except psycopg2.Error:
            log.warning("session_lock_lost", lock=self._name)
            self._close()
            return False

    def release(self) -> None:
        """Give the lock up and close its connection."""
        if self.key is not None and self._conn is not None and not self._conn.closed:
            try:
                with self._conn.cursor() as cur:
                    locks_db.session_unlock(cur, self.key)
            except psycopg2.Error:
                pass  # closing the connection below releases it anyway
        self._close()

    def _close(self) -> None:
        self.key = None
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg2.Error:
                pass
        self._conn = None


def acquire_slot(database_url: str, job_type: str, max_concurrency: int) -> SessionLock | None:
    """One of the ``max_concurrency`` slots of ``job_type``, or None when all are taken."""
    lock = SessionLock(database_url, (locks_db.slot_key(job_type, slot) for slot in range(max_concurrency)), name=f"slot-{job_type}")
    if lock.try_acquire():
        return lock
    lock.release()
    return None
