"""Business rules of the content API: repositories, artifacts, tags and accessories.

Permission checks on the project in the path happen in the views (``require_project``); this
module resolves repository names and references, assembles what the API shows, and performs the
changes. Each change is one transaction that also writes its outbox event (the registry's
payload shape) and its audit row, so an API delete is never half done: either the rows, the
event and the audit entry are all committed, or none is. Blobs are never deleted here; garbage
collection reclaims the ones no artifact needs any more.

Deleting follows Harbor (``controller/artifact/controller.go`` ``deleteDeeply``): an artifact
that an index still references cannot be deleted on its own (412); deleting an artifact deletes
its tags, its accessories (artifacts whose subject it is) and those of its children that nothing
else references or tags.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Sequence
from urllib.parse import unquote, urlsplit

from berth_common.db import Database
from berth_common.errors import APIError, ErrorCode
from berth_core import errors
from berth_core.api.query import FUZZY, Condition, ListParams
from berth_core.db import content as content_db
from berth_core.db import projects as projects_db
from berth_core.db.content import Artifact, Reference, Repository, Tag
from berth_core.db.projects import Project
from berth_core.services import audit, security
from berth_core.services.security import SecurityContext

# Harbor answers a quota overflow and operations on accessories with DENIED/403.
DENIED = ErrorCode("DENIED", 403, "denied")

# OCI distribution grammar (distribution/reference): path components and tags.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
REPOSITORY_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
MAX_REPOSITORY_NAME = 255
MAX_DESCRIPTION = 65536
# Depth of nested indexes followed when deleting or copying (OCI allows nesting; real images
# use one level). A bound keeps a crafted cycle or a pathological tree from running away.
MAX_DEPTH = 8


@dataclasses.dataclass(frozen=True)
class ArtifactView:
    """An artifact with what the API shows alongside it."""

    artifact: Artifact
    tags: list[Tag]
    references: list[Reference]
    accessories: list[Artifact]


@dataclasses.dataclass(frozen=True)
class ArtifactOptions:
    with_tag: bool = True
    with_accessory: bool = False


# ----------------------------------------------------------------------------------------------
# Names and references


def repository_full_name(project: Project, raw: str) -> str:
    """``project/repo`` from the path segment, which Harbor clients URL-encode twice.

    The router decoded the path once (``a%252Fb`` -> ``a%2Fb``); this decodes the second layer
    and checks the result against the OCI name grammar, which also rules out ``..``, empty
    components and anything a path-traversal attempt could smuggle in. Raises 400.
    """
    name = unquote(raw)
    if not name or len(name) > MAX_REPOSITORY_NAME or not REPOSITORY_RE.fullmatch(name):
        raise APIError(errors.BAD_REQUEST, f"invalid repository name {name[:255]!r}")
    full = f"{project.name}/{name}"
    if len(full) > MAX_REPOSITORY_NAME:
        raise APIError(errors.BAD_REQUEST, f"repository name {full[:64]!r}... is longer than {MAX_REPOSITORY_NAME} characters")
    return full


def check_reference(reference: str) -> str:
    """A digest or a tag; raises 400 for anything else."""
    if is_digest(reference) or TAG_RE.fullmatch(reference):
        return reference
    raise APIError(errors.BAD_REQUEST, f"invalid reference {reference[:255]!r}: expected a tag or a digest")


def is_digest(reference: str) -> bool:
    return ":" in reference and len(reference) <= 255 and bool(DIGEST_RE.fullmatch(reference))


def check_tag_name(name: object) -> str:
    if not isinstance(name, str) or not TAG_RE.fullmatch(name):
        raise APIError(errors.BAD_REQUEST, "tag name must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
    return name


def _require_repository(cur, full_name: str) -> Repository:
    repository = content_db.get_repository(cur, full_name)
    if repository is None:
        raise APIError(errors.NOT_FOUND, f"repository {full_name} not found")
    return repository


def _require_artifact(cur, repository: Repository, reference: str) -> Artifact:
    if is_digest(reference):
        artifact = content_db.get_artifact_by_digest(cur, repository.id, reference)
        shown = f"{repository.name}@{reference}"
    else:
        artifact = content_db.get_artifact_by_tag(cur, repository.id, reference)
        shown = f"{repository.name}:{reference}"
    if artifact is None:
        raise APIError(errors.NOT_FOUND, f"artifact {shown} not found")
    return artifact


# ----------------------------------------------------------------------------------------------
# Repositories


def list_repositories(db: Database, project_ids: Sequence[int] | None, params: ListParams) -> tuple[list[Repository], int]:
    """A page of repositories in ``project_ids`` (None = all) and the total count.

    Harbor matches ``name=v`` by substring too, so an exact name condition becomes fuzzy.
    """
    params = _name_is_fuzzy(params)
    with db.transaction() as cur:
        total = content_db.count_repositories(cur, project_ids=project_ids, conditions=params.conditions)
        items = content_db.list_repositories(cur, project_ids=project_ids, params=params) if total else []
    return items, total


def _name_is_fuzzy(params: ListParams) -> ListParams:
    name = params.get("name")
    if name is None or name.op != "exact":
        return params
    return params.without("name").with_condition(Condition("name", FUZZY, name.values))


def get_repository(db: Database, project: Project, raw_name: str) -> Repository:
    full = repository_full_name(project, raw_name)
    with db.transaction() as cur:
        return _require_repository(cur, full)


def update_repository(db: Database, sec: SecurityContext, project: Project, raw_name: str, description: str, client_ip: str) -> None:
    """Set the repository's description (the only updatable field, as in Harbor)."""
    full = repository_full_name(project, raw_name)
    if len(description) > MAX_DESCRIPTION:
        raise APIError(errors.BAD_REQUEST, f"description is longer than {MAX_DESCRIPTION} characters")
    if "\x00" in description:
        raise APIError(errors.BAD_REQUEST, "description contains a NUL character")
    with db.transaction() as cur:
        repository = _require_repository(cur, full)
        content_db.update_repository_description(cur, repository.id, description)
        audit.record_change(cur, sec, "update", "repository", full, project_id=project.project_id, client_ip=client_ip)


