"""Typed settings: coercion, defaults, failing fast with the key's name, secret redaction."""

from __future__ import annotations

import dataclasses

import pytest

from berth_common.settings import Settings, SettingsError, setting


@dataclasses.dataclass(frozen=True, repr=False)
class Example(Settings):
    PREFIX = "EX_"

    url: str = setting(str, required=True, secret=True)
    port: int = setting(int, 8080, minimum=1, maximum=65535)
    fast: bool = setting(bool, True)
    driver: str = setting(str, "fs", choices=("fs", "s3"))
    storage__s3__bucket: str = setting(str, "")
    ratio: float = setting(float, 0.5)
    hosts: tuple = setting(tuple, ())


def test_reads_and_coerces_every_type():
    s = Example.from_env(
        {"EX_URL": "postgresql://u:p@h/db", "EX_PORT": "9000", "EX_FAST": "off", "EX_DRIVER": "s3",
         "EX_STORAGE__S3__BUCKET": "b", "EX_RATIO": "2.5", "EX_HOSTS": "a, b,,c"}
    )
    assert (s.port, s.fast, s.driver, s.storage__s3__bucket, s.ratio, s.hosts) == (9000, False, "s3", "b", 2.5, ("a", "b", "c"))


def test_defaults_apply_when_unset_or_empty():
    s = Example.from_env({"EX_URL": "x", "EX_PORT": ""})
    assert s.port == 8080 and s.fast is True and s.driver == "fs"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "EX_URL: required but not set"),
        ({"EX_URL": "x", "EX_PORT": "eighty"}, "EX_PORT: expected an integer, got 'eighty'"),
        ({"EX_URL": "x", "EX_PORT": "70000"}, "EX_PORT: must be at most 65535"),
        ({"EX_URL": "x", "EX_FAST": "maybe"}, "EX_FAST: expected true or false"),
        ({"EX_URL": "x", "EX_DRIVER": "ftp"}, "EX_DRIVER: expected one of fs, s3"),
    ],
)
def test_bad_values_fail_naming_the_key(env, message):
    with pytest.raises(SettingsError) as info:
        Example.from_env(env)
    assert message in str(info.value)


def test_every_problem_is_reported_at_once():
    with pytest.raises(SettingsError) as info:
        Example.from_env({"EX_PORT": "x", "EX_FAST": "y"})
    text = str(info.value)
    assert "EX_URL" in text and "EX_PORT" in text and "EX_FAST" in text


def test_secrets_never_appear_in_repr_or_errors():
    s = Example.from_env({"EX_URL": "postgresql://u:hunter2@h/db"})
    assert "hunter2" not in repr(s)
    assert s.redacted()["url"] == "********"
    with pytest.raises(SettingsError) as info:

        @dataclasses.dataclass(frozen=True, repr=False)
        class Secretive(Settings):
            PREFIX = "S_"
            pin: int = setting(int, 0, secret=True)

        Secretive.from_env({"S_PIN": "hunter2"})
    assert "hunter2" not in str(info.value)


def test_settings_are_frozen():
    s = Example.from_env({"EX_URL": "x"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.port = 1  # type: ignore[misc]
