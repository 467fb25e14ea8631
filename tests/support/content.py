"""Factories for registry content rows, written through core's ``db`` functions the way the
registry service writes them on push: blobs, project-blob links, the repository, the artifact
with its blob links, tags, index children and referrers (accessories), and the quota usage.

Also minimal people/project factories (through core's ``db.users``, ``db.projects`` and
``db.members``) so content tests can set up each role.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import itertools
import json
import os

from berth_core.db import content as content_db
from berth_core.db import members as members_db
from berth_core.db import projects as projects_db
from berth_core.db import users as users_db
from berth_core.db.content import Artifact
from berth_core.db.projects import Project
from support.tokens import TokenKeys

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
COSIGN_SIGNATURE = "application/vnd.dev.cosign.artifact.sig.v1+json"
SBOM = "application/vnd.example.sbom.v1+json"

_counter = itertools.count(1)


def random_digest() -> str:
    return "sha256:" + hashlib.sha256(os.urandom(32)).hexdigest()


def unique(prefix: str) -> str:
    """A name unique within the test session (the DB is shared by a session's tests)."""
    return f"{prefix}{next(_counter)}x{os.urandom(3).hex()}"


# ----------------------------------------------------------------------------------------------
# People and projects


@dataclasses.dataclass(frozen=True)
class Person:
    user_id: int
    username: str
    password: str


def make_user(cur, hasher, username: str | None = None, *, admin: bool = False, password: str = "Passw0rdX") -> Person:
    """A local user whose password ``hasher`` (core's argon2 Hasher) hashed."""
    username = username or unique("user")
    user_id = users_db.insert_user(
        cur,
        username=username,
        email=f"{username}@example.test",
        realname=username,
        comment="",
        password_hash=hasher.hash(password),
        sysadmin_flag=admin,
    )
    assert user_id is not None, f"user {username} exists"
    return Person(user_id, username, password)


def make_project(cur, owner: Person, name: str | None = None, *, public: bool = False, storage_limit: int = -1) -> Project:
    """A project with its public flag and quota row, as core's project creation leaves it."""
    name = name or unique("proj")
    project_id = projects_db.insert_project(cur, name, owner.user_id)
    assert project_id is not None, f"project {name} exists"
    projects_db.set_metadata(cur, project_id, {"public": "true" if public else "false"})
    projects_db.insert_quota(cur, project_id, storage_limit)
    project = projects_db.get_project(cur, project_id)
    assert project is not None
    return project


def add_member(cur, project: Project, person: Person, role: int) -> None:
    assert members_db.add_member(cur, project.project_id, person.user_id, "u", role) is not None


# ----------------------------------------------------------------------------------------------
# Content


def push_image(
    cur,
    project: Project,
    repository: str,
    tags: tuple[str, ...] | list[str] = (),
    *,
    layer_sizes: tuple[int, ...] = (1000, 2000),
    shared_layers: tuple[str, ...] = (),
    subject: Artifact | None = None,
    artifact_type: str = "",
    annotations: dict | None = None,
    extra_attrs: dict | None = None,
) -> Artifact:
    """Record an image manifest in ``project/repository`` (created if needed) with its config
    and layer blobs, blob links, tags and quota usage. ``shared_layers``: digests of blobs that
    already exist and are reused. ``subject`` makes it a referrer of that artifact."""
    repo = content_db.insert_repository(cur, project_id=project.project_id, name=f"{project.name}/{repository}")
    config = content_db.insert_blob(cur, digest=random_digest(), size=300, content_type=OCI_CONFIG)
    layers = [content_db.insert_blob(cur, digest=random_digest(), size=size, content_type=OCI_LAYER) for size in layer_sizes]
    layers += [content_db.get_blob(cur, digest) for digest in shared_layers]
    manifest_body = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"digest": config.digest},
            "layers": [layer.digest for layer in layers],
        }
    ).encode()
    manifest = content_db.insert_blob(cur, digest="sha256:" + hashlib.sha256(manifest_body).hexdigest(), size=len(manifest_body))
    blobs = [manifest, config, *layers]
    artifact = content_db.insert_artifact(
        cur,
        project_id=project.project_id,
        repository_id=repo.id,
        repository_name=repo.name,
        digest=manifest.digest,
        manifest_media_type=OCI_MANIFEST,
        media_type=OCI_CONFIG,
        artifact_type=artifact_type or OCI_CONFIG,
        size=sum(b.size for b in blobs),
        subject_digest=subject.digest if subject else None,
        extra_attrs=extra_attrs if extra_attrs is not None else {"architecture": "amd64", "os": "linux"},
        annotations=annotations or {},
    )
    content_db.link_artifact_blobs(cur, artifact.id, [b.id for b in blobs])
    content_db.link_project_blobs(cur, project.project_id, [b.id for b in blobs])
    for tag in tags:
        content_db.point_tag(cur, repository_id=repo.id, artifact_id=artifact.id, name=tag)
    content_db.refresh_quota_usage(cur, project.project_id)
    return artifact


