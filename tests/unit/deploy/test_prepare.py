"""prepare: secrets are created once and kept; every rendered environment is one its service accepts."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest
import yaml

from berth_common.settings import Settings
from berth_core.settings import CoreSettings
from berth_deploy.config import ConfigError, parse
from berth_deploy.prepare import prepare_compose, prepare_local, read_env_file
from berth_jobservice.settings import JobserviceSettings
from berth_log.settings import LogSettings
from berth_registry.settings import RegistrySettings

ROOT = Path(__file__).resolve().parents[3]
SETTINGS: dict[str, type[Settings]] = {
    "core": CoreSettings,
    "registry": RegistrySettings,
    "jobservice": JobserviceSettings,
    "log": LogSettings,
}
# Read by gunicorn.conf.py rather than by the app's settings.
GUNICORN_ONLY = {"CORE_BIND", "REGISTRY_BIND"}


@pytest.fixture
def config(open_tmp_path):
    data = yaml.safe_load((ROOT / "berth.yml.example").read_text())
    return parse(data, open_tmp_path / "berth.yml")


def known_env_names(cls: type[Settings]) -> set[str]:
    return {cls.env_name(f.name) for f in dataclasses.fields(cls) if "berth" in f.metadata}


@pytest.mark.parametrize("target", ["local", "compose"])
def test_every_rendered_environment_loads_in_its_service(config, tmp_path, target):
    if target == "local":
        prepared = prepare_local(config, "postgresql://postgres@127.0.0.1:5432/berth", "amqp://guest:guest@127.0.0.1:5672/%2F")
    else:
        prepared = prepare_compose(config, tmp_path / "generated")
    for service, cls in SETTINGS.items():
        env = read_env_file(prepared.env_files[service])
        unknown = set(env) - known_env_names(cls) - GUNICORN_ONLY
        # jobservice also carries the registry's storage settings for its purge job.
        if service == "jobservice":
            unknown = {k for k in unknown if not k.startswith("REGISTRY_STORAGE")}
        assert not unknown, f"{service}.env has keys its settings do not declare: {sorted(unknown)}"
        cls.from_env(env)  # raises SettingsError on any bad or missing value
    assert read_env_file(prepared.env_files["migrations"])["MIGRATIONS_DATABASE_URL"]


def test_secrets_are_created_once_and_never_replaced(config):
    first = prepare_local(config, "postgresql://x@127.0.0.1/berth", "amqp://g:g@127.0.0.1/%2F")
    before = {p.name: p.read_bytes() for p in first.secret_dir.iterdir()}
    assert set(before) == {"private_key.pem", "root.crt", "secretkey"}
    assert all((first.secret_dir / name).stat().st_mode & 0o077 == 0 for name in ("private_key.pem", "secretkey"))
    second = prepare_local(config, "postgresql://x@127.0.0.1/berth", "amqp://g:g@127.0.0.1/%2F")
    assert {p.name: p.read_bytes() for p in second.secret_dir.iterdir()} == before


def test_a_certificate_that_does_not_match_the_key_is_refused(config, tmp_path):
    prepared = prepare_local(config, "postgresql://x@127.0.0.1/berth", "amqp://g:g@127.0.0.1/%2F")
    other = prepare_compose(config, tmp_path / "other")
    (prepared.secret_dir / "root.crt").write_bytes((other.secret_dir / "root.crt").read_bytes())
    with pytest.raises(RuntimeError, match="does not belong to"):
        prepare_local(config, "postgresql://x@127.0.0.1/berth", "amqp://g:g@127.0.0.1/%2F")


def test_env_files_are_private_and_reject_multiline_values(config):
    prepared = prepare_local(config, "postgresql://x@127.0.0.1/berth", "amqp://g:g@127.0.0.1/%2F")
    assert prepared.env_files["core"].stat().st_mode & 0o077 == 0
    bad = dataclasses.replace(config, admin_password="two\nlines")
    with pytest.raises(ValueError, match="CORE_ADMIN_INITIAL_PASSWORD: value must be on one line"):
        prepare_local(bad, "postgresql://x@127.0.0.1/berth", "amqp://g:g@127.0.0.1/%2F")


def test_nginx_routes(config):
    conf = prepare_local(config, "postgresql://x@127.0.0.1/berth", "amqp://g:g@127.0.0.1/%2F").nginx_conf.read_text()
    assert "location /v2/" in conf and "proxy_request_buffering off" in conf and "client_max_body_size 0" in conf
    assert "location /v1/" in conf and "return 404" in conf
    assert f"alias {config.filesystem_root}/" in conf
    assert "ssl_certificate" not in conf


def test_refuses_a_storage_folder_nginx_cannot_enter(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("only root runs nginx workers as another user")  # the check is a no-op otherwise
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    config = parse(yaml.safe_load((ROOT / "berth.yml.example").read_text()), private / "berth.yml")
    with pytest.raises(ConfigError, match=f"nginx serves blobs as www-data, which cannot enter {private}"):
        prepare_local(config, "postgresql://x@127.0.0.1/berth", "amqp://g:g@127.0.0.1/%2F")


def test_large_upload_bodies_are_spooled_inside_the_storage_root(config, tmp_path):
    prepared = prepare_local(config, "postgresql://x@127.0.0.1/berth", "amqp://g:g@127.0.0.1/%2F")
    spool = config.filesystem_root / "~spool"
    assert read_env_file(prepared.env_files["registry"])["REGISTRY_UPLOAD_SPOOL_DIR"] == str(spool)
    conf = prepared.nginx_conf.read_text()
    assert f"client_body_temp_path {spool};" in conf and "client_body_in_file_only clean;" in conf
    assert "auth_request /_berth/upload-access;" in conf and "error_page 401 403 = @upload_refused;" in conf

    # S3 has no file to link, and compose runs proxy and registry in separate containers: large
    # bodies are still checked first, then stream.
    s3 = dataclasses.replace(config, storage_type="s3")
    for prepared in (prepare_local(s3, "postgresql://x@127.0.0.1/berth", "amqp://g:g@127.0.0.1/%2F"),
                     prepare_compose(config, tmp_path / "generated")):  # fmt: skip
        assert read_env_file(prepared.env_files["registry"])["REGISTRY_UPLOAD_SPOOL_DIR"] == ""
        conf = prepared.nginx_conf.read_text()
        assert "client_body_in_file_only" not in conf and "auth_request /_berth/upload-access;" in conf
        # Every proxied request still loses a client's X-Berth-Body-File header.
        assert 'proxy_set_header X-Berth-Body-File "";' in conf and "$request_body_file" not in conf


def test_blob_downloads_are_read_and_written_not_sendfiled(config):
    conf = prepare_local(config, "postgresql://x@127.0.0.1/berth", "amqp://g:g@127.0.0.1/%2F").nginx_conf.read_text()
    blobstore = conf[conf.index("location /_blobstore/") :]
    blobstore = blobstore[: blobstore.index("\n        }")]
    assert "sendfile off;" in blobstore and "output_buffers 2 512k;" in blobstore


def test_upload_bodies_from_64_kib_or_of_unknown_size_are_large(config):
    conf = prepare_local(config, "postgresql://x@127.0.0.1/berth", "amqp://g:g@127.0.0.1/%2F").nginx_conf.read_text()
    mapping = conf[conf.index("$berth_large_upload {") :]
    lines = mapping[: mapping.index("\n    }")].splitlines()
    patterns = [re.compile(line.split('"')[1].removeprefix("~")) for line in lines if line.strip().startswith('"~')]
    assert len(patterns) == 2

    def large(method: str, length: str, encoding: str = "", uri: str = "/v2/p/r/blobs/uploads/u") -> bool:
        return any(p.search(f"{method}:{length}:{encoding}:{uri}") for p in patterns)

    for length in (65536, 65537, 65599, 65600, 65999, 66000, 69999, 70000, 99999, 100000, 10**9, 10**13):
        assert large("PATCH", str(length)), length
    for length in (0, 1, 9999, 10000, 60000, 65000, 65499, 65500, 65529, 65535):
        assert not large("PATCH", str(length)), length
    assert large("PUT", "", "chunked") and large("POST", "100000", uri="/v2/p/r/blobs/uploads/")
    assert not large("GET", "100000") and not large("DELETE", "", "chunked")
    assert not large("PUT", "100000", uri="/v2/p/r/manifests/v1") and not large("PATCH", "", "")
