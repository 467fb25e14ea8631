"""SQL of the failed-login throttle (table ``login_failures``)."""

from __future__ import annotations

import datetime as dt


def state(cur, username: str, client_ip: str) -> tuple[bool, dt.datetime | None]:
    """(failures on record?, end of the lockout in force now or None) for (username, client)."""
    cur.execute(
        """
        SELECT CASE WHEN locked_until > now() THEN locked_until END FROM login_failures
        WHERE username = %(u)s AND client_ip = %(ip)s
        """,
        {"u": username, "ip": client_ip},
    )
    row = cur.fetchone()
    return (row is not None, row[0] if row else None)


def record_failure(cur, username: str, client_ip: str, *, window_seconds: int, max_failures: int, lockout_seconds: int) -> bool:
    """Count one failure; start a lockout when the window holds ``max_failures``. True if locked."""
    cur.execute(
        """
        INSERT INTO login_failures (username, client_ip, failures, window_start) VALUES (%(u)s, %(ip)s, 1, now())
        ON CONFLICT (username, client_ip) DO UPDATE SET
            failures = CASE WHEN login_failures.window_start < now() - make_interval(secs => %(window)s)
                            THEN 1 ELSE login_failures.failures + 1 END,
            window_start = CASE WHEN login_failures.window_start < now() - make_interval(secs => %(window)s)
                                THEN now() ELSE login_failures.window_start END
        RETURNING failures
        """,
        {"u": username, "ip": client_ip, "window": window_seconds},
    )
    failures = cur.fetchone()[0]
    if failures < max_failures:
        return False
    cur.execute(
        """
        UPDATE login_failures SET locked_until = now() + make_interval(secs => %(lockout)s), failures = 0, window_start = now()
        WHERE username = %(u)s AND client_ip = %(ip)s
        """,
        {"u": username, "ip": client_ip, "lockout": lockout_seconds},
    )
    return True


def clear(cur, username: str, client_ip: str) -> None:
    cur.execute("DELETE FROM login_failures WHERE username = %(u)s AND client_ip = %(ip)s", {"u": username, "ip": client_ip})


def purge_stale(cur, older_than_seconds: int) -> None:
    """Forget windows and lockouts that ended long ago (keeps the table small)."""
    cur.execute(
        """
        DELETE FROM login_failures
        WHERE window_start < now() - make_interval(secs => %(age)s) AND (locked_until IS NULL OR locked_until < now())
        """,
        {"age": older_than_seconds},
    )
