"""The API description: ``GET /api/v2.0/swagger.json`` and the ``/devcenter-api-2.0`` page.

The document is the maintained YAML file ``berth_core/openapi/core.yaml``, read once and served
as JSON. The page renders it on the server into plain HTML (no script, no CDN), so it works
offline and under any Content-Security-Policy.
"""

from __future__ import annotations

import functools
import importlib.resources
from typing import Any

import yaml
from flask import Blueprint, Response, jsonify, render_template_string

bp = Blueprint("openapi", __name__)

_PACKAGE = "berth_core.openapi"
_METHODS = ("get", "head", "post", "put", "patch", "delete")


@functools.cache
def document() -> dict[str, Any]:
    """The parsed API description (cached for the life of the process)."""
    text = importlib.resources.files(_PACKAGE).joinpath("core.yaml").read_text(encoding="utf-8")
    # The C loader when PyYAML has it: the document is large and parsed once per process.
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@functools.cache
def _page_template() -> str:
    return importlib.resources.files(_PACKAGE).joinpath("devcenter.html").read_text(encoding="utf-8")


def operations(doc: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Operations grouped by their first tag, in document order, ready for the page."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for path, item in doc.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method in _METHODS:
            op = item.get(method)
            if op is None:
                continue
            params = [_resolve(doc, p) for p in [*shared, *op.get("parameters", [])]]
            responses = {code: _resolve(doc, r) for code, r in op.get("responses", {}).items()}
            groups.setdefault((op.get("tags") or ["other"])[0], []).append(
                {
                    "method": method.upper(),
                    "path": doc.get("basePath", "") + path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "parameters": params,
                    "responses": responses,
                    "anchor": op.get("operationId", f"{method}-{path}"),
                }
            )
    return list(groups.items())


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local ``$ref`` (``#/parameters/x``, ``#/responses/x``) one level."""
    ref = node.get("$ref")
    if not ref or not ref.startswith("#/"):
        return node
    target: Any = doc
    for part in ref[2:].split("/"):
        target = target.get(part, {})
    return target


def schema_name(schema: dict[str, Any] | None) -> str:
    """A short human label for a schema: ``Artifact``, ``[Tag]``, ``string``."""
    if not schema:
        return ""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if schema.get("type") == "array":
        return f"[{schema_name(schema.get('items'))}]"
    return schema.get("type", "object")


@bp.get("/api/v2.0/swagger.json")
def swagger_json():
    return jsonify(document())


@bp.get("/devcenter-api-2.0")
def devcenter():
    doc = document()
    html = render_template_string(
        _page_template(),
        info=doc.get("info", {}),
        groups=operations(doc),
        definitions=doc.get("definitions", {}),
        schema_name=schema_name,
    )
    return Response(html, mimetype="text/html")
