"""LDAP helpers that need no server: DN comparison and filter building with escaping."""

from __future__ import annotations

from berth_core.services.ldap import LdapClient, LdapConfig, LdapUser, dn_under, normalize_dn


def test_dn_comparison() -> None:
    assert normalize_dn("CN=Dev, OU=Groups,DC=Example,DC=Com") == normalize_dn("cn=dev,ou=groups,dc=example,dc=com")
    assert dn_under("cn=dev,ou=groups,dc=x", "ou=Groups, dc=X")
    assert not dn_under("cn=dev,ou=other,dc=x", "ou=groups,dc=x")
    assert not dn_under("cn=evil,ou=groupsx,dc=x", "ou=groups,dc=x")


def test_user_filter_escapes_input() -> None:
    client = LdapClient(LdapConfig(url="ldap://127.0.0.1:1", uid="uid", filter="(objectClass=person)"))
    assert client._user_filter("alice") == "(&(objectClass=person)(uid=alice))"
    assert client._user_filter("*)(uid=*") == "(&(objectClass=person)(uid=\\2a\\29\\28uid=\\2a))"
    assert LdapClient(LdapConfig(url="ldap://h", uid="cn"))._user_filter(None) == "(cn=*)"


def test_admin_group_and_groups_to_onboard() -> None:
    config = LdapConfig(url="ldap://h", group_base_dn="ou=groups,dc=x", group_admin_dn="cn=Admins,ou=groups,dc=x")
    client = LdapClient(config)
    user = LdapUser("uid=a,dc=x", "a", "A", None, ("cn=admins,ou=groups,dc=x", "cn=dev,ou=groups,dc=x", "cn=o,ou=else,dc=x"))
    assert client.is_admin(user)
    assert [(g.name, g.dn) for g in client.groups_to_onboard(user)] == [
        ("admins", "cn=admins,ou=groups,dc=x"),
        ("dev", "cn=dev,ou=groups,dc=x"),
    ]
    assert not client.is_admin(LdapUser("uid=b,dc=x", "b", "B", None, ()))
