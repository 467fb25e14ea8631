"""Password hashing (argon2id) and Harbor's password policy.

Hashes are self-describing argon2 strings, so changing the cost settings affects new hashes only
and old ones keep verifying (and are upgraded at the next successful login).
"""

from __future__ import annotations

import re
import secrets
import string

import argon2
from argon2.exceptions import InvalidHashError, VerificationError

from berth_core import errors
from berth_core.errors import APIError
from berth_core.settings import CoreSettings

MIN_LENGTH = 8
MAX_LENGTH = 128  # Harbor's limit; also bounds the work an attacker can ask the KDF to do


class Hasher:
    """argon2id with the configured cost; verification never raises on bad input."""

    def __init__(self, settings: CoreSettings) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            type=argon2.Type.ID,
        )
        # Verifying against this when an account does not exist keeps the timing the same, so
        # response times do not reveal which usernames exist.
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash or self._dummy, password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True


def check_policy(password: object, field: str = "password") -> str:
    """Harbor's policy: 8-128 characters with an upper-case letter, a lower-case letter and a digit.

    Returns the password; raises a 400 APIError naming what is missing.
    """
    if not isinstance(password, str):
        raise APIError(errors.BAD_REQUEST, f"{field} must be a string")
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise APIError(errors.BAD_REQUEST, f"{field} must be {MIN_LENGTH} to {MAX_LENGTH} characters long")
    if not (re.search(r"[A-Z]", password) and re.search(r"[a-z]", password) and re.search(r"[0-9]", password)):
        raise APIError(
            errors.BAD_REQUEST,
            f"{field} must contain at least one upper-case letter, one lower-case letter and one digit",
        )
    return password


def generate_secret(length: int = 32) -> str:
    """A random secret that satisfies the password policy (robot secrets)."""
    alphabet = string.ascii_letters + string.digits
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if re.search(r"[A-Z]", candidate) and re.search(r"[a-z]", candidate) and re.search(r"[0-9]", candidate):
            return candidate
