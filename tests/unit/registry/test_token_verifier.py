"""Token verification without a server: claims, access parsing, the cache, the challenge."""

from __future__ import annotations

import time

import pytest

from berth_registry.services.auth import InvalidToken, TokenVerifier, load_public_key
from support.tokens import TokenKeys, access, catalog


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> TokenKeys:
    return TokenKeys.generate(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def verifier(keys) -> TokenVerifier:
    return TokenVerifier(load_public_key(keys.cert_path), keys.issuer, keys.service, "https://r.example/service/token")


def test_valid_token_grants_exactly_its_access(keys, verifier):
    principal = verifier.verify(keys.mint([access("p/a", "pull"), access("p/b", "*"), catalog()], sub="alice"))
    assert principal.subject == "alice"
    assert principal.allows("repository", "p/a", "pull")
    assert not principal.allows("repository", "p/a", "push")
    assert principal.allows("repository", "p/b", "delete")  # * implies every action
    assert principal.allows("registry", "catalog", "*")
    assert not principal.allows("repository", "p/c", "pull")


def test_entries_for_the_same_resource_are_merged(keys, verifier):
    principal = verifier.verify(keys.mint([access("p/a", "pull"), access("p/a", "push")]))
    assert principal.allows("repository", "p/a", "push") and principal.allows("repository", "p/a", "pull")


def test_verified_tokens_are_cached_until_they_expire(keys, verifier):
    token = keys.mint([access("p/a", "pull")])
    first = verifier.verify(token)
    assert verifier.verify(token) is first
    stale = keys.mint([], ttl=-60)
    with pytest.raises(InvalidToken):
        verifier.verify(stale)


def test_cached_answers_only_for_verified_live_tokens(keys, verifier, monkeypatch):
    token = keys.mint([access("p/a", "pull")], ttl=60)
    assert verifier.cached(token) is None, "never verified: no answer without RSA work"
    principal = verifier.verify(token)
    assert verifier.cached(token) is principal
    # Past exp plus the leeway, the cached principal is no longer handed out.
    later = time.time() + 60 + 11
    monkeypatch.setattr(time, "time", lambda: later)
    assert verifier.cached(token) is None


def test_public_key_file_works_like_a_certificate(keys, tmp_path):
    from cryptography.hazmat.primitives import serialization

    pem = keys.private_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "public.pem").write_bytes(pem)
    verifier = TokenVerifier(load_public_key(tmp_path / "public.pem"), keys.issuer, keys.service, "r")
    assert verifier.verify(keys.mint([])).subject == "tester"


@pytest.mark.parametrize(
    "claim",
    [
        {"type": "repository"},
        "not a list",
        [["x"]],
        [{"type": "repository", "name": "p/a", "actions": "pull"}],
        [{"type": 1, "name": "p/a", "actions": []}],
    ],
)
def test_malformed_access_claims(keys, verifier, claim):
    import jwt

    token = jwt.encode(
        {"iss": keys.issuer, "aud": keys.service, "exp": int(time.time()) + 60, "sub": "x", "access": claim},
        keys.private_key,
        algorithm="RS256",
    )
    with pytest.raises(InvalidToken):
        verifier.verify(token)


def test_missing_expiry_is_refused(keys, verifier):
    import jwt

    token = jwt.encode({"iss": keys.issuer, "aud": keys.service, "sub": "x", "access": []}, keys.private_key, algorithm="RS256")
    with pytest.raises(InvalidToken, match="exp"):
        verifier.verify(token)


def test_challenge_header(verifier):
    assert verifier.challenge() == {"WWW-Authenticate": 'Bearer realm="https://r.example/service/token",service="berth-registry"'}
    assert verifier.challenge(["repository:p/a:pull,push", "repository:p/b:pull"], error="invalid_token") == {
        "WWW-Authenticate": 'Bearer realm="https://r.example/service/token",service="berth-registry",'
        'scope="repository:p/a:pull,push repository:p/b:pull",error="invalid_token"'
    }
