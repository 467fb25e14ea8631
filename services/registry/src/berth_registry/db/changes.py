"""LISTEN for changes to manifest references, announced by the triggers of migration 0005.

Each notification on ``berth_manifest_refs`` names the repository whose tags, artifacts or row
changed in a committed transaction ('*' after a TRUNCATE: every repository).
"""

from __future__ import annotations

import psycopg2
import psycopg2.extensions

CHANNEL = "berth_manifest_refs"

# A dead server or network must be noticed within seconds, not after TCP's default minutes: an
# unnoticed loss would leave the cache trusting a listener that hears nothing.
_CONNECT_OPTIONS = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 15_000,  # milliseconds unacknowledged data may wait before the link counts as dead
}


def listen(url: str, application_name: str) -> psycopg2.extensions.connection:
    """A new connection listening on CHANNEL (autocommit, so LISTEN takes effect at once)."""
    conn = psycopg2.connect(url, application_name=application_name, **_CONNECT_OPTIONS)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"LISTEN {CHANNEL}")
    except BaseException:
        conn.close()
        raise
    return conn


def drain(conn: psycopg2.extensions.connection) -> list[int | None]:
    """Read what has arrived: repository ids, None meaning every repository.

    Raises psycopg2.Error (or OSError) when the connection is lost.
    """
    conn.poll()
    changed: list[int | None] = []
    while conn.notifies:
        payload = conn.notifies.pop(0).payload
        # Anything but a repository id (a truncate, or a stranger's NOTIFY) drops everything.
        changed.append(int(payload) if payload.isascii() and payload.isdigit() else None)
    return changed


def ping(conn: psycopg2.extensions.connection) -> None:
    """One round trip, so a connection that went away silently is noticed."""
    with conn.cursor() as cur:
        cur.execute("SELECT 1")
