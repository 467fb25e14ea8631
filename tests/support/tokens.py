"""Registry bearer tokens for tests: a throwaway RSA key pair and a minting helper.

Core's token service issues the real ones (RS256, claims iss, sub, aud, exp, nbf, iat, jti,
access; header kid). Until a test runs against core, it mints tokens with the same shape::

    keys = TokenKeys.generate(tmp_path)            # writes key.pem and cert.pem
    token = keys.mint(pull_push("proj/app"), sub="alice")
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

ISSUER = "berth-token-issuer"
SERVICE = "berth-registry"


def access(name: str, *actions: str, resource_type: str = "repository") -> dict[str, Any]:
    """One entry of the ``access`` claim."""
    return {"type": resource_type, "name": name, "actions": list(actions)}


def pull(name: str) -> list[dict[str, Any]]:
    return [access(name, "pull")]


def pull_push(name: str) -> list[dict[str, Any]]:
    return [access(name, "pull", "push")]


def everything(*names: str) -> list[dict[str, Any]]:
    """``*`` on each repository, plus the catalog."""
    return [access(name, "*") for name in names] + [catalog()]


def catalog() -> dict[str, Any]:
    return access("catalog", "*", resource_type="registry")


def libtrust_kid(public_key: rsa.RSAPublicKey) -> str:
    """The key id distribution expects: base32 of the first 30 bytes of sha256(DER), in groups of 4."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


@dataclasses.dataclass(frozen=True)
class TokenKeys:
    """A private key that signs and the certificate the registry verifies with."""

    private_key: rsa.RSAPrivateKey
    key_path: Path
    cert_path: Path
    issuer: str = ISSUER
    service: str = SERVICE

    @classmethod
    def generate(cls, directory: Path, issuer: str = ISSUER, service: str = SERVICE) -> TokenKeys:
        """Create a 2048-bit key pair and a self-signed certificate under ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "berth-test-token-signer")])
        now = dt.datetime.now(dt.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(private_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .sign(private_key, hashes.SHA256())
        )
        key_path = directory / "token-key.pem"
        cert_path = directory / "token-cert.pem"
        key_path.write_bytes(
            private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
        key_path.chmod(0o600)
        cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        return cls(private_key, key_path, cert_path, issuer, service)

    def mint(
        self,
        access_list: Iterable[dict[str, Any]] = (),
        *,
        sub: str = "tester",
        ttl: float = 300,
        issuer: str | None = None,
        audience: str | None = None,
        not_before: float | None = None,
        private_key: rsa.RSAPrivateKey | None = None,
        algorithm: str = "RS256",
    ) -> str:
        """A signed token granting ``access_list``; the keyword arguments make bad tokens for tests."""
        now = time.time()
        claims = {
            "iss": issuer or self.issuer,
            "sub": sub,
            "aud": audience or self.service,
            "exp": int(now + ttl),
            "nbf": int(not_before if not_before is not None else now - 1),
            "iat": int(now),
            "jti": uuid.uuid4().hex,
            "access": list(access_list),
        }
        key = private_key or self.private_key
        headers = {"kid": libtrust_kid(key.public_key())}
        return jwt.encode(claims, key, algorithm=algorithm, headers=headers)
