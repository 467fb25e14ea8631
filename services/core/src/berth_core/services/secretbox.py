"""Encryption of secrets stored in the database (e.g. ``ldap_search_password``), and the key file.

The key file at ``secret_key_path`` (written once by prepare) is stretched with HKDF into
separate keys per purpose, so the session-cookie signer and this box never share a key.
Values are AES-256-GCM with a random nonce, stored as ``enc:v1:<base64url(nonce|ciphertext)>``.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "enc:v1:"


def read_key_file(path: str) -> bytes:
    """The master key; raises RuntimeError at start-up if the file is missing or too short."""
    try:
        raw = Path(path).read_bytes().strip()
    except OSError as exc:
        raise RuntimeError(f"cannot read secret key file {path}: {exc.strerror}") from None
    if len(raw) < 16:
        raise RuntimeError(f"secret key file {path} holds fewer than 16 bytes")
    return raw


def derive_key(master: bytes, purpose: str) -> bytes:
    """A 32-byte key for one purpose (``"sessions"``, ``"config-secrets"``...)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"berth:{purpose}".encode()).derive(master)


class SecretBox:
    def __init__(self, master: bytes) -> None:
        self._aead = AESGCM(derive_key(master, "config-secrets"))

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), PREFIX.encode())
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, stored: str) -> str:
        """The plaintext; raises ValueError if the value was not made by this key."""
        if not stored.startswith(PREFIX):
            raise ValueError("not an encrypted value")
        try:
            blob = base64.urlsafe_b64decode(stored[len(PREFIX) :])
            return self._aead.decrypt(blob[:12], blob[12:], PREFIX.encode()).decode("utf-8")
        except (InvalidTag, ValueError) as exc:
            raise ValueError("encrypted value cannot be decrypted with this secret key") from exc
