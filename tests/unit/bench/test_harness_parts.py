"""Smaller parts of the harness: token challenge parsing, wrk's summary, generated images, /proc readings."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import time

import pytest

from bench.auth import AuthError, Challenge, parse_challenge, token_claims
from bench.images import CONFIG_TYPE, LAYER_TYPE, MANIFEST_TYPE, layout_image, write_image, write_random_blob
from bench.procs import RssSampler, cpu_seconds, process_tree, rss_bytes
from bench.tools import ToolError, parse_wrk_summary, write_authfile


def test_parse_challenge():
    header = 'Bearer realm="http://127.0.0.1:8080/service/token",service="berth-registry",scope="repository:a/b:pull"'
    assert parse_challenge(header) == Challenge("http://127.0.0.1:8080/service/token", "berth-registry")
    with pytest.raises(AuthError, match="Bearer"):
        parse_challenge('Basic realm="x"')
    with pytest.raises(AuthError, match="realm"):
        parse_challenge('Bearer service="x"')


def test_token_claims_reads_the_payload():
    payload = base64.urlsafe_b64encode(json.dumps({"iss": "berth-token-issuer"}).encode()).decode().rstrip("=")
    assert token_claims(f"e30.{payload}.sig")["iss"] == "berth-token-issuer"
    with pytest.raises(AuthError):
        token_claims("not-a-jwt")


def _wrk_line(**overrides) -> str:
    summary = {"requests": 1200, "duration_us": 2_000_000, "bytes": 1, "p50_us": 800, "p99_us": 6100, "max_us": 9000,
               "errors": {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}}  # fmt: skip
    summary.update(overrides)
    return "Running 2s test @ http://x\n  1 threads\nBENCH_RESULT " + json.dumps(summary) + "\n"


def test_wrk_summary_is_parsed_into_rates_and_milliseconds():
    load = parse_wrk_summary(_wrk_line(), 16)
    assert (load.connections, load.requests, load.rps, load.p50_ms, load.p99_ms, load.max_ms) == (16, 1200, 600.0, 0.8, 6.1, 9.0)


@pytest.mark.parametrize(
    "stdout, message",
    [
        ("no summary here", "no summary"),
        (_wrk_line(errors={"connect": 0, "read": 0, "write": 0, "status": 3, "timeout": 0}), "'status': 3"),
        (_wrk_line(errors={"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 2}), "'timeout': 2"),
        (_wrk_line(requests=0), "no request"),
    ],
)
def test_wrk_summary_with_failures_is_an_error_not_a_figure(stdout, message):
    with pytest.raises(ToolError, match=message):
        parse_wrk_summary(stdout, 1)


def test_random_blob_has_its_size_and_digest_and_does_not_compress(tmp_path):
    blob = write_random_blob(tmp_path / "raw", 3 * 1024 * 1024 + 5)
    data = blob.path.read_bytes()
    assert blob.size == len(data) == 3 * 1024 * 1024 + 5
    assert blob.digest == "sha256:" + hashlib.sha256(data).hexdigest()
    assert len(gzip.compress(data, 6)) > 0.99 * len(data)
    assert write_random_blob(tmp_path / "other", 1024).digest != write_random_blob(tmp_path / "again", 1024).digest


def test_image_is_a_valid_oci_layout_with_gzip_tar_layers(tmp_path):
    image = write_image(tmp_path / "img", [200_000, 70_000])
    blobs = tmp_path / "img" / "blobs" / "sha256"
    # Every blob's name is its digest.
    for path in blobs.iterdir():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name
    assert json.loads((tmp_path / "img" / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads((tmp_path / "img" / "index.json").read_text())
    assert index["manifests"][0]["digest"] == image.manifest_digest
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "latest"
    manifest = json.loads((blobs / image.manifest_digest.split(":")[1]).read_bytes())
    assert manifest["mediaType"] == MANIFEST_TYPE and manifest["config"]["mediaType"] == CONFIG_TYPE
    assert [layer["mediaType"] for layer in manifest["layers"]] == [LAYER_TYPE, LAYER_TYPE]
    assert [layer["digest"] for layer in manifest["layers"]] == [b.digest for b in image.layers]
    config = json.loads((blobs / manifest["config"]["digest"].split(":")[1]).read_bytes())
    for layer, diff_id, size in zip(image.layers, config["rootfs"]["diff_ids"], (200_000, 70_000), strict=True):
        tar_bytes = gzip.decompress(layer.path.read_bytes())
        assert "sha256:" + hashlib.sha256(tar_bytes).hexdigest() == diff_id
        with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as archive:
            (member,) = archive.getmembers()
            assert member.size == size
        # Stored deflate blocks: the layer is barely bigger than its content, never smaller.
        assert size < layer.size < size * 1.01 + 2048
    assert image.size == sum(b.size for b in image.layers)
    assert image.reference == f"oci:{tmp_path / 'img'}:latest"


def test_process_tree_cpu_and_memory_of_a_child():
    child = subprocess.Popen([sys.executable, "-c", "import time\nx = bytearray(40 << 20)\nwhile True: sum(range(10000))"])
    try:
        assert process_tree([child.pid]) == [child.pid]
        assert child.pid in process_tree([os.getpid()])
        assert process_tree([2**22 + 12345]) == []  # no such pid
        start = cpu_seconds([child.pid])
        deadline = time.monotonic() + 10
        while cpu_seconds([child.pid]) - start < 0.2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert cpu_seconds([child.pid]) - start >= 0.2
        assert rss_bytes([child.pid]) > 40 << 20
        with RssSampler(lambda: [child.pid], interval=0.02) as sampler:
            time.sleep(0.2)
        assert len(sampler.samples) >= 5 and sampler.peak > 40 << 20
    finally:
        child.kill()
        child.wait()
    assert rss_bytes([child.pid]) == 0 and cpu_seconds([child.pid]) == 0


def test_layout_image_from_the_tests_helper_knows_its_layers(tmp_path):
    image = layout_image(tmp_path / "small", 3, 10_000)
    assert len(image.layers) == 3
    for layer in image.layers:
        assert layer.path.stat().st_size == layer.size
        assert "sha256:" + hashlib.sha256(layer.path.read_bytes()).hexdigest() == layer.digest
    assert image.size == sum(layer.size for layer in image.layers)
    index = json.loads((tmp_path / "small" / "index.json").read_text())
    assert [m["digest"] for m in index["manifests"]] == [image.manifest_digest]


def test_authfile_is_private_and_in_the_containers_format(tmp_path):
    path = write_authfile(tmp_path / "auth.json", "127.0.0.1:5000", "robot$bench+ci", "s3cret:with:colons")
    assert path.stat().st_mode & 0o777 == 0o600
    entry = json.loads(path.read_text())["auths"]["127.0.0.1:5000"]
    assert base64.b64decode(entry["auth"]).decode() == "robot$bench+ci:s3cret:with:colons"


def test_busy_fraction_sees_a_busy_cpu():
    from bench.scenarios import busy_fraction

    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        busy = busy_fraction(0.5)
    finally:
        spinner.kill()
        spinner.wait()
    # One spinning process is one CPU's worth out of os.cpu_count(), give or take the rest.
    assert 0.5 / os.cpu_count() < busy <= 1.0
