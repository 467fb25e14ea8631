"""The shared list-parameter parser (q, sort, page, page_size) and its SQL rendering: typed
values from whitelisted keys only, never SQL text from the request."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from psycopg2 import sql

from berth_core.api.query import (
    ALL,
    ALL_OPS,
    ANY,
    EXACT,
    FUZZY,
    RANGE,
    Condition,
    Field,
    SortKey,
    paging_headers,
    parse_list_params,
    parse_query,
    parse_sort,
)
from berth_core.db import listing
from berth_core.errors import APIError

FIELDS = {
    "name": Field("str", ALL_OPS),
    "id": Field("int", frozenset({EXACT, ANY, RANGE})),
    "public": Field("bool", frozenset({EXACT})),
    "created": Field("time", frozenset({RANGE})),
}
COLUMNS = {"name": sql.SQL("p.name"), "id": sql.SQL("p.id"), "public": sql.SQL("p.public"), "created": sql.SQL("p.created")}


def test_every_operator() -> None:
    parsed = parse_query("name=~lib,id={1 2 3},public=true,created=[2020-04-09 02:36:00~2020-04-10 00:00:00]", FIELDS)
    assert parsed == (
        Condition("name", FUZZY, ("lib",)),
        Condition("id", ANY, (1, 2, 3)),
        Condition("public", EXACT, (True,)),
        Condition(
            "created",
            RANGE,
            (dt.datetime(2020, 4, 9, 2, 36, tzinfo=dt.UTC), dt.datetime(2020, 4, 10, tzinfo=dt.UTC)),
        ),
    )
    assert parse_query("name=(a 'b c')", FIELDS) == (Condition("name", ALL, ("a", "b c")),)
    assert parse_query('name="a,b"', FIELDS) == (Condition("name", EXACT, ("a,b",)),)
    assert parse_query("id=[5~]", FIELDS) == (Condition("id", RANGE, (5, None)),)
    assert parse_query("", FIELDS) == () and parse_query(None, FIELDS) == ()


@pytest.mark.parametrize(
    "raw",
    [
        "secret=1",  # not whitelisted
        "name",  # no '='
        "=x",
        "id=abc",  # wrong type
        "id=~1",  # fuzzy on an int
        "public=maybe",
        "created=2020-01-01",  # operator not allowed for this key
        "created=[x~y]",
        "id=[9~1]",  # min > max
        "id=[~]",
        "name={}",
        "name=(a",  # unbalanced
        "name='a",  # unterminated quote
        "name=a,name=b",  # duplicate key
        "name=" + "x" * 300,
        "name=a\x00b",
        ",".join(f"k{i}=1" for i in range(20)),
        "x" * 5000,
    ],
)
def test_bad_queries_are_400(raw: str) -> None:
    with pytest.raises(APIError) as caught:
        parse_query(raw, FIELDS)
    assert caught.value.status == 400


def test_sort() -> None:
    assert parse_sort("name,-id", ("name", "id")) == (SortKey("name"), SortKey("id", True))
    for bad in ("password", "name;drop", "name,,", "-", "a,b,c,d,e,f"):
        with pytest.raises(APIError):
            parse_sort(bad, ("name", "id", "a", "b", "c", "d", "e", "f"))


def test_paging_parameters_and_headers() -> None:
    app = Flask(__name__)
    with app.test_request_context("/api/v2.0/things?page=2&page_size=3&q=name%3D~x"):
        params = parse_list_params(FIELDS, ("name",))
        assert (params.page, params.page_size, params.offset, params.limit) == (2, 3, 3, 3)
        headers = paging_headers(10, params)
        assert headers["X-Total-Count"] == "10"
        prev, nxt = headers["Link"].split(" , ")
        assert prev.startswith("</api/v2.0/things?") and 'rel="prev"' in prev and "page=1" in prev and "q=name%3D~x" in prev
        assert "page=3" in nxt and 'rel="next"' in nxt
    with app.test_request_context("/x?page=4&page_size=3"):
        last_page = paging_headers(10, parse_list_params({}, ()))
        assert 'rel="prev"' in last_page["Link"] and 'rel="next"' not in last_page["Link"]
    with app.test_request_context("/x"):
        assert "Link" not in paging_headers(5, parse_list_params({}, ()))
    for query in ("page=0", "page=x", "page_size=0", "page_size=101", "page_size=-1"):
        with app.test_request_context(f"/x?{query}"), pytest.raises(APIError):
            parse_list_params({}, ())


def test_sql_uses_placeholders_only() -> None:
    conditions = parse_query("name=~50%_off\\,id={1 2},created=[2020-01-01 00:00:00~]", FIELDS)
    clause, params = listing.where(conditions, COLUMNS)
    text = clause.as_string(None)
    assert text == "p.name ILIKE %(q0)s ESCAPE '\\' AND p.id = ANY(%(q1)s) AND p.created >= %(q2_lo)s"
    assert params["q0"] == "%50\\%\\_off\\\\%"
    assert params["q1"] == [1, 2]
    empty, none = listing.where((), COLUMNS)
    assert empty.as_string(None) == "TRUE" and none == {}
    order = listing.order_by((SortKey("id", True),), COLUMNS, (SortKey("name"),), sql.SQL("p.id"))
    assert order.as_string(None) == "p.id DESC, p.id"
    assert listing.order_by((), COLUMNS, (SortKey("name"),)).as_string(None) == "p.name ASC"


def test_injection_text_stays_a_value() -> None:
    conditions = parse_query("name=\"x' OR 1=1; DROP TABLE users;--\"", FIELDS)
    clause, params = listing.where(conditions, COLUMNS)
    assert "DROP" not in clause.as_string(None)
    assert params["q0"] == "x' OR 1=1; DROP TABLE users;--"