def push_index(
    cur,
    project: Project,
    repository: str,
    tags: tuple[str, ...] | list[str] = (),
    *,
    platforms: tuple[tuple[str, str], ...] = (("amd64", "linux"), ("arm64", "linux")),
    children: list[Artifact] | None = None,
) -> tuple[Artifact, list[Artifact]]:
    """Record an image index whose children are new untagged images (one per platform), or the
    given existing ``children``. Returns the index and its children."""
    if children is None:
        children = [
            push_image(cur, project, repository, extra_attrs={"architecture": arch, "os": os_name}) for arch, os_name in platforms
        ]
    repo = content_db.get_repository(cur, f"{project.name}/{repository}")
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [c.digest for c in children]}).encode()
    blob = content_db.insert_blob(cur, digest="sha256:" + hashlib.sha256(body).hexdigest(), size=len(body))
    index = content_db.insert_artifact(
        cur,
        project_id=project.project_id,
        repository_id=repo.id,
        repository_name=repo.name,
        digest=blob.digest,
        manifest_media_type=OCI_INDEX,
        media_type=OCI_INDEX,
        size=blob.size,
        extra_attrs={},
    )
    content_db.link_artifact_blobs(cur, index.id, [blob.id])
    content_db.link_project_blobs(cur, project.project_id, [blob.id])
    for child, (arch, os_name) in zip(children, itertools.cycle(platforms), strict=False):
        content_db.insert_reference(
            cur, parent_id=index.id, child_id=child.id, child_digest=child.digest, platform={"architecture": arch, "os": os_name}
        )
    for tag in tags:
        content_db.point_tag(cur, repository_id=repo.id, artifact_id=index.id, name=tag)
    content_db.refresh_quota_usage(cur, project.project_id)
    return index, children


def push_accessory(cur, project: Project, repository: str, subject: Artifact, *, artifact_type: str = COSIGN_SIGNATURE) -> Artifact:
    """Record a referrer (signature, SBOM...) whose subject is ``subject``."""
    return push_image(cur, project, repository, subject=subject, artifact_type=artifact_type, layer_sizes=(100,))


def tag(cur, artifact: Artifact, name: str) -> None:
    """Point tag ``name`` of the artifact's repository at it (what a push of that tag does)."""
    content_db.point_tag(cur, repository_id=artifact.repository_id, artifact_id=artifact.id, name=name)


def outbox_events(cur, ordering_key: str) -> list[tuple[str, dict]]:
    """(event_type, payload) of the outbox rows for one repository, oldest first."""
    cur.execute("SELECT event_type, payload FROM outbox WHERE ordering_key = %(key)s ORDER BY event_id", {"key": ordering_key})
    return [(row[0], row[1]) for row in cur.fetchall()]


def quota_used(cur, project: Project) -> int:
    cur.execute("SELECT used_storage FROM quotas WHERE project_id = %(id)s", {"id": project.project_id})
    return cur.fetchone()[0]


def count_rows(cur, table: str, where: str = "TRUE", params: dict | None = None) -> int:
    """Row count of a fixed table name chosen by the test (never user input)."""
    cur.execute(f"SELECT count(*) FROM {table} WHERE {where}", params or {})
    return cur.fetchone()[0]


# ----------------------------------------------------------------------------------------------
# A core app for content tests


