"""Password policy and hashing (argon2id) without a database."""

from __future__ import annotations

import re

import pytest

from berth_core.errors import APIError
from berth_core.services.passwords import Hasher, check_policy, generate_secret
from berth_core.services.users import check_email, check_username
from berth_core.settings import CoreSettings


def _settings(**overrides) -> CoreSettings:
    base = {
        "database_url": "postgresql://x",
        "rabbitmq_url": "amqp://x",
        "registry_url": "http://x",
        "external_url": "https://x",
        "token_private_key_path": "/x",
        "token_cert_path": "/x",
        "secret_key_path": "/x",
        "argon2_time_cost": 1,
        "argon2_memory_kib": 8,
        "argon2_parallelism": 1,
    }
    return CoreSettings.from_env({}, **{**base, **overrides})


@pytest.mark.parametrize("password", ["Harbor12345", "Test12345", "aB3" + "x" * 125])
def test_policy_accepts(password: str) -> None:
    assert check_policy(password) == password


@pytest.mark.parametrize("password", ["Short1A", "nouppercase1", "NOLOWERCASE1", "NoDigitsAtAll", "aB3" + "x" * 126, 12345678, None])
def test_policy_rejects(password) -> None:
    with pytest.raises(APIError) as caught:
        check_policy(password)
    assert caught.value.status == 400


def test_hash_and_verify() -> None:
    hasher = Hasher(_settings())
    stored = hasher.hash("Secret123")
    assert stored.startswith("$argon2id$") and "Secret123" not in stored
    assert hasher.verify(stored, "Secret123")
    assert not hasher.verify(stored, "Secret124")
    assert not hasher.verify(None, "Secret123")
    assert not hasher.verify("not-a-hash", "Secret123")
    stronger = Hasher(_settings(argon2_time_cost=2))
    assert stronger.verify(stored, "Secret123") and stronger.needs_rehash(stored)


def test_generated_secrets_meet_the_policy() -> None:
    for _ in range(20):
        secret = generate_secret()
        assert len(secret) == 32 and check_policy(secret) and re.fullmatch(r"[A-Za-z0-9]+", secret)


@pytest.mark.parametrize("name", ["a,b", "a~b", "a#b", "a$b", "a%b", "a:b", "a b", "", "x" * 256, "a\nb"])
def test_bad_usernames(name: str) -> None:
    with pytest.raises(APIError):
        check_username(name)


def test_emails() -> None:
    assert check_email("a@b.io") == "a@b.io" and check_email("") is None and check_email(None) is None
    for bad in ("ab.io", "a@b", "a b@c.io", "a@@b.io"):
        with pytest.raises(APIError):
            check_email(bad)
