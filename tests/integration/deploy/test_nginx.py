"""The rendered nginx config, run by the real nginx: routing, headers, TLS and redirect."""

from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess
import time
from pathlib import Path

import pytest
import requests
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from berth_deploy.config import parse
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


@pytest.fixture
def proxy(open_tmp_path, request):
    """nginx from the rendered config in front of two echo upstreams (core and registry)."""
    https = getattr(request, "param", False)
    with echo_server("core") as core_port, echo_server("registry") as registry_port:
        data = yaml.safe_load((ROOT / "berth.yml.example").read_text())
        data["http"] = {"bind": "127.0.0.1", "port": free_port()}
        data["internal"] = {"core_port": core_port, "registry_port": registry_port}
        data["log"] = {"collector_port": free_port()}
        if https:
            cert, key = self_signed(open_tmp_path)
            data["https"] = {"enabled": True, "port": free_port(), "certificate": str(cert), "private_key": str(key)}
        config = parse(data, open_tmp_path / "berth.yml")
        prepared = prepare_local(config, "postgresql://x@127.0.0.1/berth", "amqp://g:g@127.0.0.1/%2F")
        run_dir = config.run_dir / "nginx"
        run_dir.mkdir(parents=True, exist_ok=True)
        check = subprocess.run(["nginx", "-t", "-c", str(prepared.nginx_conf), "-p", str(run_dir)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        process = subprocess.Popen(["nginx", "-c", str(prepared.nginx_conf), "-p", str(run_dir), "-g", "daemon off;"])
        port = config.https_port if https else config.http_port
        try:
            wait_for(lambda: port_open("127.0.0.1", port), 10, "nginx")
            yield dataclasses.replace(config), port
        finally:
            process.terminate()
            process.wait(10)


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


def test_large_push_bodies_stream_without_limit(proxy):
    _config, port = proxy

    def body():
        chunk = b"x" * (1024 * 1024)
        for _ in range(64):
            yield chunk

    # A chunked 64 MiB upload reaches the registry whole: no size limit, nothing refused.
    response = requests.patch(f"http://127.0.0.1:{port}/v2/p/r/blobs/uploads/u", data=body(), timeout=60)
    assert response.status_code == 200
    assert response.json()["body_size"] == 64 * 1024 * 1024


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