def delete_repository(db: Database, sec: SecurityContext, project: Project, raw_name: str, client_ip: str, external_url: str) -> None:
    """Delete the repository with all its artifacts and tags, in one transaction.

    One DELETE_ARTIFACT event per artifact that was listed (children and accessories go with
    their parents, as in Harbor) and one DELETE_REPOSITORY event are queued.
    """
    full = repository_full_name(project, raw_name)
    with db.transaction() as cur:
        repository = _require_repository(cur, full)
        # Quota row first, then content: the registry's lock order, so the two never deadlock.
        content_db.lock_quota(cur, project.project_id)
        if not content_db.lock_repository(cur, repository.id):
            raise APIError(errors.NOT_FOUND, f"repository {full} not found")
        artifacts = content_db.list_repository_artifacts(cur, repository.id)
        ids = [a.id for a in artifacts]
        tags = content_db.tags_of(cur, ids)
        children = {ref.child_id for refs in content_db.references_of(cur, ids).values() for ref in refs}
        blob_ids = content_db.blob_ids_of_repository(cur, repository.id)
        content_db.delete_repository(cur, repository.id)
        content_db.unlink_unused_project_blobs(cur, project.project_id, blob_ids)
        content_db.refresh_quota_usage(cur, project.project_id)
        for art in artifacts:
            if art.subject_digest is None and (art.id not in children or tags[art.id]):
                _event(cur, "DELETE_ARTIFACT", sec, project, repository, art.digest, [t.name for t in tags[art.id]], external_url)
        _event(cur, "DELETE_REPOSITORY", sec, project, repository, None, [], external_url)
        audit.record_change(cur, sec, "delete", "repository", full, project_id=project.project_id, client_ip=client_ip)


