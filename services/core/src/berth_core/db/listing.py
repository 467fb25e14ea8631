"""SQL for Harbor-style list parameters parsed by :mod:`berth_core.api.query`.

Callers pass a column map (``q``/``sort`` key -> SQL expression built from
``psycopg2.sql.Identifier``); values always travel as named placeholders. Keys that are not in
the map cannot appear here because the parser rejected them already, and a missing mapping is a
programming error (KeyError), not user input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from psycopg2 import sql

from berth_core.api.query import ALL, ANY, EXACT, FUZZY, RANGE, Condition, ListParams, SortKey


def escape_like(value: str) -> str:
    """Escape LIKE wildcards so a fuzzy match is a plain substring match."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def where(
    conditions: Sequence[Condition],
    columns: Mapping[str, sql.Composable],
    prefix: str = "q",
) -> tuple[sql.Composable, dict[str, Any]]:
    """``AND``-joined predicates for ``conditions`` (``TRUE`` when empty) and their parameters."""
    parts: list[sql.Composable] = []
    params: dict[str, Any] = {}
    for index, cond in enumerate(conditions):
        column = columns[cond.key]
        name = f"{prefix}{index}"
        if cond.op == EXACT:
            parts.append(sql.SQL("{} = {}").format(column, sql.Placeholder(name)))
            params[name] = cond.values[0]
        elif cond.op == FUZZY:
            parts.append(sql.SQL("{} ILIKE {} ESCAPE '\\'").format(column, sql.Placeholder(name)))
            params[name] = f"%{escape_like(cond.values[0])}%"
        elif cond.op == RANGE:
            low, high = cond.values
            if low is not None:
                parts.append(sql.SQL("{} >= {}").format(column, sql.Placeholder(name + "_lo")))
                params[name + "_lo"] = low
            if high is not None:
                parts.append(sql.SQL("{} <= {}").format(column, sql.Placeholder(name + "_hi")))
                params[name + "_hi"] = high
        elif cond.op == ANY:
            parts.append(sql.SQL("{} = ANY({})").format(column, sql.Placeholder(name)))
            params[name] = list(cond.values)
        elif cond.op == ALL:
            # On a single-valued column "all of" can only hold when every value is the same one.
            parts.append(sql.SQL("{} = ALL({})").format(column, sql.Placeholder(name)))
            params[name] = list(cond.values)
        else:  # pragma: no cover - the parser only produces the operators above
            raise ValueError(f"unknown operator {cond.op}")
    if not parts:
        return sql.SQL("TRUE"), params
    return sql.SQL(" AND ").join(parts), params


def order_by(
    sort: Sequence[SortKey],
    columns: Mapping[str, sql.Composable],
    default: Sequence[SortKey],
    tiebreak: sql.Composable | None = None,
) -> sql.Composable:
    """``ORDER BY`` body for ``sort`` (or ``default``) plus a unique tiebreak for stable pages."""
    keys = list(sort or default)
    parts = [sql.SQL("{} {}").format(columns[key.key], sql.SQL("DESC" if key.descending else "ASC")) for key in keys]
    if tiebreak is not None:
        parts.append(tiebreak)
    return sql.SQL(", ").join(parts)


def limit_offset(params: ListParams) -> tuple[sql.Composable, dict[str, Any]]:
    """``LIMIT ... OFFSET ...`` with placeholders."""
    return sql.SQL("LIMIT %(page_limit)s OFFSET %(page_offset)s"), {
        "page_limit": params.limit,
        "page_offset": params.offset,
    }
