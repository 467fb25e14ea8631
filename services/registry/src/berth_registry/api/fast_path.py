"""Manifest GET/HEAD answered from memory, in a WSGI layer in front of Flask.

A pull whose bearer token this process has already verified, whose tag or digest the reference
cache resolves and whose bytes the manifest cache holds needs no database and no storage; what
remains of it is Flask's per-request machinery (request context, URL map, hooks, Response
object), which costs several times the work itself. This layer answers exactly those requests
and hands everything else to the Flask app unchanged: an unknown or expired token, a missing
grant, a reference or body not cached, any other path or method. The Flask view then answers
(and fills the caches), so every error, challenge and first request takes the one ordinary path.

The answer is the view's, header for header (tests/integration/registry/test_fast_path.py
compares the two): status 200, Content-Type, Content-Length, Docker-Content-Digest, ETag,
Docker-Distribution-API-Version and X-Request-Id; a GET records the pull as the view does. Like
the view's, a successful read writes no access line (nginx logs every request with its id).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from berth_common.web import REQUEST_ID_HEADER, request_id_from
from berth_registry.api.base import API_VERSION, API_VERSION_HEADER
from berth_registry.api.common import actor_of, bearer_token, client_ip_of
from berth_registry.services.auth import TokenVerifier
from berth_registry.services.manifests import ManifestService

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_PREFIX = "/v2/"
_MANIFESTS = "/manifests/"


class ManifestFastPath:
    """WSGI middleware: cached manifest pulls here, everything else to ``app``."""

    def __init__(self, app: WSGIApp, tokens: TokenVerifier, manifests: ManifestService) -> None:
        self.app = app
        self.tokens = tokens
        self.manifests = manifests

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        if method == "GET" or method == "HEAD":
            path = environ.get("PATH_INFO", "")
            if path.startswith(_PREFIX):
                name, found, reference = path[len(_PREFIX) :].rpartition(_MANIFESTS)
                if found:
                    answered = self._answer(environ, start_response, method == "GET", name, reference)
                    if answered is not None:
                        return answered
        return self.app(environ, start_response)

    def _answer(
        self, environ: dict[str, Any], start_response: Callable[..., Any], with_body: bool, name: str, reference: str
    ) -> list[bytes] | None:
        """The response body after start_response, or None to let the Flask app answer."""
        token = bearer_token(environ.get("HTTP_AUTHORIZATION"))
        bearer = self.tokens.cached(token) if token is not None else None
        if bearer is None or not bearer.allows("repository", name, "pull"):
            return None
        # Cached only after the view validated the name and reference and found the artifact.
        ref = self.manifests.refs.get(name, reference)
        if ref is None:
            return None
        body = b""
        if with_body:
            cached = self.manifests.cached_body(ref.digest)
            if cached is None:
                return None
            body = cached
            ip = client_ip_of(environ.get("HTTP_X_REAL_IP"), environ.get("HTTP_X_FORWARDED_FOR"), environ.get("REMOTE_ADDR"))
            self.manifests.record_pull(ref, reference, actor_of(bearer, ip))
        start_response(
            "200 OK",
            [
                ("Content-Type", ref.media_type),
                ("Content-Length", str(ref.size)),
                ("Docker-Content-Digest", ref.digest),
                ("ETag", f'"{ref.digest}"'),
                (API_VERSION_HEADER, API_VERSION),
                (REQUEST_ID_HEADER, request_id_from(environ.get("HTTP_X_REQUEST_ID"))),
            ],
        )
        return [body]