# ----------------------------------------------------------------------------------------------
# Artifacts


def list_artifacts(
    db: Database,
    project: Project,
    raw_name: str | None,
    params: ListParams,
    options: ArtifactOptions,
    latest_in_repository: bool = False,
) -> tuple[list[ArtifactView], int]:
    """A page of the listed artifacts of a repository (or of the whole project) and the total."""
    tags = params.get("tags")
    params = params.without("tags")
    with db.transaction() as cur:
        repository_id = project_id = None
        if raw_name is not None:
            repository_id = _require_repository(cur, repository_full_name(project, raw_name)).id
        else:
            project_id = project.project_id
        # Harbor's latest_in_repository only applies when the query names a type.
        latest = latest_in_repository and bool(params.get("artifact_type") or params.get("media_type"))
        scope = {"repository_id": repository_id, "project_id": project_id, "tags": tags, "latest_in_repository": latest}
        total = content_db.count_artifacts(cur, conditions=params.conditions, **scope)
        artifacts = content_db.list_artifacts(cur, params=params, **scope) if total else []
        return _assemble(cur, artifacts, options), total


def get_artifact(db: Database, project: Project, raw_name: str, reference: str, options: ArtifactOptions) -> ArtifactView:
    full = repository_full_name(project, raw_name)
    check_reference(reference)
    with db.transaction() as cur:
        artifact = _require_artifact(cur, _require_repository(cur, full), reference)
        return _assemble(cur, [artifact], options)[0]


def _assemble(cur, artifacts: list[Artifact], options: ArtifactOptions) -> list[ArtifactView]:
    ids = [a.id for a in artifacts]
    tags = content_db.tags_of(cur, ids) if options.with_tag else {}
    references = content_db.references_of(cur, ids)
    accessories: dict[tuple[int, str], list[Artifact]] = {}
    if options.with_accessory:
        by_repository: dict[int, list[str]] = {}
        for art in artifacts:
            by_repository.setdefault(art.repository_id, []).append(art.digest)
        for repository_id, digests in by_repository.items():
            for digest, found in content_db.accessories_of(cur, repository_id, digests).items():
                accessories[(repository_id, digest)] = found
    return [
        ArtifactView(a, tags.get(a.id, []), references.get(a.id, []), accessories.get((a.repository_id, a.digest), []))
        for a in artifacts
    ]


def delete_artifact(
    db: Database, sec: SecurityContext, project: Project, raw_name: str, reference: str, client_ip: str, external_url: str
) -> None:
    """Delete the artifact, its tags, accessories and unshared children in one transaction."""
    full = repository_full_name(project, raw_name)
    check_reference(reference)
    with db.transaction() as cur:
        repository = _require_repository(cur, full)
        artifact = _require_artifact(cur, repository, reference)
        content_db.lock_quota(cur, project.project_id)  # before content, as the registry does
        if not content_db.lock_artifact(cur, artifact.id):
            raise APIError(errors.NOT_FOUND, f"artifact {full}@{artifact.digest} not found")
        if content_db.parent_ids(cur, artifact.id):
            raise APIError(errors.PRECONDITION, f"artifact {full}@{artifact.digest} is referenced by an index; delete the index instead")
        root_tags = [t.name for t in content_db.tags_of(cur, [artifact.id])[artifact.id]]
        blob_ids: set[int] = set()
        _delete_deeply(cur, artifact, is_root=True, blob_ids=blob_ids, depth=0)
        content_db.unlink_unused_project_blobs(cur, project.project_id, blob_ids)
        content_db.refresh_quota_usage(cur, project.project_id)
        content_db.touch_repository(cur, repository.id)
        _event(cur, "DELETE_ARTIFACT", sec, project, repository, artifact.digest, root_tags, external_url)
        _audit_artifact(cur, "delete", sec, project, full, artifact.digest, root_tags, client_ip)


