"""Harbor's list parameters: ``q``, ``sort``, ``page``, ``page_size`` and the paging headers.

Every list endpoint declares which keys it accepts in ``q`` (with a type and the operators it
allows) and which keys it can sort by; anything else is a 400. The parser only produces typed
values; :mod:`berth_core.db.listing` turns them into SQL with placeholders and identifiers from
the endpoint's own column map, so no text of ``q`` or ``sort`` ever reaches SQL.

The ``q`` language (Harbor's ``src/lib/q``), items separated by commas::

    k=v            exact match              name=library
    k=~v           fuzzy (substring) match  name=~lib
    k=[min~max]    range, either end open   creation_time=[2024-01-01 00:00:00~2024-02-01 00:00:00]
    k={v1 v2}      any of (union)           id={1 2 3}
    k=(v1 v2)      all of (intersection)    tags=(a b)

Values in ranges and lists may be quoted with ``"`` or ``'``; times use ``YYYY-MM-DD hh:mm:ss``
(UTC) or ISO 8601.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from flask import request

from berth_core import errors
from berth_core.errors import APIError

EXACT, FUZZY, RANGE, ANY, ALL = "exact", "fuzzy", "range", "any", "all"
ALL_OPS = frozenset({EXACT, FUZZY, RANGE, ANY, ALL})

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100
MAX_PAGE = 1_000_000
MAX_Q_LENGTH = 2048
MAX_CONDITIONS = 16
MAX_LIST_VALUES = 100
MAX_VALUE_LENGTH = 255
MAX_SORT_KEYS = 5

_TYPES = ("str", "int", "bool", "time")


@dataclasses.dataclass(frozen=True)
class Field:
    """A key an endpoint accepts in ``q``: its value type and the operators allowed on it."""

    type: str = "str"
    ops: frozenset[str] = frozenset({EXACT, FUZZY, ANY})

    def __post_init__(self) -> None:
        if self.type not in _TYPES:
            raise ValueError(f"unknown field type {self.type!r}")


@dataclasses.dataclass(frozen=True)
class Condition:
    """One parsed ``q`` item. ``values``: (v,) for exact/fuzzy, (min, max) with None for an open
    end for range, the listed values for any/all. Values are already of the field's type."""

    key: str
    op: str
    values: tuple[Any, ...]


@dataclasses.dataclass(frozen=True)
class SortKey:
    key: str
    descending: bool = False


@dataclasses.dataclass(frozen=True)
class ListParams:
    """Validated list parameters of one request."""

    conditions: tuple[Condition, ...] = ()
    sort: tuple[SortKey, ...] = ()
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size

    @property
    def limit(self) -> int:
        return self.page_size

    def get(self, key: str) -> Condition | None:
        """The condition on ``key``, if the request filtered on it."""
        return next((c for c in self.conditions if c.key == key), None)

    def without(self, *keys: str) -> ListParams:
        """A copy without the conditions on ``keys`` (for keys the caller handles itself)."""
        return dataclasses.replace(self, conditions=tuple(c for c in self.conditions if c.key not in keys))

    def with_condition(self, condition: Condition) -> ListParams:
        """A copy with one more condition (e.g. a dedicated query parameter such as ``name``)."""
        return dataclasses.replace(self, conditions=(*self.conditions, condition))


def bad_request(message: str) -> APIError:
    return APIError(errors.BAD_REQUEST, message)


# ---------------------------------------------------------------------------------------------
# q


def parse_query(raw: str | None, fields: Mapping[str, Field]) -> tuple[Condition, ...]:
    """Parse ``q`` against the endpoint's whitelist; raises a 400 APIError on anything else."""
    if raw is None or raw.strip() == "":
        return ()
    if len(raw) > MAX_Q_LENGTH:
        raise bad_request(f"q is longer than {MAX_Q_LENGTH} characters")
    items = _split_top_level(raw)
    if len(items) > MAX_CONDITIONS:
        raise bad_request(f"q has more than {MAX_CONDITIONS} conditions")
    conditions: list[Condition] = []
    seen: set[str] = set()
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise bad_request(f"q item {item!r} is not of the form key=value")
        field = fields.get(key)
        if field is None:
            allowed = ", ".join(sorted(fields)) or "none"
            raise bad_request(f"q key {key!r} is not supported here (supported: {allowed})")
        if key in seen:
            raise bad_request(f"q key {key!r} is given more than once")
        seen.add(key)
        conditions.append(_parse_condition(key, value, field))
    return tuple(conditions)


def _split_top_level(raw: str) -> list[str]:
    """Split on commas that are not inside quotes, brackets, braces or parentheses."""
    items: list[str] = []
    depth = 0
    quote: str | None = None
    current: list[str] = []
    for ch in raw:
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
            if depth < 0:
                raise bad_request("q has an unbalanced bracket")
        elif ch == "," and depth == 0:
            items.append("".join(current))
            current = []
            continue
        current.append(ch)
    if quote or depth:
        raise bad_request("q has an unterminated quote or bracket")
    items.append("".join(current))
    return [item for item in items if item.strip()]


