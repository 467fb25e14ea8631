"""Jobservice worker pools as core sees them: registered processes and their heartbeats."""

from __future__ import annotations

import datetime as dt


def newest_heartbeat(cur) -> dt.datetime | None:
    """The most recent heartbeat of any jobservice process, or None if none ever registered."""
    cur.execute("SELECT max(heartbeat_at) FROM jobservice_pools")
    row = cur.fetchone()
    return row[0] if row else None
