"""A small OCI Distribution protocol client for tests (STYLE §13).

It speaks the registry's HTTP surface the way docker, podman and skopeo do, and asserts what
the spec promises on the way (status codes, ``Location``, ``Range``, ``Docker-Content-Digest``).
The same client runs against the Flask test client (integration tests) and against a real base
URL with requests (e2e through the proxy)::

    client = OCIClient(FlaskTransport(app.test_client()), token=keys.mint(...))
    client = OCIClient(HttpTransport("https://localhost:8443"), credentials=("admin", "pw"))

Tokens: a fixed ``token`` is sent with every request; with ``credentials`` (or a ``token_source``
callable) the client answers a 401 challenge by asking the realm for a token, as docker does.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, BinaryIO
from urllib.parse import urlencode, urlsplit

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


class Headers:
    """Case-insensitive response headers."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self._items = [(k, v) for k, v in items]

    def get(self, name: str, default: str | None = None) -> str | None:
        for key, value in self._items:
            if key.lower() == name.lower():
                return value
        return default

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


@dataclasses.dataclass
class Reply:
    status: int
    headers: Headers
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error_codes(self) -> list[str]:
        """The ``code`` of each error in an OCI error envelope."""
        try:
            return [error["code"] for error in self.json()["errors"]]
        except (ValueError, KeyError, TypeError):
            return []


class ProtocolError(AssertionError):
    """The registry answered something the spec does not allow here."""


def expect(reply: Reply, *statuses: int) -> Reply:
    if reply.status not in statuses:
        raise ProtocolError(f"expected status {statuses}, got {reply.status}: {reply.body[:500]!r}")
    return reply


class FlaskTransport:
    """Requests through a Flask test client (no network)."""

    def __init__(self, test_client: Any) -> None:
        self.test_client = test_client

    def request(self, method: str, url: str, headers: Mapping[str, str], body: bytes | BinaryIO | None) -> Reply:
        kwargs: dict[str, Any] = {"method": method, "headers": dict(headers)}
        if isinstance(body, bytes):
            kwargs["data"] = body
        elif body is not None:
            kwargs["input_stream"] = body
        response = self.test_client.open(url, **kwargs)
        try:
            # Streamed bodies are consumed here; tests of big downloads use a real transport.
            return Reply(response.status_code, Headers(response.headers.items()), response.get_data())
        finally:
            response.close()

    def fetch_token(self, realm: str, params: Mapping[str, str], credentials: tuple[str, str] | None) -> str:
        raise ProtocolError("the Flask transport cannot reach a token service; pass token= or token_source=")


class HttpTransport:
    """Requests over HTTP(S) to a running registry (or the proxy in front of it)."""

    def __init__(self, base_url: str, verify: bool | str = True, session: Any = None) -> None:
        import requests

        self.base_url = base_url.rstrip("/")
        self.verify = verify
        self.session = session or requests.Session()

    def request(self, method: str, url: str, headers: Mapping[str, str], body: bytes | BinaryIO | None) -> Reply:
        target = url if urlsplit(url).scheme else self.base_url + url
        response = self.session.request(method, target, headers=dict(headers), data=body, verify=self.verify, allow_redirects=False)
        return Reply(response.status_code, Headers(response.headers.items()), response.content)

    def fetch_token(self, realm: str, params: Mapping[str, str], credentials: tuple[str, str] | None) -> str:
        response = self.session.get(realm, params=params, auth=credentials, verify=self.verify)
        if response.status_code != 200:
            raise ProtocolError(f"token service answered {response.status_code}: {response.text[:300]}")
        answer = response.json()
        return answer.get("token") or answer["access_token"]


_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