def core_settings(tmp_path, database_url: str, **overrides):
    """CoreSettings for an in-process core: key files under ``tmp_path``, cheap password hashing."""
    from berth_core.settings import CoreSettings

    keys = TokenKeys.generate(tmp_path)
    secret_path = tmp_path / "secretkey"
    secret_path.write_bytes(os.urandom(32).hex().encode())
    values = {
        "database_url": database_url,
        "rabbitmq_url": "amqp://guest:guest@127.0.0.1:5672/",
        "registry_url": "http://127.0.0.1:9",
        "external_url": "https://berth.test",
        "token_private_key_path": str(keys.key_path),
        "token_cert_path": str(keys.cert_path),
        "secret_key_path": str(secret_path),
        "argon2_time_cost": 1,
        "argon2_memory_kib": 8,
        "argon2_parallelism": 1,
        "log_level": "WARNING",
        **overrides,
    }
    return CoreSettings.from_env({}, **values)


def basic(username: str, password: str) -> dict[str, str]:
    """The ``Authorization`` header of HTTP Basic credentials."""
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


@dataclasses.dataclass
class CoreWorld:
    """A core app over the test's connection, with one user per role in a private project and
    a public project owned by the admin. ``headers(name)`` gives Basic credentials for a role
    (``anonymous`` gives none)."""

    app: object
    db: object
    hasher: object
    people: dict[str, Person]
    private: Project
    public: Project

    @property
    def client(self):
        return self.app.test_client()

    def headers(self, who: str) -> dict[str, str]:
        if who == "anonymous":
            return {}
        person = self.people[who]
        return basic(person.username, person.password)

    def cursor(self):
        return self.db.transaction()


ROLES = ("admin", "project_admin", "maintainer", "developer", "guest", "limited_guest", "non_member", "anonymous")


class RoutedDatabase:
    """A ``Database`` look-alike that forwards to whichever connection ``route`` last set.

    One core app per test module (building the app dominates a small test's time) then serves
    each test inside that test's own rolled-back transaction.
    """

    def __init__(self) -> None:
        self.target = None

    def route(self, target) -> None:
        self.target = target

    def connection(self):
        return self.target.connection()

    def transaction(self):
        return self.target.transaction()

    def ping(self) -> None:
        self.target.ping()

    def close(self) -> None:
        pass


def build_app(settings, database_url: str):
    """A core app over a :class:`RoutedDatabase`; start-up writes (the initial admin) are rolled back."""
    import psycopg2

    from berth_common.db import SingleConnection
    from berth_core.app import create_app

    routed = RoutedDatabase()
    conn = psycopg2.connect(database_url)
    try:
        start = SingleConnection(conn)
        # With an admin present, start-up creates nothing and takes no bootstrap lock, so a
        # concurrent test holding that lock in its open transaction cannot make this wait.
        with start.transaction() as cur:
            if users_db.get_user_by_name(cur, "admin") is None:
                users_db.insert_user(cur, username="admin", email=None, realname="", comment="", password_hash=None, sysadmin_flag=True)
        routed.route(start)
        app = create_app(settings, db=routed)
    finally:
        conn.rollback()
        conn.close()
    return app, routed


def build_world(settings, db) -> CoreWorld:
    """A new core app over the test's ``db`` with the people and projects of :class:`CoreWorld`."""
    from berth_core.app import create_app

    return populate_world(create_app(settings, db=db), db)


def world_on(core_app: tuple, db) -> CoreWorld:
    """Like :func:`build_world`, reusing an app from :func:`build_app` (much cheaper per test)."""
    app, routed = core_app
    routed.route(db)
    return populate_world(app, db)


def populate_world(app, db) -> CoreWorld:
    from berth_core.services import rbac

    hasher = app.extensions["berth.hasher"]
    with db.transaction() as cur:
        people = {role: make_user(cur, hasher, admin=(role == "admin")) for role in ROLES if role != "anonymous"}
        private = make_project(cur, people["project_admin"])
        public = make_project(cur, people["admin"], public=True)
        for role, role_id in (
            ("project_admin", rbac.PROJECT_ADMIN),
            ("maintainer", rbac.MAINTAINER),
            ("developer", rbac.DEVELOPER),
            ("guest", rbac.GUEST),
            ("limited_guest", rbac.LIMITED_GUEST),
        ):
            add_member(cur, private, people[role], role_id)
    return CoreWorld(app, db, hasher, people, private, public)
