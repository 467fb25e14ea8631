"""Bearer tokens of the Docker registry token spec, verified locally with core's public key.

Core's token service signs RS256 JWTs whose ``access`` claim lists what the bearer may do::

    [{"type": "repository", "name": "proj/app", "actions": ["pull", "push"]},
     {"type": "registry", "name": "catalog", "actions": ["*"]}]

``TokenVerifier.verify`` checks signature, issuer, audience (= our service name), ``exp``/``nbf``
with a small leeway and the shape of ``access``, then remembers the result until the token
expires, so a busy pull path does one dictionary lookup instead of an RSA verification.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

LEEWAY_SECONDS = 10
CACHE_SIZE = 10_000


class InvalidToken(Exception):
    """The token cannot be trusted; the message says why (for logs, not for clients)."""


@dataclasses.dataclass(frozen=True)
class Principal:
    """Who the token speaks for and what it grants."""

    subject: str
    access: Mapping[tuple[str, str], frozenset[str]]
    expires_at: float

    def allows(self, resource_type: str, name: str, action: str) -> bool:
        """Whether ``action`` is granted on the resource; ``*`` grants every action."""
        actions = self.access.get((resource_type, name))
        return bool(actions) and ("*" in actions or action in actions)


def load_public_key(path: str | Path) -> rsa.RSAPublicKey:
    """The RSA public key in a PEM certificate or PEM public key file; raises ValueError."""
    data = Path(path).read_bytes()
    is_certificate = b"BEGIN CERTIFICATE" in data
    key = x509.load_pem_x509_certificate(data).public_key() if is_certificate else serialization.load_pem_public_key(data)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError(f"{path}: token verification needs an RSA key, found {type(key).__name__}")
    return key


def _parse_access(claim: object) -> dict[tuple[str, str], frozenset[str]]:
    if claim is None:
        return {}
    if not isinstance(claim, list):
        raise InvalidToken("access claim is not a list")
    access: dict[tuple[str, str], frozenset[str]] = {}
    for entry in claim:
        if not isinstance(entry, Mapping):
            raise InvalidToken("access entry is not an object")
        resource_type, name, actions = entry.get("type"), entry.get("name"), entry.get("actions")
        if not isinstance(resource_type, str) or not isinstance(name, str) or not isinstance(actions, list):
            raise InvalidToken("access entry lacks type, name or actions")
        if not all(isinstance(action, str) for action in actions):
            raise InvalidToken("access actions must be strings")
        key = (resource_type, name)
        access[key] = access.get(key, frozenset()) | frozenset(actions)
    return access


class TokenVerifier:
    """Verifies bearer tokens and caches the verified ones until they expire."""

    def __init__(self, public_key: rsa.RSAPublicKey, issuer: str, service: str, realm: str) -> None:
        self.public_key = public_key
        self.issuer = issuer
        self.service = service
        self.realm = realm
        self._cache: dict[str, Principal] = {}
        self._lock = threading.Lock()

    def cached(self, token: str) -> Principal | None:
        """The principal of a token already verified and not yet expired, else None (no RSA work)."""
        cached = self._cache.get(token)
        if cached is not None and cached.expires_at + LEEWAY_SECONDS > time.time():
            return cached
        return None

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; raises InvalidToken."""
        cached = self.cached(token)
        if cached is not None:
            return cached
        now = time.time()
        try:
            claims = jwt.decode(
                token,
                self.public_key,
                algorithms=["RS256"],
                audience=self.service,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from None
        subject = claims.get("sub", "")
        if not isinstance(subject, str):
            raise InvalidToken("sub claim is not a string")
        principal = Principal(subject, _parse_access(claims.get("access")), float(claims["exp"]))
        self._remember(token, principal, now)
        return principal

    def _remember(self, token: str, principal: Principal, now: float) -> None:
        with self._lock:
            if len(self._cache) >= CACHE_SIZE:
                # Drop what has expired; if every entry is still live, start over (simple and bounded).
                for key in [k for k, p in self._cache.items() if p.expires_at + LEEWAY_SECONDS <= now]:
                    del self._cache[key]
                if len(self._cache) >= CACHE_SIZE:
                    self._cache.clear()
            self._cache[token] = principal

    def challenge(self, scopes: Iterable[str] = (), error: str | None = None) -> dict[str, str]:
        """The ``WWW-Authenticate`` header that sends a client to the token service."""
        value = f'Bearer realm="{self.realm}",service="{self.service}"'
        scope = " ".join(scopes)
        if scope:
            value += f',scope="{scope}"'
        if error:
            value += f',error="{error}"'
        return {"WWW-Authenticate": value}


def repository_scope(name: str, actions: Iterable[str]) -> str:
    """``repository:<name>:<a,b>`` as used in challenges and token requests."""
    return f"repository:{name}:{','.join(actions)}"


CATALOG_SCOPE = "registry:catalog:*"
