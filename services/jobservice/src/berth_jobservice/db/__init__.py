"""SQL of the jobservice, one module per aggregate; functions take a cursor and return frozen dataclasses.

Rows become dataclasses by column name: each module selects exactly the fields of its dataclass.
"""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")


def fetch_one(cur: Any, cls: type[T]) -> T | None:
    """The next row of ``cur`` as a ``cls``, or None when there is none."""
    row = cur.fetchone()
    if row is None:
        return None
    names = [column.name for column in cur.description]
    return cls(**dict(zip(names, row, strict=True)))


def fetch_all(cur: Any, cls: type[T]) -> list[T]:
    """Every remaining row of ``cur`` as a ``cls``."""
    names = [column.name for column in cur.description]
    return [cls(**dict(zip(names, row, strict=True))) for row in cur.fetchall()]
