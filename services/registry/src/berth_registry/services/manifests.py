"""Manifests: push (validate, record the artifact, tag, emit events), pull, delete, referrers.

A manifest PUT is accepted only when every blob it needs is linked to the project and every
child manifest of an index is an artifact of the repository, or a manifest blob of the project
that can be imported into it. Everything is recorded in one transaction together with the
quota charge for the manifest's own bytes, the tag moves (after the immutability hooks agree)
and the PUSH_ARTIFACT outbox and audit rows. The manifest bytes are written to storage at the
end of that transaction, after every check passed, so a refused push stores nothing.

The pull path resolves the tag or digest (artifact, manifest size and media type) through the
process's reference cache (services.ref_cache, kept true by the database's change notifications)
or one SQL query, and takes the bytes from a per-process cache (content-addressed, so never
stale) before the storage driver. A pull is recorded in memory only
(services.events.PullRecorder). Pulls that every cache can answer are served by api/fast_path.py
in front of Flask, with the same methods of this service.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections import OrderedDict
from typing import Any, BinaryIO

from berth_registry import names
from berth_registry.db import artifacts, blobs, outbox, projects, read_cursor, repositories, tags
from berth_registry.db.artifacts import ManifestRef, NewArtifact, Reference, Referrer
from berth_registry.db.projects import Project
from berth_registry.db.repositories import Repository
from berth_registry.names import RepositoryName
from berth_registry.services import events
from berth_registry.services import policy as policy_rules
from berth_registry.services.events import Actor, Pull, PullRecorder
from berth_registry.services.exceptions import (
    Denied,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestTooLarge,
    ManifestUnknown,
    RepositoryUnknown,
    SizeInvalid,
)
from berth_registry.services.manifest_formats import IMAGE_CONFIGS, Manifest, image_attributes, parse
from berth_registry.services.policy import Policy, TagChange
from berth_registry.services.ref_cache import ManifestRefCache
from berth_registry.storage import paths
from berth_registry.storage.base import PathNotFound, StorageDriver

MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_CONFIG_BYTES = 4 * 1024 * 1024  # image configs larger than this get no extra_attrs
MAX_INDEX_DEPTH = 4  # nesting of index -> index -> ... imported from other repositories


@dataclasses.dataclass(frozen=True)
class ManifestContent:
    digest: str
    media_type: str
    size: int
    body: bytes | None  # None for HEAD


@dataclasses.dataclass(frozen=True)
class PushResult:
    digest: str
    subject: str | None
    tags: list[str]


class ManifestCache:
    """Manifest bytes by digest, least recently used out first, bounded in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, digest: str) -> bytes | None:
        with self._lock:
            body = self._items.get(digest)
            if body is not None:
                self._items.move_to_end(digest)
            return body

    def put(self, digest: str, body: bytes) -> None:
        # One huge manifest must not evict everything else.
        if len(body) > self.max_bytes // 8:
            return
        with self._lock:
            if digest in self._items:
                return
            self._items[digest] = body
            self._bytes += len(body)
            while self._bytes > self.max_bytes:
                _, evicted = self._items.popitem(last=False)
                self._bytes -= len(evicted)


def compute_digest(algorithm: str, body: bytes) -> str:
    return f"{algorithm}:{hashlib.new(algorithm, body).hexdigest()}"


def read_manifest(stream: BinaryIO, content_length: int | None) -> bytes:
    """The request body, refusing more than MAX_MANIFEST_BYTES before reading it all."""
    if content_length is not None and content_length > MAX_MANIFEST_BYTES:
        raise ManifestTooLarge(f"manifest of {content_length} bytes exceeds the {MAX_MANIFEST_BYTES} byte limit")
    body = stream.read(MAX_MANIFEST_BYTES + 1)
    if len(body) > MAX_MANIFEST_BYTES:
        raise ManifestTooLarge(f"manifest exceeds the {MAX_MANIFEST_BYTES} byte limit")
    if content_length is not None and len(body) != content_length:
        raise SizeInvalid(f"received {len(body)} bytes, Content-Length said {content_length}")
    return body


@dataclasses.dataclass
class _Push:
    """State of one manifest PUT inside its transaction."""

    project: Project
    repository: Repository
    to_store: list[tuple[str, bytes]] = dataclasses.field(default_factory=list)
    quota: projects.Quota | None = None


