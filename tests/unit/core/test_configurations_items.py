"""Configuration item validation and the encryption of stored secrets, without a database."""

from __future__ import annotations

import base64

import pytest

from berth_core.errors import APIError
from berth_core.services.configurations import ITEMS, validate_item
from berth_core.services.secretbox import SecretBox, derive_key


@pytest.mark.parametrize(
    "key,value",
    [("read_only", True), ("token_expiration", 5), ("auth_mode", "ldap_auth"), ("ldap_url", "ldaps://dir.example:636"),
     ("ldap_filter", "(&(objectClass=person)(!(disabled=1)))"), ("storage_per_project", -1), ("robot_name_prefix", "bot$")],
)  # fmt: skip
def test_valid_items(key: str, value) -> None:
    assert validate_item(key, value) == value


@pytest.mark.parametrize(
    "key,value",
    [("read_only", "false"), ("read_only", 0), ("token_expiration", 1.5), ("token_expiration", False), ("auth_mode", "uaa_auth"),
     ("ldap_url", "ldap://"), ("ldap_uid", ""), ("ldap_filter", "objectClass=*"), ("ldap_filter", "(a=b))("), ("nope", 1),
     (5, 1), ("session_timeout", 0), ("banner_message", "x\x00")],
)  # fmt: skip
def test_invalid_items(key, value) -> None:
    with pytest.raises(APIError) as caught:
        validate_item(key, value)
    assert caught.value.status == 400


def test_secret_items_are_marked() -> None:
    assert [name for name, item in ITEMS.items() if item.secret] == ["ldap_search_password"]


def test_secretbox_round_trip_and_tamper() -> None:
    box = SecretBox(b"k" * 32)
    sealed = box.encrypt("p@ss")
    assert sealed.startswith("enc:v1:") and "p@ss" not in sealed and box.encrypt("p@ss") != sealed
    assert box.decrypt(sealed) == "p@ss"
    with pytest.raises(ValueError):
        SecretBox(b"z" * 32).decrypt(sealed)
    # Flip one bit of the ciphertext itself (editing a base64 character can touch only padding bits).
    raw = bytearray(base64.urlsafe_b64decode(sealed.removeprefix("enc:v1:")))
    raw[-1] ^= 0x01
    with pytest.raises(ValueError):
        box.decrypt("enc:v1:" + base64.urlsafe_b64encode(bytes(raw)).decode())
    with pytest.raises(ValueError):
        box.decrypt("plain")
    assert derive_key(b"m" * 32, "sessions") != derive_key(b"m" * 32, "config-secrets")
