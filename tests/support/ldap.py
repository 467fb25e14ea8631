"""A real OpenLDAP server (slapd) for tests, with users and groups of its own.

``slapd_server()`` builds a private ``cn=config`` directory with ``slapadd`` (schemas, an mdb
database, the memberOf overlay), starts ``slapd -h ldap://127.0.0.1:<free port>/`` in the
foreground, loads the directory tree over LDAP (so the overlay fills ``memberOf``), yields a
:class:`Directory` describing it, and stops the server at the end.

The tree::

    dc=berth,dc=test
      cn=reader                        search DN (password READER_PASSWORD)
      ou=people   uid=alice, bob, carol, dave, eve (password = PASSWORDS[uid])
      ou=groups   cn=developers  (groupOfNames: alice, bob)
                  cn=ops         (groupOfNames: alice)
                  cn=berth-admins (groupOfNames: dave)         -> the LDAP admin group
                  cn=qa          (groupOfUniqueNames: carol)   -> no memberOf: found by search
      ou=elsewhere cn=outsiders  (groupOfNames: eve)           -> outside the group base DN
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import ldap3

from berth_deploy.infra import free_port
from support.servers import stop_process

BASE_DN = "dc=berth,dc=test"
ROOT_DN = f"cn=admin,{BASE_DN}"
READER_DN = f"cn=reader,{BASE_DN}"
PEOPLE_DN = f"ou=people,{BASE_DN}"
GROUPS_DN = f"ou=groups,{BASE_DN}"
READER_PASSWORD = "Reader-Secret-1"
PASSWORDS = {
    "alice": "Alice-Secret-1",
    "bob": "Bob-Secret-1",
    "carol": "Carol-Secret-1",
    "dave": "Dave-Secret-1",
    "eve": "Eve-Secret-1",
}
GROUP_MEMBERS = {"developers": ("alice", "bob"), "ops": ("alice",), "berth-admins": ("dave",)}
SCHEMAS = ("core", "cosine", "inetorgperson", "nis")
MODULE_PATH = "/usr/lib/ldap"


@dataclasses.dataclass(frozen=True)
class Directory:
    url: str
    base_dn: str = BASE_DN
    people_dn: str = PEOPLE_DN
    groups_dn: str = GROUPS_DN
    search_dn: str = READER_DN
    search_password: str = READER_PASSWORD
    admin_group_dn: str = f"cn=berth-admins,{GROUPS_DN}"

    def user_dn(self, uid: str) -> str:
        return f"uid={uid},{self.people_dn}"

    def group_dn(self, name: str) -> str:
        if name == "outsiders":
            return f"cn=outsiders,ou=elsewhere,{self.base_dn}"
        return f"cn={name},{self.groups_dn}"

    def config_items(self) -> dict[str, object]:
        """Berth configuration items that point at this directory."""
        return {
            "ldap_url": self.url,
            "ldap_search_dn": self.search_dn,
            "ldap_search_password": self.search_password,
            "ldap_base_dn": self.people_dn,
            "ldap_filter": "(objectClass=inetOrgPerson)",
            "ldap_uid": "uid",
            "ldap_scope": 2,
            "ldap_group_base_dn": self.groups_dn,
            "ldap_group_attribute_name": "cn",
            "ldap_group_search_filter": "",
            "ldap_group_admin_dn": self.admin_group_dn,
            "ldap_group_membership_attribute": "memberOf",
        }


def _config_ldif(workdir: Path, root_password: str) -> str:
    schemas = "\n".join(f"include: file:///etc/ldap/schema/{name}.ldif" for name in SCHEMAS)
    return f"""\
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {workdir}/slapd.pid

dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: {MODULE_PATH}
olcModuleLoad: back_mdb
olcModuleLoad: memberof

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

{schemas}

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcSuffix: {BASE_DN}
olcRootDN: {ROOT_DN}
olcRootPW: {root_password}
olcDbDirectory: {workdir}/data
olcDbMaxSize: 67108864
olcAccess: {{0}}to attrs=userPassword by self read by anonymous auth by * none
olcAccess: {{1}}to * by * read

