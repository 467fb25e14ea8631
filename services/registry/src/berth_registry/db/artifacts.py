"""Artifacts (one row per manifest per repository, as Harbor models them) and their edges.

``artifact_blobs`` holds every blob an artifact needs (manifest, config, layers);
``artifact_references`` the children of an index with their platform.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import psycopg2.extensions
import psycopg2.extras

from berth_registry.db import execute_prepared

Cursor = psycopg2.extensions.cursor


@dataclasses.dataclass(frozen=True)
class ManifestRef:
    """What a manifest GET/HEAD needs, resolved in one query."""

    artifact_id: int
    repository_id: int
    project_id: int
    digest: str
    media_type: str  # the manifest's own media type (Content-Type)
    size: int  # bytes of the manifest
    tag_id: int | None


@dataclasses.dataclass(frozen=True)
class NewArtifact:
    """The columns of an artifact row derived from its manifest."""

    project_id: int
    repository_id: int
    repository_name: str
    digest: str
    type: str
    media_type: str
    manifest_media_type: str
    artifact_type: str
    size: int
    subject_digest: str | None
    extra_attrs: Mapping[str, Any]
    annotations: Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class Reference:
    """An index's child, as stored in ``artifact_references``."""

    child_id: int
    child_digest: str
    platform: Mapping[str, Any] | None
    annotations: Mapping[str, Any]
    urls: list[str]


@dataclasses.dataclass(frozen=True)
class Referrer:
    """A manifest whose ``subject`` is some digest, shaped for the referrers API."""

    digest: str
    media_type: str
    size: int
    artifact_type: str
    annotations: Mapping[str, Any]


_REF_SELECT = """
    SELECT a.artifact_id, a.repository_id, a.project_id, a.digest, a.manifest_media_type, b.size, {tag_id}
    FROM repositories r
"""
_RESOLVE_TAG = (
    _REF_SELECT.format(tag_id="t.tag_id")
    + """
    JOIN tags t ON t.repository_id = r.repository_id AND t.name = $2
    JOIN artifacts a ON a.artifact_id = t.artifact_id
    JOIN blobs b ON b.digest = a.digest
    WHERE r.name = $1
    """
)
_RESOLVE_DIGEST = (
    _REF_SELECT.format(tag_id="NULL::bigint")
    + """
    JOIN artifacts a ON a.repository_id = r.repository_id AND a.digest = $2
    JOIN blobs b ON b.digest = a.digest
    WHERE r.name = $1
    """
)


def resolve_tag(cur: Cursor, repository: str, tag: str) -> ManifestRef | None:
    execute_prepared(cur, "berth_resolve_tag", _RESOLVE_TAG, (repository, tag))
    row = cur.fetchone()
    return ManifestRef(*row) if row else None


def resolve_digest(cur: Cursor, repository: str, digest: str) -> ManifestRef | None:
    execute_prepared(cur, "berth_resolve_digest", _RESOLVE_DIGEST, (repository, digest))
    row = cur.fetchone()
    return ManifestRef(*row) if row else None


def ids_in_repository(cur: Cursor, repository_id: int, digests: Iterable[str]) -> dict[str, int]:
    """``artifact_id`` by digest for those of ``digests`` that are artifacts of the repository."""
    cur.execute(
        "SELECT digest, artifact_id FROM artifacts WHERE repository_id = %(repository_id)s AND digest = ANY(%(digests)s)",
        {"repository_id": repository_id, "digests": list(digests)},
    )
    return dict(cur.fetchall())


def sizes(cur: Cursor, artifact_ids: Iterable[int]) -> dict[int, int]:
    """``size`` by artifact id."""
    cur.execute("SELECT artifact_id, size FROM artifacts WHERE artifact_id = ANY(%(ids)s)", {"ids": list(artifact_ids)})
    return dict(cur.fetchall())