class ManifestService:
    def __init__(
        self,
        db: Any,
        storage: StorageDriver,
        policy: Policy,
        pulls: PullRecorder,
        cache: ManifestCache,
        refs: ManifestRefCache,
        registry_host: str,
    ) -> None:
        self.db = db
        self.storage = storage
        self.policy = policy
        self.pulls = pulls
        self.cache = cache
        self.refs = refs
        self.registry_host = registry_host

    # -- pull ----------------------------------------------------------------------------------

    def get(self, repository: RepositoryName, reference: str, *, with_body: bool, actor: Actor | None = None) -> ManifestContent:
        """Resolve a tag or digest; with ``with_body`` load the bytes and record a pull by ``actor``."""
        ref = self.resolve(repository, reference)
        body = None
        if with_body:
            body = self._load(ref.digest)
            if actor is not None:
                self.record_pull(ref, reference, actor)
        return ManifestContent(ref.digest, ref.media_type, ref.size, body)

    def resolve(self, repository: RepositoryName, reference: str) -> ManifestRef:
        """The artifact a tag or digest names, from the reference cache or the database.

        Raises DigestInvalid, InvalidTag, RepositoryUnknown or ManifestUnknown.
        """
        ref = self.refs.get(repository.full, reference)
        if ref is not None:
            return ref  # only valid references that resolved are cached
        by_digest = _is_digest_reference(reference)
        if not by_digest:
            names.tag(reference)
        since = self.refs.generation()
        with read_cursor(self.db) as cur:
            if by_digest:
                ref = artifacts.resolve_digest(cur, repository.full, reference)
            else:
                ref = artifacts.resolve_tag(cur, repository.full, reference)
            if ref is None and repositories.get(cur, repository.full) is None:
                raise RepositoryUnknown(detail={"name": repository.full})
        if ref is None:
            raise ManifestUnknown(detail={"reference": reference})
        self.refs.put(repository.full, reference, ref, since)
        return ref

    def cached_body(self, digest: str) -> bytes | None:
        """The manifest's verified bytes if this process holds them (no storage read)."""
        return self.cache.get(digest)

    def record_pull(self, ref: ManifestRef, reference: str, actor: Actor) -> None:
        """Buffer the pull of ``ref`` by ``actor`` (events, audit, pull time and count follow)."""
        tag = None if ref.tag_id is None else reference  # resolved by digest: no tag
        self.pulls.record(Pull(ref.repository_id, ref.artifact_id, ref.digest, ref.tag_id, tag, actor, events.now()))

    def _load(self, digest: str) -> bytes:
        body = self.cache.get(digest)
        if body is None:
            body = self.storage.get_content(paths.blob_data(digest))
            if compute_digest(digest.split(":", 1)[0], body) != digest:
                raise PathNotFound(self.storage.name, paths.blob_data(digest), "stored manifest does not match its digest")
            self.cache.put(digest, body)
        return body

    def referrers(self, repository: RepositoryName, digest: str, artifact_type: str | None) -> list[Referrer]:
        """Manifests of the repository whose subject is ``digest`` (none if the repository is unknown)."""
        names.digest(digest)
        with read_cursor(self.db) as cur:
            repo = repositories.get(cur, repository.full)
            if repo is None:
                return []
            return artifacts.referrers(cur, repo.repository_id, digest, artifact_type or None)

    # -- push ----------------------------------------------------------------------------------

    def put(
        self,
        repository: RepositoryName,
        reference: str,
        body: bytes,
        content_type: str | None,
        tag_params: list[str],
        actor: Actor,
    ) -> PushResult:
        """Store a manifest under a tag or a digest (plus any ``?tag=`` parameters)."""
        self.policy.require_writable()
        project = self.policy.require_project(repository)
        if _is_digest_reference(reference):
            algorithm = reference.split(":", 1)[0]
            new_tags = [names.tag(tag) for tag in dict.fromkeys(tag_params)]
        else:
            algorithm = "sha256"
            new_tags = [names.tag(reference)]
        digest = compute_digest(algorithm, body)
        if _is_digest_reference(reference) and reference != digest:
            raise DigestInvalid(f"manifest digest is {digest}, not {reference}", detail={"digest": reference})
        manifest = parse(body, content_type)
        attributes = self._image_attributes(manifest)
        with self.db.transaction() as cur:
            push = _Push(project, repositories.ensure(cur, project.project_id, repository.full))
            artifact_id = self._register(cur, push, digest, body, manifest, attributes, depth=0)
            for tag in new_tags:
                current = tags.get(cur, push.repository.repository_id, tag)
                if current is not None and current.artifact_id != artifact_id:
                    self.policy.check_tag_change(
                        cur, TagChange(project.project_id, repository.full, tag, "overwrite", current.digest, digest)
                    )
                tags.put(cur, push.repository.repository_id, artifact_id, tag)
            repositories.touch(cur, push.repository.repository_id)
            self._emit(cur, events.PUSH_ARTIFACT, "push", push, digest, new_tags, actor)
            # Last, so that any refusal above stores nothing; a failed commit after this
            # leaves only unreferenced content-addressed bytes behind.
            for stored_digest, content in push.to_store:
                self.storage.put_content(paths.blob_data(stored_digest), content)
        # Other processes learn of the moved tags from the database's notification.
        self.refs.invalidate(push.repository.repository_id)
        for stored_digest, content in push.to_store:
            self.cache.put(stored_digest, content)
        return PushResult(digest, manifest.subject.digest if manifest.subject else None, new_tags)

    def _image_attributes(self, manifest: Manifest) -> dict[str, Any]:
        """``extra_attrs`` for an image, read from its config blob (before any transaction)."""
        config = manifest.config
        if config is None or config.media_type not in IMAGE_CONFIGS or config.size > MAX_CONFIG_BYTES:
            return {}
        try:
            return image_attributes(self.storage.get_content(paths.blob_data(config.digest)))
        except PathNotFound:
            return {}  # the presence check in the transaction reports the missing config

    def _register(self, cur: Any, push: _Push, digest: str, body: bytes, manifest: Manifest, attributes: dict[str, Any], depth: int) -> int:
        """Record one manifest as an artifact of the repository; returns its id."""
        project, repository = push.project, push.repository
        needed = manifest.required_blobs()
        found = blobs.find_in_project(cur, project.project_id, [*needed, digest])
        missing = [d for d in needed if d not in found]
        if missing:
            raise ManifestBlobUnknown(f"blob {missing[0]} is not in project {project.name}", detail={"digest": missing[0]})
        child_ids: dict[str, int] = {}
        if manifest.children:
            child_digests = list(dict.fromkeys(child.digest for child in manifest.children))
            child_ids = artifacts.ids_in_repository(cur, repository.repository_id, child_digests)
            for child in child_digests:
                if child not in child_ids:
                    child_ids[child] = self._import(cur, push, child, depth)
        manifest_blob = found.get(digest)
        if manifest_blob is None:
            manifest_blob = self._store_manifest_blob(cur, push, digest, body, manifest.media_type)
        else:
            blobs.rescue(cur, manifest_blob)
        size = len(body)
        if manifest.is_index:
            size += sum(artifacts.sizes(cur, child_ids.values()).values())
        else:
            size += manifest.config.size + sum(layer.size for layer in manifest.layers)
        artifact_id, inserted = artifacts.upsert(
            cur,
            NewArtifact(
                project_id=project.project_id,
                repository_id=repository.repository_id,
                repository_name=repository.name,
                digest=digest,
                type=manifest.harbor_type,
                # Harbor: the config media type for manifests, the manifest's own for indexes.
                media_type=manifest.config.media_type if manifest.config else manifest.media_type,
                manifest_media_type=manifest.media_type,
                artifact_type=manifest.effective_artifact_type,
                size=size,
                subject_digest=manifest.subject.digest if manifest.subject else None,
                extra_attrs=attributes,
                annotations=manifest.annotations,
            ),
        )
        if inserted:
            artifacts.add_blobs(cur, artifact_id, [manifest_blob.blob_id, *(found[d].blob_id for d in needed)])
            artifacts.add_references(
                cur,
                artifact_id,
                [
                    Reference(child_ids[child.digest], child.digest, child.platform, child.annotations, list(child.urls))
                    for child in manifest.children
                ],
            )
        return artifact_id

    def _store_manifest_blob(self, cur: Any, push: _Push, digest: str, body: bytes, media_type: str) -> blobs.Blob:
        """Record the manifest's bytes as a blob of the project, charging its quota."""
        if push.quota is None:
            push.quota = projects.lock_quota(cur, push.project.project_id)
        blob = blobs.upsert(cur, digest, len(body), media_type)
        if blobs.link(cur, push.project.project_id, blob.blob_id):
            policy_rules.charge(cur, push.project, push.quota, blob.size)
            push.quota = dataclasses.replace(push.quota, used_storage=push.quota.used_storage + blob.size)
        # Written even if another project stored the same bytes: small, idempotent, and never
        # wrong when storage lost what the row remembers.
        push.to_store.append((digest, body))
        return blob

    def _import(self, cur: Any, push: _Push, digest: str, depth: int) -> int:
        """Make a manifest of another repository of the project an artifact of this one."""
        unknown = ManifestBlobUnknown(f"manifest {digest} is not in repository {push.repository.name}", detail={"digest": digest})
        if depth >= MAX_INDEX_DEPTH:
            raise unknown
        blob = blobs.find_in_project(cur, push.project.project_id, [digest]).get(digest)
        if blob is None:
            raise unknown
        try:
            body = self._load(digest)
        except PathNotFound:
            raise unknown from None
        manifest = parse(body, blob.content_type or None)
        return self._register(cur, push, digest, body, manifest, self._image_attributes(manifest), depth + 1)

    def _emit(
        self,
        cur: Any,
        event_type: str,
        operation: str,
        push: _Push,
        digest: str,
        tag_names: list[str],
        actor: Actor,
        resource_type: str = "artifact",
    ) -> None:
        when = events.now()
        outbox.add_events(
            cur,
            [
                events.artifact_event(
                    event_type,
                    registry_host=self.registry_host,
                    project=push.project,
                    repository=push.repository,
                    digest=digest,
                    tags_=tag_names,
                    actor=actor,
                    when=when,
                )
            ],
        )
        events.write_audit(
            cur,
            events.audit_records(
                operation,
                project=push.project,
                repository=push.repository.name,
                digest=digest,
                tags_=tag_names,
                actor=actor,
                when=when,
                resource_type=resource_type,
            ),
        )

    # -- delete --------------------------------------------------------------------------------

    def delete(self, repository: RepositoryName, reference: str, actor: Actor) -> None:
        """DELETE by digest removes the artifact (and its tags); by tag removes only the tag."""
        self.policy.require_writable()
        project = self.policy.require_project(repository)
        by_digest = _is_digest_reference(reference)
        if not by_digest:
            names.tag(reference)
        with self.db.transaction() as cur:
            repo = repositories.get(cur, repository.full)
            if repo is None:
                raise RepositoryUnknown(detail={"name": repository.full})
            push = _Push(project, repo)
            if by_digest:
                self._delete_artifact(cur, push, reference, actor)
            else:
                self._delete_tag(cur, push, reference, actor)
        self.refs.invalidate(repo.repository_id)

    def _delete_artifact(self, cur: Any, push: _Push, digest: str, actor: Actor) -> None:
        artifact_id = artifacts.ids_in_repository(cur, push.repository.repository_id, [digest]).get(digest)
        if artifact_id is None:
            raise ManifestUnknown(detail={"reference": digest})
        if artifacts.is_referenced(cur, artifact_id):
            raise Denied(f"manifest {digest} is part of an index in this repository; delete the index first")
        tag_names = tags.names_of_artifact(cur, artifact_id)
        for tag in tag_names:
            self.policy.check_tag_change(cur, TagChange(push.project.project_id, push.repository.name, tag, "delete", digest))
        artifacts.delete(cur, artifact_id)
        self._emit(cur, events.DELETE_ARTIFACT, "delete", push, digest, tag_names, actor)

    def _delete_tag(self, cur: Any, push: _Push, name: str, actor: Actor) -> None:
        tag = tags.get(cur, push.repository.repository_id, name)
        if tag is None:
            raise ManifestUnknown(detail={"reference": name})
        self.policy.check_tag_change(cur, TagChange(push.project.project_id, push.repository.name, name, "delete", tag.digest))
        tags.delete(cur, tag.tag_id)
        self._emit(cur, events.DELETE_TAG, "delete", push, tag.digest, [name], actor, resource_type="tag")


def _is_digest_reference(reference: str) -> bool:
    """A reference with a colon must be a valid digest (raises DigestInvalid); else it is a tag."""
    if ":" not in reference:
        return False
    if not names.is_digest(reference):
        raise DigestInvalid(f"invalid digest {reference!r}", detail={"digest": reference})
    return True
