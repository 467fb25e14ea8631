"""SQL of system configuration items (table ``configurations``: k text, v jsonb).

Only items someone set are stored; defaults live in :mod:`berth_core.services.configurations`.
Other services read single keys directly (the registry reads ``read_only`` as a JSON boolean).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from psycopg2.extras import Json


def load_all(cur) -> dict[str, Any]:
    cur.execute("SELECT k, v FROM configurations")
    return dict(cur.fetchall())


def upsert(cur, values: Mapping[str, Any]) -> None:
    for key, value in values.items():
        cur.execute(
            """
            INSERT INTO configurations (k, v) VALUES (%(k)s, %(v)s)
            ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v, update_time = now()
            """,
            {"k": key, "v": Json(value)},
        )
