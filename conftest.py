"""Marks every test by its directory (unit, integration, e2e) and refuses tests anywhere else."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).parent
KINDS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(item.fspath).resolve().relative_to(ROOT).parts
        if len(parts) < 3 or parts[0] != "tests" or parts[1] not in KINDS:
            raise pytest.UsageError(f"{item.nodeid}: tests live under tests/unit, tests/integration or tests/e2e")
        item.add_marker(getattr(pytest.mark, parts[1]))
