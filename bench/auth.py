"""The Docker registry token flow as clients run it: challenge on /v2/, then the token endpoint."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from typing import Any

import requests

_PARAM = re.compile(r'(\w+)="([^"]*)"')


class AuthError(RuntimeError):
    """A registry's challenge or token endpoint did not behave as the token spec says."""


@dataclasses.dataclass(frozen=True)
class Challenge:
    realm: str
    service: str


def parse_challenge(header: str) -> Challenge:
    """The realm and service of a ``WWW-Authenticate: Bearer ...`` header."""
    scheme, _, rest = header.partition(" ")
    if scheme.lower() != "bearer":
        raise AuthError(f"expected a Bearer challenge, got {scheme or 'nothing'!r}")
    params = dict(_PARAM.findall(rest))
    if "realm" not in params:
        raise AuthError("Bearer challenge without a realm")
    return Challenge(params["realm"], params.get("service", ""))


def challenge(base_url: str) -> Challenge | None:
    """The registry's token challenge, or ``None`` when it lets anyone in without a token."""
    response = requests.get(f"{base_url}/v2/", timeout=10)
    if response.status_code == 200:
        return None
    if response.status_code != 401 or "WWW-Authenticate" not in response.headers:
        raise AuthError(f"GET /v2/ answered {response.status_code} without a token challenge")
    return parse_challenge(response.headers["WWW-Authenticate"])


def fetch_token(chal: Challenge, scope: str, username: str, password: str, session: requests.Session | None = None) -> str:
    """A bearer token for ``scope`` (e.g. ``repository:bench/x:pull,push``) with Basic credentials."""
    http = session or requests
    response = http.get(chal.realm, params={"service": chal.service, "scope": scope}, auth=(username, password), timeout=30)
    if response.status_code != 200:
        raise AuthError(f"token endpoint answered {response.status_code}: {response.text[:200]}")
    body = response.json()
    token = body.get("token") or body.get("access_token")
    if not token:
        raise AuthError("token endpoint answered 200 without a token")
    return token


def token_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, not verified (used only to read the issuer the registry must trust)."""
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError) as exc:
        raise AuthError(f"token is not a JWT: {exc}") from None