def upsert(cur: Cursor, artifact: NewArtifact) -> tuple[int, bool]:
    """Insert the artifact, or refresh ``push_time`` of the same manifest; (id, inserted)."""
    values = dataclasses.asdict(artifact)
    values["extra_attrs"] = psycopg2.extras.Json(dict(artifact.extra_attrs))
    values["annotations"] = psycopg2.extras.Json(dict(artifact.annotations))
    cur.execute(
        """
        INSERT INTO artifacts (project_id, repository_id, repository_name, digest, type, media_type,
                               manifest_media_type, artifact_type, size, subject_digest, extra_attrs, annotations)
        VALUES (%(project_id)s, %(repository_id)s, %(repository_name)s, %(digest)s, %(type)s, %(media_type)s,
                %(manifest_media_type)s, %(artifact_type)s, %(size)s, %(subject_digest)s, %(extra_attrs)s, %(annotations)s)
        ON CONFLICT (repository_id, digest) DO UPDATE SET push_time = now()
        RETURNING artifact_id, (xmax = 0)
        """,
        values,
    )
    artifact_id, inserted = cur.fetchone()
    return artifact_id, inserted


def add_blobs(cur: Cursor, artifact_id: int, blob_ids: Iterable[int]) -> None:
    rows = [(artifact_id, blob_id) for blob_id in sorted(set(blob_ids))]
    if rows:
        psycopg2.extras.execute_values(cur, "INSERT INTO artifact_blobs (artifact_id, blob_id) VALUES %s ON CONFLICT DO NOTHING", rows)


def add_references(cur: Cursor, parent_id: int, references: Iterable[Reference]) -> None:
    rows = [
        (
            parent_id,
            ref.child_id,
            ref.child_digest,
            psycopg2.extras.Json(dict(ref.platform)) if ref.platform is not None else None,
            psycopg2.extras.Json(dict(ref.annotations)),
            psycopg2.extras.Json(list(ref.urls)),
        )
        for ref in references
    ]
    if rows:
        psycopg2.extras.execute_values(
            cur,
            """
            INSERT INTO artifact_references (parent_id, child_id, child_digest, platform, annotations, urls)
            VALUES %s ON CONFLICT DO NOTHING
            """,
            rows,
        )


def is_referenced(cur: Cursor, artifact_id: int) -> bool:
    """Whether an index in the registry lists this artifact as a child."""
    cur.execute("SELECT 1 FROM artifact_references WHERE child_id = %(id)s LIMIT 1", {"id": artifact_id})
    return cur.fetchone() is not None


def delete(cur: Cursor, artifact_id: int) -> None:
    """Remove the artifact with its tags, blob edges and child edges (blobs stay for GC)."""
    cur.execute("DELETE FROM artifacts WHERE artifact_id = %(id)s", {"id": artifact_id})


def referrers(cur: Cursor, repository_id: int, subject_digest: str, artifact_type: str | None = None) -> list[Referrer]:
    """Artifacts of the repository whose subject is ``subject_digest``, oldest first."""
    cur.execute(
        """
        SELECT a.digest, a.manifest_media_type, b.size, a.artifact_type, a.annotations
        FROM artifacts a JOIN blobs b ON b.digest = a.digest
        WHERE a.repository_id = %(repository_id)s AND a.subject_digest = %(subject)s
          AND (%(artifact_type)s::text IS NULL OR a.artifact_type = %(artifact_type)s)
        ORDER BY a.push_time, a.artifact_id
        """,
        {"repository_id": repository_id, "subject": subject_digest, "artifact_type": artifact_type},
    )
    return [Referrer(*row) for row in cur.fetchall()]


def record_pulls(cur: Cursor, times: Mapping[int, dt.datetime]) -> None:
    """Set ``pull_time`` of each artifact to the given time unless a later one is recorded."""
    if not times:
        return
    psycopg2.extras.execute_values(
        cur,
        """
        UPDATE artifacts AS a SET pull_time = GREATEST(COALESCE(a.pull_time, v.t), v.t)
        FROM (VALUES %s) AS v (artifact_id, t)
        WHERE a.artifact_id = v.artifact_id
        """,
        sorted(times.items()),
        template="(%s, %s::timestamptz)",
    )
