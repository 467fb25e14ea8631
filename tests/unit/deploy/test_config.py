"""berth.yml: the example is valid, defaults are Harbor's, bad values name their key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from berth_deploy.config import ConfigError, load, parse

ROOT = Path(__file__).resolve().parents[3]


def example() -> dict:
    return yaml.safe_load((ROOT / "berth.yml.example").read_text())


def test_example_is_valid_and_documents_harbor_defaults(tmp_path):
    config = parse(example(), tmp_path / "berth.yml")
    assert config.admin_password == "Harbor12345"
    assert config.external_url == "http://localhost:8080"
    assert config.token_expiration == 30
    assert config.data_volume == tmp_path / "data"
    assert config.filesystem_root == tmp_path / "data" / "registry"
    assert config.log_rotate_size == 200 * 1024 * 1024
    assert config.upload_purging_age_hours == 168


def set_key(data: dict, dotted: str, value) -> dict:
    node = data
    *parents, last = dotted.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return data


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("http.port", "eighty", "http.port: expected an integer"),
        ("http.port", 70000, "http.port: must be at most 65535"),
        ("hostname", "bad host!", "hostname:"),
        ("storage_service.type", "ftp", "storage_service.type: expected one of filesystem, s3"),
        ("log.local.rotate_size", "lots", "log.local.rotate_size: expected a size"),
        ("upload_purging.age", "forever", "upload_purging.age: expected a duration"),
        ("https.enabled", "yes please", "https.enabled: expected true or false"),
        ("database.url", "mysql://x/y", "database.url: expected a postgresql/postgres URL"),
        ("jobservice.max_job_workers", 0, "jobservice.max_job_workers: must be at least 1"),
        ("internal.core_port", 8080, "internal.core_port: port 8080 is already used by http.port"),
        ("_version", 2, "_version: this release reads version 1"),
    ],
)
def test_bad_values_name_their_key(tmp_path, key, value, message):
    with pytest.raises(ConfigError) as info:
        parse(set_key(example(), key, value), tmp_path / "berth.yml")
    assert message in str(info.value)


def test_s3_needs_a_bucket(tmp_path):
    data = set_key(example(), "storage_service.type", "s3")
    with pytest.raises(ConfigError, match="storage_service.s3.bucket: required"):
        parse(data, tmp_path / "berth.yml")


def test_https_needs_existing_certificate_files(tmp_path):
    data = set_key(example(), "https.enabled", True)
    with pytest.raises(ConfigError, match="https.certificate: file .* does not exist"):
        parse(data, tmp_path / "berth.yml")


def test_database_password_is_masked_in_errors(tmp_path):
    data = set_key(example(), "database.url", "mysql://u:hunter2@db/x")
    with pytest.raises(ConfigError) as info:
        parse(data, tmp_path / "berth.yml")
    assert "hunter2" not in str(info.value)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="copy berth.yml.example"):
        load(tmp_path / "nope.yml")
    (tmp_path / "bad.yml").write_text("http: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load(tmp_path / "bad.yml")
