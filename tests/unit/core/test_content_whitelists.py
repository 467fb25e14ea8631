"""Every q/sort key an endpoint accepts maps to a column in its db module (a missing one would
be a 500 instead of a result), and nothing user-supplied reaches SQL text."""

from __future__ import annotations

import pytest

from berth_core.api import artifacts, audit, repositories
from berth_core.api.query import Condition, ListParams, SortKey
from berth_core.db import audit as audit_db
from berth_core.db import content as content_db
from berth_core.db import listing

CASES = [
    (repositories.QUERY_FIELDS, repositories.SORTABLE, content_db.REPOSITORY_COLUMNS),
    (artifacts.ARTIFACT_QUERY_FIELDS, artifacts.ARTIFACT_SORTABLE, content_db.ARTIFACT_COLUMNS),
    (artifacts.PROJECT_ARTIFACT_QUERY_FIELDS, artifacts.PROJECT_ARTIFACT_SORTABLE, content_db.ARTIFACT_COLUMNS),
    (artifacts.TAG_QUERY_FIELDS, artifacts.TAG_SORTABLE, content_db.TAG_COLUMNS),
    (artifacts.ACCESSORY_QUERY_FIELDS, artifacts.ACCESSORY_SORTABLE, content_db.ACCESSORY_COLUMNS),
    (audit.QUERY_FIELDS, audit.SORTABLE, audit_db.COLUMNS),
]


@pytest.mark.parametrize(("fields", "sortable", "columns"), CASES)
def test_whitelisted_keys_have_columns(fields, sortable, columns) -> None:
    # "tags" on artifacts is Harbor's special key, compiled by db.content itself.
    assert set(fields) - {"tags"} <= set(columns)
    assert set(sortable) <= set(columns)


def test_values_travel_as_parameters() -> None:
    hostile = "x'); DROP TABLE artifacts; --"
    params = ListParams(conditions=(Condition("digest", "fuzzy", (hostile,)),), sort=(SortKey("size", True),))
    where, values = listing.where(params.conditions, content_db.ARTIFACT_COLUMNS)
    text = where.as_string(_FakeConnection())
    assert hostile not in text and "%(q0)s" in text
    assert hostile in values["q0"]


class _FakeConnection:
    """Just enough of a connection for ``Composable.as_string`` on SQL and Placeholder parts."""

    encoding = "UTF8"

    def __init__(self) -> None:
        self.raw = self


@pytest.mark.parametrize("op", ["exact", "fuzzy", "any", "all"])
def test_tags_key_compiles_for_every_operator(op: str) -> None:
    values = ("v1", "v2") if op in ("any", "all") else ("v1",)
    where, params = content_db._tags_predicate(Condition("tags", op, values))
    text = where.as_string(_FakeConnection())
    assert "v1" not in text and "v2" not in text  # the names are parameters, not SQL text
    assert params