def _delete_deeply(cur, artifact: Artifact, *, is_root: bool, blob_ids: set[int], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise APIError(errors.PRECONDITION, f"artifact {artifact.digest} nests indexes deeper than {MAX_DEPTH} levels")
    # A child stays when it has tags of its own or another index still references it.
    if not is_root and (content_db.tags_of(cur, [artifact.id])[artifact.id] or content_db.parent_ids(cur, artifact.id)):
        return
    for accessory in content_db.accessories_of(cur, artifact.repository_id, [artifact.digest])[artifact.digest]:
        _delete_deeply(cur, accessory, is_root=True, blob_ids=blob_ids, depth=depth + 1)
    children = content_db.references_of(cur, [artifact.id])[artifact.id]
    blob_ids.update(content_db.blob_ids_of_artifact(cur, artifact.id))
    # The row goes first: its references cascade away, so children no longer count it as a parent.
    content_db.delete_artifact(cur, artifact.id)
    for ref in children:
        child = content_db.get_artifact(cur, ref.child_id)
        if child is not None:
            _delete_deeply(cur, child, is_root=False, blob_ids=blob_ids, depth=depth + 1)


def copy_artifact(
    db: Database,
    sec: SecurityContext,
    project: Project,
    raw_name: str,
    source: str,
    client_ip: str,
    external_url: str,
) -> str:
    """Copy ``project/repo:tag`` or ``project/repo@digest`` into this repository (Harbor's
    ``POST .../artifacts?from=``): rows and blob links only, the bytes are shared. The root
    artifact's tags, its children and its accessories come along; the target project's quota
    must hold the blobs it does not have yet. Returns the reference that was copied.
    """
    target_full = repository_full_name(project, raw_name)
    source_repo, source_ref = parse_source(source)
    source_project_name = source_repo.split("/", 1)[0]
    with db.transaction() as cur:
        source_project = projects_db.get_project_by_name(cur, source_project_name)
        if source_project is None:
            raise APIError(errors.NOT_FOUND, f"project {source_project_name} not found")
        sec.remember_project(source_project)
        if not sec.can(source_project.project_id, "artifact", "read"):
            raise security.deny()
        source_artifact = _require_artifact(cur, _require_repository(cur, source_repo), source_ref)
        if source_artifact.subject_digest is not None:
            raise APIError(DENIED, "the operation isn't supported for an artifact accessory")
        quota = content_db.lock_quota(cur, project.project_id)  # before content, as the registry does
        target = content_db.insert_repository(cur, project_id=project.project_id, name=target_full)
        blob_ids: set[int] = set()
        copied = _copy_deeply(cur, source_artifact, project, target, blob_ids, depth=0)
        tags = [t.name for t in content_db.tags_of(cur, [source_artifact.id])[source_artifact.id]]
        for name in tags:
            content_db.point_tag(cur, repository_id=target.id, artifact_id=copied.id, name=name)
        content_db.link_project_blobs(cur, project.project_id, blob_ids)
        used = content_db.refresh_quota_usage(cur, project.project_id)
        if quota is not None:
            hard, before = quota
            if hard >= 0 and used > hard and used > before:
                raise APIError(
                    DENIED,
                    f"adding {used - before} bytes of storage to project {project.name} would bring it to {used} bytes,"
                    f" over its limit of {hard} bytes",
                )
        content_db.touch_repository(cur, target.id)
        _event(cur, "PUSH_ARTIFACT", sec, project, target, copied.digest, tags, external_url)
        # A copy lands like a push of the same artifact, and is recorded as one.
        description = f"copied from {source_repo}@{source_artifact.digest}"
        _audit_artifact(cur, "push", sec, project, target_full, copied.digest, tags, client_ip, description)
        return source_ref


def parse_source(source: str) -> tuple[str, str]:
    """``project/repo:tag`` or ``project/repo@digest`` -> (repository, reference); 400 otherwise."""
    if "@" in source:
        repo, _, ref = source.partition("@")
        valid = is_digest(ref)
    else:
        repo, sep, ref = source.rpartition(":")
        valid = bool(sep) and bool(TAG_RE.fullmatch(ref))
    if not valid or "/" not in repo or len(repo) > MAX_REPOSITORY_NAME or not REPOSITORY_RE.fullmatch(repo.split("/", 1)[1]):
        raise APIError(errors.BAD_REQUEST, f"invalid from {source[:255]!r}: expected project/repository:tag or project/repository@digest")
    return repo, ref


def _copy_deeply(cur, source: Artifact, project: Project, target: Repository, blob_ids: set[int], depth: int) -> Artifact:
    if depth > MAX_DEPTH:
        raise APIError(errors.PRECONDITION, f"artifact {source.digest} nests indexes deeper than {MAX_DEPTH} levels")
    copied = content_db.get_artifact_by_digest(cur, target.id, source.digest)
    if copied is None:
        copied = content_db.insert_artifact(
            cur,
            project_id=project.project_id,
            repository_id=target.id,
            repository_name=target.name,
            digest=source.digest,
            manifest_media_type=source.manifest_media_type,
            media_type=source.media_type,
            artifact_type=source.artifact_type,
            type=source.type,
            size=source.size,
            subject_digest=source.subject_digest,
            extra_attrs=source.extra_attrs,
            annotations=source.annotations,
        )
        for ref in content_db.references_of(cur, [source.id])[source.id]:
            child = content_db.get_artifact(cur, ref.child_id)
            if child is None:
                continue
            copied_child = _copy_deeply(cur, child, project, target, blob_ids, depth + 1)
            content_db.insert_reference(
                cur,
                parent_id=copied.id,
                child_id=copied_child.id,
                child_digest=ref.child_digest,
                platform=ref.platform,
                annotations=ref.annotations,
                urls=ref.urls,
            )
        source_blobs = content_db.blob_ids_of_artifact(cur, source.id)
        content_db.link_artifact_blobs(cur, copied.id, source_blobs)
        blob_ids.update(source_blobs)
    for accessory in content_db.accessories_of(cur, source.repository_id, [source.digest])[source.digest]:
        _copy_deeply(cur, accessory, project, target, blob_ids, depth + 1)
    return copied


# ----------------------------------------------------------------------------------------------
# Tags and accessories


def list_tags(db: Database, project: Project, raw_name: str, reference: str, params: ListParams) -> tuple[list[Tag], int]:
    full = repository_full_name(project, raw_name)
    check_reference(reference)
    with db.transaction() as cur:
        artifact = _require_artifact(cur, _require_repository(cur, full), reference)
        total = content_db.count_tags(cur, artifact_id=artifact.id, conditions=params.conditions)
        return (content_db.list_tags(cur, artifact_id=artifact.id, params=params) if total else []), total


def create_tag(
    db: Database, sec: SecurityContext, project: Project, raw_name: str, reference: str, name: str, client_ip: str, external_url: str
) -> Tag:
    """Attach a new tag to the artifact; 409 if the repository already has a tag of that name."""
    full = repository_full_name(project, raw_name)
    check_reference(reference)
    check_tag_name(name)
    with db.transaction() as cur:
        repository = _require_repository(cur, full)
        artifact = _require_artifact(cur, repository, reference)
        if not content_db.lock_artifact(cur, artifact.id):
            raise APIError(errors.NOT_FOUND, f"artifact {full}@{artifact.digest} not found")
        tag = content_db.insert_tag(cur, repository_id=repository.id, artifact_id=artifact.id, name=name)
        if tag is None:
            raise APIError(errors.CONFLICT, f"tag {name} already exists in repository {full}")
        content_db.touch_repository(cur, repository.id)
        _event(cur, "CREATE_TAG", sec, project, repository, artifact.digest, [name], external_url)
        audit.record_change(cur, sec, "create", "tag", f"{full}:{name}", project_id=project.project_id, client_ip=client_ip)
        return tag


def delete_tag(
    db: Database, sec: SecurityContext, project: Project, raw_name: str, reference: str, name: str, client_ip: str, external_url: str
) -> None:
    """Remove one tag of the artifact; the artifact itself stays."""
    full = repository_full_name(project, raw_name)
    check_reference(reference)
    check_tag_name(name)
    with db.transaction() as cur:
        repository = _require_repository(cur, full)
        artifact = _require_artifact(cur, repository, reference)
        tag = content_db.get_tag(cur, repository.id, name)
        if tag is None or tag.artifact_id != artifact.id or not content_db.delete_tag(cur, tag.id):
            raise APIError(errors.NOT_FOUND, f"tag {name} attached to artifact {full}@{artifact.digest} not found")
        content_db.touch_repository(cur, repository.id)
        _event(cur, "DELETE_TAG", sec, project, repository, artifact.digest, [name], external_url)
        audit.record_change(cur, sec, "delete", "tag", f"{full}:{name}", project_id=project.project_id, client_ip=client_ip)


def list_accessories(
    db: Database, project: Project, raw_name: str, reference: str, params: ListParams
) -> tuple[list[Artifact], Artifact, int]:
    """A page of the artifact's accessories, the artifact itself, and the total count."""
    full = repository_full_name(project, raw_name)
    check_reference(reference)
    with db.transaction() as cur:
        repository = _require_repository(cur, full)
        artifact = _require_artifact(cur, repository, reference)
        scope = {"repository_id": repository.id, "subject_digest": artifact.digest}
        total = content_db.count_accessories(cur, conditions=params.conditions, **scope)
        items = content_db.list_accessories(cur, params=params, **scope) if total else []
        return items, artifact, total


# ----------------------------------------------------------------------------------------------
# Events


def _resource(full_name: str, digest: str, tag: str | None) -> str:
    """Harbor's resource name: ``repo:tag``, or ``repo@digest`` without a tag."""
    return f"{full_name}:{tag}" if tag else f"{full_name}@{digest}"


def _event(
    cur,
    event_type: str,
    sec: SecurityContext,
    project: Project,
    repository: Repository,
    digest: str | None,
    tags: list[str],
    external_url: str,
) -> None:
    """Queue an event with the payload the registry writes for pushes and deletes (Harbor's
    webhook shape): one resource per tag, or one untagged resource for a bare digest."""
    host = urlsplit(external_url).netloc or external_url
    full_name = repository.name
    resources = []
    if digest is not None:
        resources = [
            {"digest": digest, "tag": tag or "", "resource_url": f"{host}/{_resource(full_name, digest, tag)}"} for tag in tags or [None]
        ]
    namespace, _, name = full_name.partition("/")
    payload = {
        "type": event_type,
        "occur_at": int(time.time()),
        "operator": sec.username or "",
        "event_data": {
            "resources": resources,
            "repository": {
                "date_created": int(repository.creation_time.timestamp()),
                "name": name,
                "namespace": namespace,
                "repo_full_name": full_name,
                "repo_type": "public" if project.public else "private",
            },
        },
    }
    content_db.add_event(cur, event_type=event_type, ordering_key=full_name, payload=payload)


def _audit_artifact(
    cur,
    operation: str,
    sec: SecurityContext,
    project: Project,
    full_name: str,
    digest: str,
    tags: list[str],
    client_ip: str,
    description: str = "",
) -> None:
    """One audit row per tag, or one for the digest without tags (as the registry records)."""
    for tag in tags or [None]:
        audit.record_change(
            cur, sec, operation, "artifact", _resource(full_name, digest, tag),
            project_id=project.project_id, client_ip=client_ip, description=description,
        )  # fmt: skip
