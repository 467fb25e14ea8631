"""Every concrete driver and writer implements its abstract base completely and compatibly.

A subclass that forgets a method cannot be instantiated, but one whose method takes different
parameters (a renamed argument, a dropped default) would only fail when the registry calls it;
this test catches both without any backend.
"""

from __future__ import annotations

import inspect

import pytest

from berth_registry.storage.base import CheckedDriver, FileWriter, StorageDriver, _CheckedWriter
from berth_registry.storage.filesystem import FilesystemDriver, _FilesystemWriter
from berth_registry.storage.inmemory import InMemoryDriver, _MemoryWriter
from berth_registry.storage.s3 import S3Driver, _S3Writer

IMPLEMENTATIONS = [
    (StorageDriver, InMemoryDriver),
    (StorageDriver, FilesystemDriver),
    (StorageDriver, S3Driver),
    (StorageDriver, CheckedDriver),
    (FileWriter, _MemoryWriter),
    (FileWriter, _FilesystemWriter),
    (FileWriter, _S3Writer),
    (FileWriter, _CheckedWriter),
]


def contract(base: type) -> list[str]:
    """The public methods and properties ``base`` defines: the calls the registry may make."""
    return [name for name, value in vars(base).items() if not name.startswith("_") and (callable(value) or isinstance(value, property))]


def compatibility_problems(base_function, implementation) -> list[str]:
    """Ways in which ``implementation`` cannot be called everywhere ``base_function`` can."""
    expected = inspect.signature(base_function).parameters
    actual = inspect.signature(implementation).parameters
    problems = []
    for name, parameter in expected.items():
        other = actual.get(name)
        if other is None:
            problems.append(f"lacks parameter {name!r}")
        elif other.kind != parameter.kind:
            problems.append(f"{name!r} is {other.kind.description}, base has {parameter.kind.description}")
        elif other.default != parameter.default:
            problems.append(f"{name!r} defaults to {other.default!r}, base has {parameter.default!r}")
    for name, parameter in actual.items():
        if name not in expected and parameter.default is inspect.Parameter.empty and parameter.kind not in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
        ):
            problems.append(f"adds required parameter {name!r}")
    return problems


@pytest.mark.parametrize(("base", "implementation"), IMPLEMENTATIONS, ids=lambda value: value.__name__)
def test_no_abstract_method_is_left_out(base, implementation):
    assert issubclass(implementation, base)
    assert not inspect.isabstract(implementation), sorted(implementation.__abstractmethods__)


@pytest.mark.parametrize(("base", "implementation"), IMPLEMENTATIONS, ids=lambda value: value.__name__)
def test_signatures_match_the_base(base, implementation):
    problems = {}
    for name in contract(base):
        declared = vars(base)[name]
        provided = inspect.getattr_static(implementation, name)
        if isinstance(declared, property):
            if not isinstance(provided, property):
                problems[name] = ["is not a property"]
            continue
        found = compatibility_problems(declared, provided)
        if found:
            problems[name] = found
    assert problems == {}


def test_the_contract_covers_the_whole_interface():
    # If base.py grows a method, this list makes the reviewer look at the drivers again.
    assert sorted(contract(StorageDriver)) == sorted(
        ["get_content", "put_content", "reader", "writer", "stat", "list", "move", "delete", "walk", "redirect_url", "local_path"]
    )
    assert sorted(contract(FileWriter)) == ["append_file", "cancel", "close", "commit", "size", "write"]


def test_the_checker_sees_incompatibilities():
    class Broken(InMemoryDriver):
        def reader(self, path, start=0):  # renamed parameter
            return super().reader(path, start)

        def writer(self, path, append=True, mode=None):  # changed default, extra optional parameter
            return super().writer(path, append)

        def delete(self, path, recursive):  # extra required parameter
            return super().delete(path)

    assert compatibility_problems(StorageDriver.reader, Broken.reader) == ["lacks parameter 'offset'"]
    assert compatibility_problems(StorageDriver.writer, Broken.writer) == ["'append' defaults to True, base has False"]
    assert compatibility_problems(StorageDriver.delete, Broken.delete) == ["adds required parameter 'recursive'"]
