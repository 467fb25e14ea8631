"""The rendered nginx config, run by the real nginx: routing, headers, TLS and redirect."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from berth_deploy.config import Config, parse
from berth_deploy.infra import free_port, port_open, wait_for
from berth_deploy.prepare import prepare_local
from support.servers import echo_server

ROOT = Path(__file__).resolve().parents[3]


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = directory / "tls.crt", directory / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


@contextlib.contextmanager
def running_proxy(directory: Path, core_port: int, registry_port: int, https: bool = False, **settings) -> Iterator[tuple[Config, int]]:
    """nginx from the config prepare renders (berth.yml.example with ``settings``), in front of
    the given core and registry upstreams."""
    data = yaml.safe_load((ROOT / "berth.yml.example").read_text())
    data.update(settings)
    data["http"] = {"bind": "127.0.0.1", "port": free_port()}
    data["internal"] = {"core_port": core_port, "registry_port": registry_port}
    data["log"] = {"collector_port": free_port()}
    if https:
        cert, key = self_signed(directory)
        data["https"] = {"enabled": True, "port": free_port(), "certificate": str(cert), "private_key": str(key)}
    config = parse(data, directory / "berth.yml")
    prepared = prepare_local(config, "postgresql://x@127.0.0.1/berth", "amqp://g:g@127.0.0.1/%2F")
    run_dir = config.run_dir / "nginx"
    run_dir.mkdir(parents=True, exist_ok=True)
    check = subprocess.run(["nginx", "-t", "-c", str(prepared.nginx_conf), "-p", str(run_dir)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen(["nginx", "-c", str(prepared.nginx_conf), "-p", str(run_dir), "-g", "daemon off;"])
    port = config.https_port if https else config.http_port
    try:
        wait_for(lambda: port_open("127.0.0.1", port), 10, "nginx")
        yield config, port
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def proxy(open_tmp_path, request):
    """nginx from the rendered config in front of two echo upstreams (core and registry)."""
    https = getattr(request, "param", False)
    with echo_server("core") as core, echo_server("registry") as registry, running_proxy(open_tmp_path, core, registry, https) as running:
        yield running


def test_routes_v2_to_registry_and_everything_else_to_core(proxy):
    config, port = proxy
    base = f"http://127.0.0.1:{port}"
    routes = {
        "/v2/": "registry",
        "/v2/library/alpine/manifests/3": "registry",
        "/service/token?service=berth-registry": "core",
        "/api/v2.0/health": "core",
        "/c/login": "core",
        "/": "core",
        "/harbor/projects": "core",
    }
    for path, server in routes.items():
        response = requests.get(base + path, timeout=5)
        assert response.status_code == 200, path
        echo = response.json()
        assert echo["server"] == server, path
        assert echo["path"] == path  # passed through unmodified
        assert echo["headers"]["x-forwarded-proto"] == "http"
        assert echo["headers"]["x-real-ip"] == "127.0.0.1"
        assert echo["headers"]["host"] == f"127.0.0.1:{port}"
        assert echo["headers"]["x-request-id"]
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert requests.get(base + "/v1/_ping", timeout=5).status_code == 404


def test_request_id_from_the_client_is_kept(proxy):
    _config, port = proxy
    echo = requests.get(f"http://127.0.0.1:{port}/api/v2.0/ping", headers={"X-Request-Id": "abc-123"}, timeout=5).json()
    assert echo["headers"]["x-request-id"] == "abc-123"


@pytest.mark.parametrize("proxy", [True], indirect=True)
def test_https_serves_tls_and_plain_http_redirects(proxy):
    config, port = proxy
    response = requests.get(f"https://localhost:{port}/api/v2.0/ping", verify=str(config.tls_certificate), timeout=5)
    assert response.json()["headers"]["x-forwarded-proto"] == "https"
    assert "max-age" in response.headers["Strict-Transport-Security"]
    deadline = time.monotonic() + 5
    while not port_open("127.0.0.1", config.http_port) and time.monotonic() < deadline:
        time.sleep(0.1)
    redirect = requests.post(f"http://127.0.0.1:{config.http_port}/v2/x/blobs/uploads/", allow_redirects=False, timeout=5)
    assert redirect.status_code == 308
    assert redirect.headers["Location"] == f"https://127.0.0.1:{port}/v2/x/blobs/uploads/"


# -- large upload bodies: spooled by nginx for pushers, streamed for everyone else ---------------

PUSHER = "Bearer pusher"
MIB = 1024 * 1024


class _RegistryStandIn(BaseHTTPRequestHandler):
    """The registry as nginx sees it: answers the access check (204 for PUSHER, else 403) and
    describes every other request, reading a spooled body file while the request is open."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path == "/_berth/upload-access":
            self.server.checks.append({"uri": self.headers.get("X-Original-URI"), "content_length": self.headers.get("Content-Length")})
            self._reply(204 if self.headers.get("Authorization") == PUSHER else 403, b"")
        else:
            self._describe()

    def _describe(self) -> None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            streamed = hashlib.sha256()
            while size := int(self.rfile.readline().split(b";")[0].strip(), 16):
                streamed.update(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
        else:
            streamed = hashlib.sha256(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        named = self.headers.get("X-Berth-Body-File")
        spooled = Path(named).read_bytes() if named else None
        answer = {
            "path": self.path,
            "method": self.command,
            "content_length": self.headers.get("Content-Length"),
            "transfer_encoding": self.headers.get("Transfer-Encoding"),
            "streamed_sha256": streamed.hexdigest(),
            "body_file": named,
            "spooled_size": None if spooled is None else len(spooled),
            "spooled_sha256": None if spooled is None else hashlib.sha256(spooled).hexdigest(),
        }
        self._reply(200, json.dumps(answer).encode())

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_PATCH = do_PUT = do_POST = _describe

    def log_message(self, *_args) -> None:
        pass


@contextlib.contextmanager
def proxy_to_stand_in(directory: Path, **settings) -> Iterator[tuple[Config, int, list[dict]]]:
    """nginx from the rendered config in front of the registry stand-in: (config, port, access checks)."""
    registry = ThreadingHTTPServer(("127.0.0.1", 0), _RegistryStandIn)
    registry.checks = []
    thread = threading.Thread(target=registry.serve_forever, daemon=True)
    thread.start()
    try:
        with echo_server("core") as core, running_proxy(directory, core, registry.server_address[1], **settings) as (config, port):
            yield config, port, registry.checks
    finally:
        registry.shutdown()
        registry.server_close()


@pytest.fixture
def spooling_proxy(open_tmp_path):
    with proxy_to_stand_in(open_tmp_path) as running:
        yield running


S3 = {"type": "s3", "s3": {"bucket": "b", "regionendpoint": "http://127.0.0.1:1", "accesskey": "a", "secretkey": "s"}}


def test_without_a_spool_large_bodies_of_pushers_stream_after_the_check(open_tmp_path):
    with proxy_to_stand_in(open_tmp_path, storage_service=S3) as (config, port, checks):
        url = f"http://127.0.0.1:{port}/v2/p/r/blobs/uploads/u"
        expected = hashlib.sha256(b"".join(blocks(16))).hexdigest()
        answer = requests.patch(url, data=blocks(16), headers={"Authorization": PUSHER}, timeout=60).json()
        assert answer["body_file"] is None and answer["streamed_sha256"] == expected
        assert answer["transfer_encoding"] == "chunked" and answer["path"] == "/v2/p/r/blobs/uploads/u"
        refused = requests.patch(url, data=blocks(16), timeout=60).json()
        assert refused["body_file"] is None and refused["streamed_sha256"] == hashlib.sha256(b"").hexdigest()
        assert len(checks) == 2
        assert not (config.filesystem_root / "~spool").exists()


def blocks(count: int) -> Iterator[bytes]:
    for number in range(count):
        yield number.to_bytes(8, "big") + b"x" * (MIB - 8)


def test_large_upload_bodies_of_pushers_are_spooled_to_a_file(spooling_proxy):
    config, port, checks = spooling_proxy
    url = f"http://127.0.0.1:{port}/v2/p/r/blobs/uploads/u?digest=sha256:abc"
    expected = hashlib.sha256(b"".join(blocks(64))).hexdigest()
    spool = config.filesystem_root / "~spool"

    # A chunked body of 64 MiB (as docker streams layers), then one with a Content-Length.
    for body in (blocks(64), b"".join(blocks(64))):
        answer = requests.patch(url, data=body, headers={"Authorization": PUSHER}, timeout=60).json()
        assert answer["body_file"] is not None and Path(answer["body_file"]).parent == spool
        assert (answer["spooled_size"], answer["spooled_sha256"]) == (64 * MIB, expected)
        assert answer["path"] == "/v2/p/r/blobs/uploads/u?digest=sha256:abc"  # the client's URI, not the internal one
        assert answer["content_length"] is None and answer["transfer_encoding"] is None  # headers only
    assert checks == [{"uri": "/v2/p/r/blobs/uploads/u?digest=sha256:abc", "content_length": None}] * 2
    assert list(spool.iterdir()) == []  # nginx removes its name for the file after the request


def test_large_upload_bodies_of_others_are_neither_stored_nor_passed_on(spooling_proxy):
    config, port, checks = spooling_proxy
    url = f"http://127.0.0.1:{port}/v2/p/r/blobs/uploads/u"
    nothing = hashlib.sha256(b"").hexdigest()
    with requests.Session() as session:  # one connection: nginx must read and drop each body
        for authorization in (None, "Bearer reader", None):
            headers = {"Authorization": authorization} if authorization else {}
            for body in (blocks(32), b"".join(blocks(16))):
                reply = session.patch(url, data=body, headers=headers, timeout=60)
                # Denied by the access check: the registry gets the request without its body and
                # answers from the headers (a 401 challenge, 403...); the spool stays empty.
                assert reply.status_code == 200, reply.text
                answer = reply.json()
                assert answer["body_file"] is None and answer["streamed_sha256"] == nothing
                assert answer["content_length"] is None and answer["transfer_encoding"] is None
                assert answer["path"] == "/v2/p/r/blobs/uploads/u"
    assert len(checks) == 6
    assert list((config.filesystem_root / "~spool").iterdir()) == []


def test_bodies_below_64_kib_and_other_requests_stream_without_an_access_check(spooling_proxy):
    _config, port, checks = spooling_proxy
    base = f"http://127.0.0.1:{port}"
    small = b"s" * 65535
    for method, path in (("PATCH", "/v2/p/r/blobs/uploads/u"), ("PUT", "/v2/p/r/blobs/uploads/u"), ("POST", "/v2/p/r/blobs/uploads/")):
        answer = requests.request(method, base + path, data=small, headers={"Authorization": PUSHER}, timeout=60).json()
        assert answer["body_file"] is None and answer["streamed_sha256"] == hashlib.sha256(small).hexdigest(), (method, path)
    assert checks == []
    for body in (b"m" * MIB, blocks(2)):  # not an upload URL: streams at any size
        answer = requests.put(base + "/v2/p/r/manifests/v1", data=body, headers={"Authorization": PUSHER}, timeout=60).json()
        assert answer["body_file"] is None
    assert checks == []
    # The first size that is spooled.
    answer = requests.patch(base + "/v2/p/r/blobs/uploads/u", data=small + b"s", headers={"Authorization": PUSHER}, timeout=60).json()
    assert answer["spooled_size"] == 65536 and len(checks) == 1


def test_clients_cannot_name_a_body_file_or_reach_the_internal_locations(spooling_proxy):
    _config, port, _checks = spooling_proxy
    base = f"http://127.0.0.1:{port}"
    forged = {"Authorization": PUSHER, "X-Berth-Body-File": "/etc/passwd"}
    small = requests.patch(base + "/v2/p/r/blobs/uploads/u", data=b"tiny", headers=forged, timeout=30).json()
    assert small["body_file"] is None
    big = requests.patch(base + "/v2/p/r/blobs/uploads/u", data=blocks(16), headers=forged, timeout=60).json()
    assert big["body_file"] != "/etc/passwd" and big["spooled_size"] == 16 * MIB
    for internal in ("/_berth/large-upload", "/_berth/upload-access"):
        assert requests.get(base + internal, headers={"Authorization": PUSHER}, timeout=10).status_code == 404
