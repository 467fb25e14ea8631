"""Artifacts, tags and accessories of a repository, and ``/projects/{p}/artifacts``, as Harbor.

Paths: ``/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts[/{reference}
[/tags[/{tag_name}]|/accessories]]``; ``{reference}`` is a tag or a digest. JSON follows
Harbor's ``Artifact``, ``Tag`` and ``Accessory`` models.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from berth_common.web import client_address
from berth_core import errors
from berth_core.api.common import created, ext, harbor_time, json_body, ok
from berth_core.api.query import ALL, ANY, EXACT, FUZZY, RANGE, Field, paging_headers, parse_bool_arg, parse_list_params
from berth_core.api.repositories import refuse_in_read_only_mode
from berth_core.db.content import Artifact, Reference, Tag, accessory_type
from berth_core.db.projects import Project
from berth_core.errors import APIError
from berth_core.services import content
from berth_core.services.content import ArtifactOptions, ArtifactView
from berth_core.services.security import current_security, require_project

bp = Blueprint("artifacts", __name__, url_prefix="/api/v2.0")

_ARTIFACTS = "/projects/<project_name>/repositories/<repository_name>/artifacts"
_ARTIFACT = _ARTIFACTS + "/<reference>"

_STR = frozenset({EXACT, FUZZY, ANY})
ARTIFACT_QUERY_FIELDS = {
    "id": Field("int", frozenset({EXACT, ANY})),
    "digest": Field("str", _STR),
    "type": Field("str", _STR),
    "media_type": Field("str", _STR),
    "manifest_media_type": Field("str", _STR),
    "artifact_type": Field("str", _STR),
    "size": Field("int", frozenset({EXACT, RANGE})),
    "push_time": Field("time", frozenset({RANGE})),
    "pull_time": Field("time", frozenset({RANGE})),
    # Harbor's special key: "*" tagged, "nil" untagged, a name, "~part", "{a b}", "(a b)".
    "tags": Field("str", frozenset({EXACT, FUZZY, ANY, ALL})),
}
PROJECT_ARTIFACT_QUERY_FIELDS = {**ARTIFACT_QUERY_FIELDS, "repository_name": Field("str", _STR)}
ARTIFACT_SORTABLE = ("id", "digest", "type", "media_type", "artifact_type", "size", "push_time", "pull_time")
PROJECT_ARTIFACT_SORTABLE = (*ARTIFACT_SORTABLE, "repository_name")

TAG_QUERY_FIELDS = {
    "id": Field("int", frozenset({EXACT, ANY})),
    "name": Field("str", _STR),
    "push_time": Field("time", frozenset({RANGE})),
    "pull_time": Field("time", frozenset({RANGE})),
}
TAG_SORTABLE = ("id", "name", "push_time", "pull_time")

ACCESSORY_QUERY_FIELDS = {
    "id": Field("int", frozenset({EXACT, ANY})),
    "digest": Field("str", _STR),
    "type": Field("str", _STR),
    "size": Field("int", frozenset({EXACT, RANGE})),
    "creation_time": Field("time", frozenset({RANGE})),
}
ACCESSORY_SORTABLE = ("id", "digest", "type", "size", "creation_time")


# ----------------------------------------------------------------------------------------------
# JSON


def tag_json(tag: Tag) -> dict[str, Any]:
    return {
        "id": tag.id,
        "repository_id": tag.repository_id,
        "artifact_id": tag.artifact_id,
        "name": tag.name,
        "push_time": harbor_time(tag.push_time),
        "pull_time": harbor_time(tag.pull_time),
        "immutable": False,
    }


def reference_json(ref: Reference) -> dict[str, Any]:
    out: dict[str, Any] = {
        "parent_id": ref.parent_id,
        "child_id": ref.child_id,
        "child_digest": ref.child_digest,
        "annotations": ref.annotations or {},
        "urls": ref.urls or [],
    }
    if ref.platform:
        keys = ("architecture", "os", "os.version", "os.features", "variant")
        out["platform"] = {key: ref.platform[key] for key in keys if key in ref.platform}
    return out


def accessory_json(accessory: Artifact, subject: Artifact | None) -> dict[str, Any]:
    """Harbor's Accessory model; Berth has no accessory table, so the id is the artifact's."""
    return {
        "id": accessory.id,
        "artifact_id": accessory.id,
        "subject_artifact_id": subject.id if subject else 0,
        "subject_artifact_digest": accessory.subject_digest or "",
        "subject_artifact_repo": accessory.repository_name,
        "size": accessory.size,
        "digest": accessory.digest,
        "type": accessory_type(accessory.artifact_type),
        "icon": "",
        "creation_time": harbor_time(accessory.push_time),
    }


def artifact_json(view: ArtifactView, options: ArtifactOptions, with_label: bool) -> dict[str, Any]:
    art = view.artifact
    out: dict[str, Any] = {
        "id": art.id,
        "type": art.type,
        "media_type": art.media_type,
        "manifest_media_type": art.manifest_media_type,
        "artifact_type": art.artifact_type,
        "project_id": art.project_id,
        "repository_id": art.repository_id,
        "repository_name": art.repository_name,
        "digest": art.digest,
        "size": art.size,
        "icon": "",
        "push_time": harbor_time(art.push_time),
        "pull_time": harbor_time(art.pull_time),
        "extra_attrs": art.extra_attrs or {},
        "annotations": art.annotations or {},
        "references": [reference_json(ref) for ref in view.references],
        # Berth serves no artifact additions (build history, chart files) yet: no links.
        "addition_links": {},
    }
    if options.with_tag:
        out["tags"] = [tag_json(tag) for tag in view.tags]
    if options.with_accessory:
        out["accessories"] = [accessory_json(acc, art) for acc in view.accessories]
    if with_label:
        out["labels"] = []  # labels are not implemented; an empty list keeps clients happy
    return out


# ----------------------------------------------------------------------------------------------
# Views


def _external_url() -> str:
    return ext("settings").external_url


def _options() -> tuple[ArtifactOptions, bool]:
    args = request.args
    options = ArtifactOptions(
        with_tag=bool(parse_bool_arg(args, "with_tag", True)),
        with_accessory=bool(parse_bool_arg(args, "with_accessory", False)),
    )
    # Accepted for compatibility; Berth has no labels, scans, SBOMs or immutability rules yet.
    for flag in ("with_scan_overview", "with_sbom_overview", "with_immutable_status", "with_signature", "with_inherited_accessory"):
        parse_bool_arg(args, flag, False)
    return options, bool(parse_bool_arg(args, "with_label", False))


@bp.get(_ARTIFACTS)
@require_project("artifact", "list")
def list_artifacts(project: Project, repository_name: str):
    params = parse_list_params(ARTIFACT_QUERY_FIELDS, ARTIFACT_SORTABLE)
    options, with_label = _options()
    views, total = content.list_artifacts(ext("db"), project, repository_name, params, options)
    return jsonify([artifact_json(v, options, with_label) for v in views]), 200, paging_headers(total, params)


@bp.get("/projects/<project_name_or_id>/artifacts")
@require_project("artifact", "list")
def list_project_artifacts(project: Project):
    params = parse_list_params(PROJECT_ARTIFACT_QUERY_FIELDS, PROJECT_ARTIFACT_SORTABLE)
    options, with_label = _options()
    latest = bool(parse_bool_arg(request.args, "latest_in_repository", False))
    views, total = content.list_artifacts(ext("db"), project, None, params, options, latest_in_repository=latest)
    return jsonify([artifact_json(v, options, with_label) for v in views]), 200, paging_headers(total, params)


@bp.post(_ARTIFACTS)
@require_project("artifact", "create")
def copy_artifact(project: Project, repository_name: str):
    refuse_in_read_only_mode()
    source = request.args.get("from", "")
    if not source:
        raise APIError(errors.BAD_REQUEST, "the from parameter is required: project/repository:tag or project/repository@digest")
    reference = content.copy_artifact(
        ext("db"), current_security(), project, repository_name, source, client_address() or "", _external_url()
    )
    return created(f"{request.path.rstrip('/')}/{reference}")


@bp.get(_ARTIFACT)
@require_project("artifact", "read")
def get_artifact(project: Project, repository_name: str, reference: str):
    options, with_label = _options()
    view = content.get_artifact(ext("db"), project, repository_name, reference, options)
    return jsonify(artifact_json(view, options, with_label))


@bp.delete(_ARTIFACT)
@require_project("artifact", "delete")
def delete_artifact(project: Project, repository_name: str, reference: str):
    refuse_in_read_only_mode()
    content.delete_artifact(ext("db"), current_security(), project, repository_name, reference, client_address() or "", _external_url())
    return ok()


@bp.get(_ARTIFACT + "/tags")
@require_project("tag", "list")
def list_tags(project: Project, repository_name: str, reference: str):
    params = parse_list_params(TAG_QUERY_FIELDS, TAG_SORTABLE)
    parse_bool_arg(request.args, "with_immutable_status", False)
    tags, total = content.list_tags(ext("db"), project, repository_name, reference, params)
    return jsonify([tag_json(t) for t in tags]), 200, paging_headers(total, params)


@bp.post(_ARTIFACT + "/tags")
@require_project("tag", "create")
def create_tag(project: Project, repository_name: str, reference: str):
    refuse_in_read_only_mode()
    # Harbor's NewTag has only a name; read-only Tag fields a client echoes back are ignored.
    body = json_body({"name"}, allow_unknown=("id", "repository_id", "artifact_id", "push_time", "pull_time", "immutable"))
    name = content.check_tag_name(body.get("name"))
    content.create_tag(ext("db"), current_security(), project, repository_name, reference, name, client_address() or "", _external_url())
    # No Location: there is no API to GET a single tag (Harbor answers the same way).
    return Response(status=201)


@bp.delete(_ARTIFACT + "/tags/<tag_name>")
@require_project("tag", "delete")
def delete_tag(project: Project, repository_name: str, reference: str, tag_name: str):
    refuse_in_read_only_mode()
    content.delete_tag(
        ext("db"), current_security(), project, repository_name, reference, tag_name, client_address() or "", _external_url()
    )
    return ok()


@bp.get(_ARTIFACT + "/accessories")
@require_project("accessory", "list")
def list_accessories(project: Project, repository_name: str, reference: str):
    params = parse_list_params(ACCESSORY_QUERY_FIELDS, ACCESSORY_SORTABLE)
    items, subject, total = content.list_accessories(ext("db"), project, repository_name, reference, params)
    return jsonify([accessory_json(a, subject) for a in items]), 200, paging_headers(total, params)
