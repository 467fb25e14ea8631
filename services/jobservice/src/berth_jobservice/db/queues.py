"""Pause state of job queues (Harbor's jobservice monitor): a paused job type is not consumed."""

from __future__ import annotations

from typing import Any


def set_paused(cur: Any, job_type: str, paused: bool) -> None:
    cur.execute(
        """
        INSERT INTO job_queue_status (job_type, paused) VALUES (%(t)s, %(p)s)
        ON CONFLICT (job_type) DO UPDATE SET paused = EXCLUDED.paused, update_time = now()
        """,
        {"t": job_type, "p": paused},
    )


def paused_types(cur: Any) -> set[str]:
    cur.execute("SELECT job_type FROM job_queue_status WHERE paused")
    return {row[0] for row in cur.fetchall()}


def is_paused(cur: Any, job_type: str) -> bool:
    cur.execute("SELECT paused FROM job_queue_status WHERE job_type = %(t)s", {"t": job_type})
    row = cur.fetchone()
    return bool(row and row[0])
