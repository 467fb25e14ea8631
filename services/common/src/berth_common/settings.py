"""Typed, frozen service settings declared once and read from the environment.

Each service declares its settings as a frozen dataclass whose fields carry a :func:`setting`
description (type coercion, default, required, secret). ``from_env`` builds the object once at
start-up and raises :class:`SettingsError` naming the environment variable on any missing or
malformed value, so a bad config stops the process before it serves a request.

Environment names are ``<PREFIX><FIELD>`` upper-cased; a double underscore in a field name marks
nesting (``storage__s3__bucket`` is read from ``REGISTRY_STORAGE__S3__BUCKET``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

REDACTED = "********"

T = TypeVar("T", bound="Settings")


class SettingsError(ValueError):
    """A setting is missing or has a value that cannot be used; the message names its key."""


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true or false")


def _parse_int(raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise ValueError("expected an integer") from None


def _parse_float(raw: str) -> float:
    try:
        return float(raw.strip())
    except ValueError:
        raise ValueError("expected a number") from None


def _parse_list(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


PARSERS: dict[type, Callable[[str], Any]] = {
    str: lambda raw: raw,
    int: _parse_int,
    float: _parse_float,
    bool: _parse_bool,
    tuple: _parse_list,
}


@dataclasses.dataclass(frozen=True)
class Spec:
    """How one setting is read: its type, default, whether it is required or secret."""

    kind: type
    default: Any = None
    required: bool = False
    secret: bool = False
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    help: str = ""


def setting(
    kind: type = str,
    default: Any = None,
    *,
    required: bool = False,
    secret: bool = False,
    choices: tuple[str, ...] = (),
    minimum: float | None = None,
    maximum: float | None = None,
    help: str = "",
) -> Any:
    """Declare a settings field; use as the default value of a dataclass field."""
    spec = Spec(kind, default, required, secret, choices, minimum, maximum, help)
    return dataclasses.field(default=default, metadata={"berth": spec})


@dataclasses.dataclass(frozen=True)
class Settings:
    """Base for a service's settings; subclasses set ``PREFIX`` and declare fields."""

    PREFIX = ""

    @classmethod
    def env_name(cls, field_name: str) -> str:
        return f"{cls.PREFIX}{field_name}".upper()

    @classmethod
    def from_env(cls: type[T], environ: Mapping[str, str] | None = None, **overrides: Any) -> T:
        """Build settings from ``environ`` (default ``os.environ``); ``overrides`` win.

        Raises SettingsError listing every bad or missing key at once.
        """
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        problems: list[str] = []
        for field in dataclasses.fields(cls):
            spec: Spec | None = field.metadata.get("berth")
            if spec is None:
                continue
            name = cls.env_name(field.name)
            if field.name in overrides:
                values[field.name] = overrides[field.name]
                continue
            raw = environ.get(name)
            if raw is None or raw == "":
                if spec.required:
                    problems.append(f"{name}: required but not set")
                continue
            try:
                value = PARSERS[spec.kind](raw)
                _check_range(spec, value)
            except ValueError as exc:
                shown = REDACTED if spec.secret else repr(raw)
                problems.append(f"{name}: {exc}, got {shown}")
                continue
            values[field.name] = value
        if problems:
            raise SettingsError("invalid settings: " + "; ".join(problems))
        return cls(**values)

    def redacted(self) -> dict[str, Any]:
        """Settings as a dict safe to log: secret values are replaced by asterisks."""
        out: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            spec: Spec | None = field.metadata.get("berth")
            value = getattr(self, field.name)
            out[field.name] = REDACTED if (spec and spec.secret and value) else value
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.redacted()!r})"


def _check_range(spec: Spec, value: Any) -> None:
    if spec.choices and value not in spec.choices:
        raise ValueError(f"expected one of {', '.join(spec.choices)}")
    if spec.minimum is not None and value < spec.minimum:
        raise ValueError(f"must be at least {spec.minimum:g}")
    if spec.maximum is not None and value > spec.maximum:
        raise ValueError(f"must be at most {spec.maximum:g}")
