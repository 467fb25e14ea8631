"""SQL of UI sessions (table ``ui_sessions``), keyed by the SHA-256 of the cookie's random id."""

from __future__ import annotations

import dataclasses
import datetime as dt


@dataclasses.dataclass(frozen=True)
class Session:
    id_hash: bytes
    user_id: int
    csrf_token: str = dataclasses.field(repr=False)
    last_seen_at: dt.datetime
    expires_at: dt.datetime


def insert(cur, id_hash: bytes, user_id: int, csrf_token: str, timeout_seconds: int) -> None:
    cur.execute(
        """
        INSERT INTO ui_sessions (id_hash, user_id, csrf_token, expires_at)
        VALUES (%(id)s, %(uid)s, %(csrf)s, now() + make_interval(secs => %(timeout)s))
        """,
        {"id": id_hash, "uid": user_id, "csrf": csrf_token, "timeout": timeout_seconds},
    )


def get_live(cur, id_hash: bytes) -> Session | None:
    """The session if it exists and has not expired."""
    cur.execute(
        """
        SELECT id_hash, user_id, csrf_token, last_seen_at, expires_at FROM ui_sessions
        WHERE id_hash = %(id)s AND expires_at > now()
        """,
        {"id": id_hash},
    )
    row = cur.fetchone()
    return Session(bytes(row[0]), *row[1:]) if row else None


def extend(cur, id_hash: bytes, timeout_seconds: int) -> None:
    cur.execute(
        """
        UPDATE ui_sessions SET last_seen_at = now(), expires_at = now() + make_interval(secs => %(timeout)s)
        WHERE id_hash = %(id)s
        """,
        {"id": id_hash, "timeout": timeout_seconds},
    )


def delete(cur, id_hash: bytes) -> None:
    cur.execute("DELETE FROM ui_sessions WHERE id_hash = %(id)s", {"id": id_hash})


def delete_for_user(cur, user_id: int, keep: bytes | None = None) -> None:
    """Revoke every session of a user (except ``keep``, the caller's own)."""
    cur.execute(
        "DELETE FROM ui_sessions WHERE user_id = %(uid)s AND id_hash IS DISTINCT FROM %(keep)s",
        {"uid": user_id, "keep": keep},
    )


def purge_expired(cur) -> None:
    cur.execute("DELETE FROM ui_sessions WHERE expires_at < now()")