class OCIClient:
    """Push, pull, mount, list and delete over the distribution API, asserting as it goes."""

    def __init__(
        self,
        transport: FlaskTransport | HttpTransport,
        *,
        token: str | None = None,
        token_source: Callable[[str], str] | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.transport = transport
        self.token = token
        self.token_source = token_source
        self.credentials = credentials

    # -- plumbing ------------------------------------------------------------------------------

    def request(self, method: str, url: str, *, headers: Mapping[str, str] | None = None, body: bytes | BinaryIO | None = None) -> Reply:
        """One request; on a Bearer challenge, fetch a token for its scope and retry once."""
        sent = dict(headers or {})
        if self.token:
            sent.setdefault("Authorization", f"Bearer {self.token}")
        reply = self.transport.request(method, url, sent, body)
        challenge = reply.headers.get("WWW-Authenticate", "")
        can_retry = isinstance(body, bytes | type(None))
        if reply.status == 401 and challenge.lower().startswith("bearer") and can_retry and (self.token_source or self.credentials):
            params = dict(_CHALLENGE_PARAM.findall(challenge))
            scope = params.get("scope", "")
            if self.token_source is not None:
                token = self.token_source(scope)
            else:
                query = {"service": params.get("service", "")}
                if scope:
                    query["scope"] = scope
                token = self.transport.fetch_token(params["realm"], query, self.credentials)
            sent["Authorization"] = f"Bearer {token}"
            reply = self.transport.request(method, url, sent, body)
        return reply

    @staticmethod
    def _with_query(url: str, **params: Any) -> str:
        query = urlencode([(k, v) for k, v in params.items() if v is not None], doseq=True)
        if not query:
            return url
        return f"{url}{'&' if '?' in url else '?'}{query}"

    # -- base ----------------------------------------------------------------------------------

    def ping(self) -> Reply:
        reply = expect(self.request("GET", "/v2/"), 200)
        assert reply.headers.get("Docker-Distribution-API-Version") == "registry/2.0"
        return reply

    # -- blobs ---------------------------------------------------------------------------------

    def start_upload(self, repo: str) -> Reply:
        reply = expect(self.request("POST", f"/v2/{repo}/blobs/uploads/"), 202)
        assert reply.headers.get("Location"), "POST must return the session Location"
        assert reply.headers.get("Range", "").startswith("0-")
        assert reply.headers.get("Docker-Upload-UUID")
        return reply

    def _finished(self, repo: str, reply: Reply, digest: str) -> str:
        expect(reply, 201)
        assert reply.headers.get("Docker-Content-Digest") == digest, reply.headers
        assert reply.headers.get("Location", "").endswith(f"/v2/{repo}/blobs/{digest}"), reply.headers
        return digest

    def push_blob(self, repo: str, data: bytes, *, method: str = "post_put", chunk_size: int = 64 * 1024, algorithm: str = "sha256") -> str:
        """Upload ``data`` with one of the spec's methods; returns its digest.

        ``method``: ``monolithic`` (single POST), ``post_put``, ``chunked`` (PATCH with
        Content-Range, then an empty PUT) or ``stream`` (one PATCH without Content-Range).
        """
        digest = digest_of(data, algorithm)
        if method == "monolithic":
            reply = self.request(
                "POST",
                self._with_query(f"/v2/{repo}/blobs/uploads/", digest=digest),
                headers={"Content-Type": "application/octet-stream"},
                body=data,
            )
            return self._finished(repo, reply, digest)
        location = self.start_upload(repo).headers["Location"]
        if method == "post_put":
            reply = self.request(
                "PUT", self._with_query(location, digest=digest), headers={"Content-Type": "application/octet-stream"}, body=data
            )
            return self._finished(repo, reply, digest)
        if method == "chunked":
            for start in range(0, len(data), chunk_size):
                location = self.patch_chunk(location, data[start : start + chunk_size], start).headers["Location"]
        elif method == "stream":
            reply = expect(self.request("PATCH", location, headers={"Content-Type": "application/octet-stream"}, body=data), 202)
            assert reply.headers.get("Range") == f"0-{max(len(data) - 1, 0)}", reply.headers
            location = reply.headers["Location"]
        else:
            raise ValueError(f"unknown upload method {method!r}")
        reply = self.request("PUT", self._with_query(location, digest=digest), body=b"")
        return self._finished(repo, reply, digest)

    def patch_chunk(self, location: str, chunk: bytes, start: int) -> Reply:
        """PATCH one chunk at ``start`` and check the Range the registry reports."""
        reply = expect(
            self.request(
                "PATCH",
                location,
                headers={"Content-Type": "application/octet-stream", "Content-Range": f"{start}-{start + len(chunk) - 1}"},
                body=chunk,
            ),
            202,
        )
        assert reply.headers.get("Range") == f"0-{start + len(chunk) - 1}", reply.headers
        assert reply.headers.get("Location")
        return reply

    def push_blob_stream(self, repo: str, stream: BinaryIO, digest: str, length: int | None = None) -> str:
        """Stream a large body in one PATCH (no Content-Range), then finish with an empty PUT."""
        location = self.start_upload(repo).headers["Location"]
        headers = {"Content-Type": "application/octet-stream"}
        if length is not None:
            headers["Content-Length"] = str(length)
        reply = expect(self.request("PATCH", location, headers=headers, body=stream), 202)
        reply = self.request("PUT", self._with_query(reply.headers["Location"], digest=digest), body=b"")
        return self._finished(repo, reply, digest)

    def mount(self, repo: str, digest: str, source: str | None = None) -> Reply:
        """POST ?mount= (&from=): 201 when mounted, 202 with a new session otherwise."""
        reply = expect(self.request("POST", self._with_query(f"/v2/{repo}/blobs/uploads/", mount=digest, **{"from": source})), 201, 202)
        assert reply.headers.get("Location")
        if reply.status == 201:
            assert reply.headers.get("Docker-Content-Digest") == digest
        return reply

    def head_blob(self, repo: str, digest: str) -> Reply:
        return self.request("HEAD", f"/v2/{repo}/blobs/{digest}")

    def get_blob(self, repo: str, digest: str, byte_range: str | None = None) -> Reply:
        headers = {"Range": byte_range} if byte_range else {}
        return self.request("GET", f"/v2/{repo}/blobs/{digest}", headers=headers)

    def pull_blob(self, repo: str, digest: str) -> bytes:
        """GET a blob and verify its bytes against the digest."""
        reply = expect(self.get_blob(repo, digest), 200)
        assert reply.headers.get("Docker-Content-Digest") == digest
        assert digest_of(reply.body, digest.split(":")[0]) == digest, "blob bytes do not match the digest"
        return reply.body

    def delete_blob(self, repo: str, digest: str) -> Reply:
        return self.request("DELETE", f"/v2/{repo}/blobs/{digest}")

    # -- manifests -----------------------------------------------------------------------------

    def put_manifest(
        self, repo: str, reference: str, body: bytes, media_type: str = OCI_MANIFEST, tags: Iterable[str] = (), expect_status: int = 201
    ) -> Reply:
        url = self._with_query(f"/v2/{repo}/manifests/{reference}", tag=list(tags) or None)
        reply = expect(self.request("PUT", url, headers={"Content-Type": media_type}, body=body), expect_status)
        if expect_status == 201:
            digest = digest_of(body, reference.split(":")[0] if ":" in reference else "sha256")
            assert reply.headers.get("Docker-Content-Digest") == digest, reply.headers
            assert reply.headers.get("Location", "").endswith(f"/v2/{repo}/manifests/{digest}"), reply.headers
        return reply

    def get_manifest(
        self, repo: str, reference: str, accept: Iterable[str] = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST)
    ) -> Reply:
        return self.request("GET", f"/v2/{repo}/manifests/{reference}", headers={"Accept": ", ".join(accept)})

    def head_manifest(self, repo: str, reference: str) -> Reply:
        return self.request("HEAD", f"/v2/{repo}/manifests/{reference}")

    def delete_manifest(self, repo: str, reference: str) -> Reply:
        return self.request("DELETE", f"/v2/{repo}/manifests/{reference}")

    def push_image(
        self,
        repo: str,
        tag: str | None,
        layers: Iterable[bytes],
        *,
        config: bytes | None = None,
        media_type: str = OCI_MANIFEST,
        extra: Mapping[str, Any] | None = None,
        method: str = "post_put",
    ) -> tuple[str, bytes]:
        """Push layers, config and a manifest (tag or, without one, digest); returns (digest, bytes)."""
        docker = media_type == DOCKER_MANIFEST
        layers = list(layers)
        config = (
            config
            if config is not None
            else json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
        )
        layer_descriptors = []
        for layer in layers:
            layer_descriptors.append(
                {
                    "mediaType": DOCKER_LAYER if docker else OCI_LAYER,
                    "digest": self.push_blob(repo, layer, method=method),
                    "size": len(layer),
                }
            )
        config_descriptor = {
            "mediaType": DOCKER_CONFIG if docker else OCI_CONFIG,
            "digest": self.push_blob(repo, config, method=method),
            "size": len(config),
        }
        manifest = {"schemaVersion": 2, "mediaType": media_type, "config": config_descriptor, "layers": layer_descriptors, **(extra or {})}
        body = json.dumps(manifest).encode()
        digest = digest_of(body)
        self.put_manifest(repo, tag or digest, body, media_type)
        return digest, body

    def pull_image(self, repo: str, reference: str) -> dict[str, Any]:
        """GET the manifest and every blob it names, verifying digests; returns the manifest."""
        reply = expect(self.get_manifest(repo, reference), 200)
        digest = reply.headers["Docker-Content-Digest"]
        assert digest_of(reply.body, digest.split(":")[0]) == digest
        manifest = reply.json()
        for descriptor in [manifest.get("config"), *manifest.get("layers", [])]:
            if descriptor:
                self.pull_blob(repo, descriptor["digest"])
        return manifest

    # -- listings ------------------------------------------------------------------------------

    def tags(self, repo: str, n: int | None = None, last: str | None = None) -> Reply:
        return self.request("GET", self._with_query(f"/v2/{repo}/tags/list", n=n, last=last))

    def all_tags(self, repo: str, n: int) -> Iterator[str]:
        """Follow ``Link`` headers through every page."""
        url: str | None = self._with_query(f"/v2/{repo}/tags/list", n=n)
        while url:
            reply = expect(self.request("GET", url), 200)
            yield from reply.json()["tags"]
            link = reply.headers.get("Link")
            url = re.match(r"<([^>]+)>", link).group(1) if link else None

    def catalog(self, n: int | None = None, last: str | None = None) -> Reply:
        return self.request("GET", self._with_query("/v2/_catalog", n=n, last=last))

    def referrers(self, repo: str, digest: str, artifact_type: str | None = None) -> Reply:
        reply = self.request("GET", self._with_query(f"/v2/{repo}/referrers/{digest}", artifactType=artifact_type))
        if reply.status == 200:
            assert reply.headers.get("Content-Type") == OCI_INDEX
        return reply
