"""Password hashing (argon2id) and Harbor's password policy.

Hashes are self-describing argon2 strings, so changing the cost settings affects new hashes only
and old ones keep verifying (and are upgraded at the next successful login).

Registry clients send Basic credentials on every token request and scripts on every API call,
and one argon2 verification costs ~50 ms of CPU and 64 MiB. Successful verifications are
therefore remembered for a few minutes, keyed by an HMAC (with a per-process random key) of the
stored hash and the password: no password is kept, a changed password or hash misses the cache,
and failures are never cached, so guessing stays exactly as slow as before. Concurrent requests
with the same credentials wait for one verification instead of each running their own.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import re
import secrets
import string
import threading
import time

import argon2
from argon2.exceptions import InvalidHashError, VerificationError

from berth_core import errors
from berth_core.errors import APIError
from berth_core.settings import CoreSettings

MIN_LENGTH = 8
MAX_LENGTH = 128  # Harbor's limit; also bounds the work an attacker can ask the KDF to do
VERIFIED_TTL_SECONDS = 300.0
VERIFIED_MAX_ENTRIES = 4096


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
        self._cache_key = secrets.token_bytes(32)
        self._verified: collections.OrderedDict[bytes, float] = collections.OrderedDict()
        self._running: dict[bytes, threading.Event] = {}  # verifications in progress, by cache key
        self._lock = threading.Lock()

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        if password_hash is None:
            self._verify_slowly(self._dummy, password)  # same cost whether or not the account exists
            return False
        key = hmac.new(
            self._cache_key, password_hash.encode() + b"\0" + password.encode("utf-8", "surrogatepass"), hashlib.sha256
        ).digest()
        while True:
            with self._lock:
                expires = self._verified.get(key)
                if expires is not None and expires > time.monotonic():
                    return True
                running = self._running.get(key)
                if running is None:
                    running = self._running[key] = threading.Event()
                    break
            # The same credentials are being verified by another request (a client starting
            # several pushes at once): wait for that one rather than run the KDF again. If it
            # failed, this request still pays for its own verification (failures are not shared).
            running.wait()
        try:
            if not self._verify_slowly(password_hash, password):
                return False
            with self._lock:
                self._verified[key] = time.monotonic() + VERIFIED_TTL_SECONDS
                self._verified.move_to_end(key)
                while len(self._verified) > VERIFIED_MAX_ENTRIES:
                    self._verified.popitem(last=False)
            return True
        finally:
            with self._lock:
                del self._running[key]
            running.set()

    def _verify_slowly(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
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