def _parse_condition(key: str, value: str, field: Field) -> Condition:
    if value.startswith("~"):
        op, values = FUZZY, (_unquote(value[1:]),)
    elif value.startswith("[") and value.endswith("]"):
        low, sep, high = value[1:-1].partition("~")
        if not sep:
            raise bad_request(f"q range for {key!r} must look like [min~max]")
        low, high = low.strip(), high.strip()
        if not low and not high:
            raise bad_request(f"q range for {key!r} needs at least one bound")
        op = RANGE
        values = (_unquote(low) if low else None, _unquote(high) if high else None)
    elif value.startswith("{") and value.endswith("}"):
        op, values = ANY, _list_values(key, value[1:-1])
    elif value.startswith("(") and value.endswith(")"):
        op, values = ALL, _list_values(key, value[1:-1])
    else:
        op, values = EXACT, (_unquote(value),)
    if op not in field.ops:
        raise bad_request(f"q operator {op} is not supported for {key!r}")
    if op == FUZZY and field.type != "str":
        raise bad_request(f"q key {key!r} does not support fuzzy match")
    typed = tuple(None if v is None else _coerce(key, v, field.type) for v in values)
    if op == RANGE and None not in typed and typed[0] > typed[1]:
        raise bad_request(f"q range for {key!r} has min greater than max")
    return Condition(key, op, typed)


def _list_values(key: str, body: str) -> tuple[str, ...]:
    values: list[str] = []
    current: list[str] = []
    quote: str | None = None
    quoted = False
    for ch in body:
        if quote:
            if ch == quote:
                quote = None
            else:
                current.append(ch)
        elif ch in "\"'":
            quote, quoted = ch, True
        elif ch == " ":
            if current or quoted:
                values.append("".join(current))
            current, quoted = [], False
        else:
            current.append(ch)
    if current or quoted:
        values.append("".join(current))
    if not values:
        raise bad_request(f"q list for {key!r} is empty")
    if len(values) > MAX_LIST_VALUES:
        raise bad_request(f"q list for {key!r} has more than {MAX_LIST_VALUES} values")
    return tuple(values)


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _coerce(key: str, raw: str, kind: str) -> Any:
    if len(raw) > MAX_VALUE_LENGTH:
        raise bad_request(f"q value for {key!r} is longer than {MAX_VALUE_LENGTH} characters")
    if "\x00" in raw:
        raise bad_request(f"q value for {key!r} contains a NUL character")
    if kind == "str":
        return raw
    if kind == "int":
        try:
            return int(raw)
        except ValueError:
            raise bad_request(f"q value for {key!r} must be an integer, got {raw!r}") from None
    if kind == "bool":
        lowered = raw.lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise bad_request(f"q value for {key!r} must be true or false, got {raw!r}")
    return parse_time(key, raw)


def parse_time(key: str, raw: str) -> dt.datetime:
    """Harbor's ``2020-04-09 02:36:00`` (UTC) or ISO 8601; raises a 400 naming ``key``."""
    try:
        value = dt.datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(f"q value for {key!r} must be a time like 2020-04-09 02:36:00, got {raw!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


# ---------------------------------------------------------------------------------------------
# sort, paging


def parse_sort(raw: str | None, sortable: Iterable[str]) -> tuple[SortKey, ...]:
    """``field1,-field2`` against the endpoint's sortable keys; raises a 400 APIError."""
    if raw is None or raw.strip() == "":
        return ()
    allowed = set(sortable)
    keys: list[SortKey] = []
    for part in raw.split(","):
        part = part.strip()
        descending = part.startswith("-")
        name = part[1:] if descending else part
        if name not in allowed:
            shown = ", ".join(sorted(allowed)) or "none"
            raise bad_request(f"sort key {name[:64]!r} is not supported here (supported: {shown})")
        keys.append(SortKey(name, descending))
    if len(keys) > MAX_SORT_KEYS:
        raise bad_request(f"sort has more than {MAX_SORT_KEYS} keys")
    return tuple(keys)


def parse_int_arg(args: Mapping[str, str], name: str, default: int, minimum: int, maximum: int) -> int:
    """An integer query parameter within bounds; raises a 400 APIError naming it."""
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name} must be an integer, got {raw[:32]!r}") from None
    if not minimum <= value <= maximum:
        raise bad_request(f"{name} must be between {minimum} and {maximum}, got {value}")
    return value


def parse_bool_arg(args: Mapping[str, str], name: str, default: bool | None = None) -> bool | None:
    """A boolean query parameter (true/false/1/0); raises a 400 APIError naming it."""
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise bad_request(f"{name} must be true or false, got {raw[:32]!r}")


def parse_list_params(
    fields: Mapping[str, Field],
    sortable: Iterable[str] = (),
    args: Mapping[str, str] | None = None,
) -> ListParams:
    """``q``, ``sort``, ``page`` and ``page_size`` of the current request (or ``args``)."""
    args = request.args if args is None else args
    return ListParams(
        conditions=parse_query(args.get("q"), fields),
        sort=parse_sort(args.get("sort"), sortable),
        page=parse_int_arg(args, "page", 1, 1, MAX_PAGE),
        page_size=parse_int_arg(args, "page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE),
    )


def paging_headers(total: int, params: ListParams) -> dict[str, str]:
    """Harbor's ``X-Total-Count`` and ``Link`` (rel prev/next) for the current request."""
    headers = {"X-Total-Count": str(total)}
    links = []
    base = dict(request.args.items(multi=False))

    def link(page: int, rel: str) -> str:
        query = urlencode({**base, "page": page, "page_size": params.page_size})
        return f'<{request.path}?{query}>; rel="{rel}"'

    if params.page > 1:
        links.append(link(params.page - 1, "prev"))
    if params.page * params.page_size < total:
        links.append(link(params.page + 1, "next"))
    if links:
        headers["Link"] = " , ".join(links)
    return headers