dn: olcOverlay={{0}}memberof,olcDatabase={{1}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcMemberOf
olcOverlay: {{0}}memberof
olcMemberOfRefInt: TRUE
olcMemberOfGroupOC: groupOfNames
olcMemberOfMemberAD: member
olcMemberOfMemberOfAD: memberOf
"""


def _load_tree(url: str, root_password: str) -> None:
    conn = ldap3.Connection(ldap3.Server(url), user=ROOT_DN, password=root_password, auto_bind=True, raise_exceptions=True)
    try:
        conn.add(BASE_DN, ["dcObject", "organization"], {"dc": "berth", "o": "Berth tests"})
        conn.add(READER_DN, ["organizationalRole", "simpleSecurityObject"], {"cn": "reader", "userPassword": READER_PASSWORD})
        for ou in ("people", "groups", "elsewhere"):
            conn.add(f"ou={ou},{BASE_DN}", ["organizationalUnit"], {"ou": ou})
        for uid, password in PASSWORDS.items():
            conn.add(
                f"uid={uid},{PEOPLE_DN}",
                ["inetOrgPerson"],
                {
                    "uid": uid,
                    "cn": uid.capitalize(),
                    "sn": "Tester",
                    "displayName": f"{uid.capitalize()} Tester",
                    "mail": f"{uid}@ldap.berth.test",
                    "userPassword": password,
                },
            )
        for group, members in GROUP_MEMBERS.items():
            conn.add(f"cn={group},{GROUPS_DN}", ["groupOfNames"], {"cn": group, "member": [f"uid={m},{PEOPLE_DN}" for m in members]})
        conn.add(f"cn=qa,{GROUPS_DN}", ["groupOfUniqueNames"], {"cn": "qa", "uniqueMember": [f"uid=carol,{PEOPLE_DN}"]})
        conn.add(f"cn=outsiders,ou=elsewhere,{BASE_DN}", ["groupOfNames"], {"cn": "outsiders", "member": [f"uid=eve,{PEOPLE_DN}"]})
    finally:
        conn.unbind()


def _wait_until_bindable(url: str, root_password: str, process: subprocess.Popen, deadline: float) -> None:
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"slapd exited with status {process.returncode}")
        try:
            conn = ldap3.Connection(ldap3.Server(url, connect_timeout=1), user=ROOT_DN, password=root_password)
            if conn.bind():
                conn.unbind()
                return
        except ldap3.core.exceptions.LDAPException:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("slapd did not accept binds within 20 seconds")
        time.sleep(0.05)


@contextlib.contextmanager
def slapd_server() -> Iterator[Directory]:
    """Start a private slapd with the tree above; stop it and delete its files afterwards."""
    for tool in ("slapd", "slapadd"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            raise RuntimeError(f"{tool} is not installed (apt-get install slapd)")
    workdir = Path(tempfile.mkdtemp(prefix="berth-slapd-"))
    root_password = os.urandom(12).hex()
    config_dir = workdir / "slapd.d"
    config_dir.mkdir()
    (workdir / "data").mkdir()
    ldif = workdir / "config.ldif"
    ldif.write_text(_config_ldif(workdir, root_password))
    slapadd = shutil.which("slapadd") or "/usr/sbin/slapadd"
    slapd = shutil.which("slapd") or "/usr/sbin/slapd"
    subprocess.run([slapadd, "-n", "0", "-F", str(config_dir), "-l", str(ldif)], check=True, capture_output=True, timeout=30)
    port = free_port()
    url = f"ldap://127.0.0.1:{port}"
    # -d 0: stay in the foreground (we own the process) without debug output.
    process = subprocess.Popen(
        [slapd, "-h", f"{url}/", "-F", str(config_dir), "-d", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_until_bindable(url, root_password, process, time.monotonic() + 20)
        _load_tree(url, root_password)
        yield Directory(url=url)
    finally:
        stop_process(process)
        if process.stderr:
            process.stderr.close()
        shutil.rmtree(workdir, ignore_errors=True)
