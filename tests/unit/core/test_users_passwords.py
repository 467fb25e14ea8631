"""Password policy and hashing (argon2id) without a database."""

from __future__ import annotations

import concurrent.futures
import re
import time

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


def test_successful_verifications_are_remembered_but_never_failures(monkeypatch) -> None:
    hasher = Hasher(_settings())
    stored = hasher.hash("Secret123")
    slow_calls = []
    real = hasher._verify_slowly
    monkeypatch.setattr(hasher, "_verify_slowly", lambda h, p: slow_calls.append(p) or real(h, p))

    assert hasher.verify(stored, "Secret123") and hasher.verify(stored, "Secret123")
    assert slow_calls == ["Secret123"]  # the second check came from the cache
    assert not hasher.verify(stored, "Wrong1234") and not hasher.verify(stored, "Wrong1234")
    assert slow_calls.count("Wrong1234") == 2  # failures always pay the full price
    # A new hash (password changed) misses the cache, and the old password no longer verifies.
    changed = hasher.hash("Other1234")
    assert not hasher.verify(changed, "Secret123")
    assert slow_calls.count("Secret123") == 2
    # Nothing in the cache is the password or derivable from it without the process key.
    assert all(b"Secret123" not in key for key in hasher._verified)


def test_concurrent_checks_of_the_same_credentials_run_the_kdf_once(monkeypatch) -> None:
    hasher = Hasher(_settings())
    stored = hasher.hash("Secret123")
    slow_calls = []
    real = hasher._verify_slowly

    def slow(h: str, p: str) -> bool:
        slow_calls.append(p)
        time.sleep(0.2)  # long enough for every thread to arrive while the first one verifies
        return real(h, p)

    monkeypatch.setattr(hasher, "_verify_slowly", slow)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        good = list(pool.map(lambda _: hasher.verify(stored, "Secret123"), range(8)))
        bad = list(pool.map(lambda _: hasher.verify(stored, "Wrong1234"), range(4)))
    assert good == [True] * 8 and slow_calls.count("Secret123") == 1
    assert bad == [False] * 4 and slow_calls.count("Wrong1234") == 4  # each guess still pays in full
    assert hasher._running == {}


def test_verified_cache_is_bounded(monkeypatch) -> None:
    import berth_core.services.passwords as passwords

    monkeypatch.setattr(passwords, "VERIFIED_MAX_ENTRIES", 3)
    hasher = Hasher(_settings())
    stored = [hasher.hash(f"Secret12{i}") for i in range(5)]
    for i, value in enumerate(stored):
        assert hasher.verify(value, f"Secret12{i}")
    assert len(hasher._verified) == 3
