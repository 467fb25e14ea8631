"""Harbor's project webhooks, ``/api/v2.0/projects/{project_name_or_id}/webhook/...``.

    GET    /policies                     WebhookPolicy[] (q: name, enabled; sort: id, name, times)
    POST   /policies                     create (201, Location)
    GET    /policies/{id}                one policy         PUT: replace it   DELETE: remove it
    GET    /policies/{id}/executions     Execution[]: one per event delivered to the policy
    GET    /policies/{id}/executions/{eid}/tasks            Task[]: one per target
    GET    /policies/{id}/executions/{eid}/tasks/{tid}/log  the delivery's log, text/plain
    GET    /lasttrigger                  WebhookLastTrigger[] per policy and event type
    GET    /events                       supported event types, notify types, payload formats

Permission: Harbor's ``notification-policy`` resource (Project Admin: all; Maintainer: read and
list; everyone else: none). Policies live in the jobservice's ``webhook_policy`` table and are
checked by its rules (event types, http(s) addresses, payload formats → 400 here).

Write-only fields, never returned: each target's ``auth_header`` (sent as ``Authorization``) and
the policy's ``secret``, the HMAC-SHA256 key of the ``X-Berth-Signature`` header. On PUT an
omitted (or null) ``auth_header`` keeps the one stored for the same address and an omitted
``secret`` keeps the secret, so a client can send back what it read; an empty string clears.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import Any

from flask import Blueprint, Response, jsonify, request

from berth_core import errors
from berth_core.api.common import created, get_bool, get_str, harbor_time, json_body, ok, path_id
from berth_core.api.query import ANY, EXACT, FUZZY, Field, ListParams, paging_headers, parse_list_params
from berth_core.db.projects import Project
from berth_core.errors import APIError
from berth_core.services import jobs
from berth_core.services.security import current_security, require_project
from berth_jobservice.db.executions import Execution
from berth_jobservice.db.tasks import Task
from berth_jobservice.db.webhook_policies import WebhookPolicy
from berth_jobservice.services import webhooks as webhook_rules

bp = Blueprint("webhooks", __name__, url_prefix="/api/v2.0/projects/<project_name_or_id>/webhook")

RESOURCE = "notification-policy"
AUDIT_TYPE = "webhook_policy"
VENDOR_TYPE = webhook_rules.WEBHOOK_JOB_TYPE

POLICY_FIELDS = ("name", "description", "targets", "event_types", "enabled", "secret")
# Read-only WebhookPolicy fields that clients send back on PUT (ignored).
ECHOED_POLICY_FIELDS = ("id", "project_id", "creator", "creation_time", "update_time")
TARGET_FIELDS = ("type", "address", "auth_header", "skip_cert_verify", "payload_format")
POLICY_QUERY = {"name": Field("str", frozenset({EXACT, FUZZY, ANY})), "enabled": Field("bool", frozenset({EXACT}))}
POLICY_SORTABLE = ("id", "name", "creation_time", "update_time")
TASK_SORTABLE = ("id", "status", "creation_time", "update_time")

MAX_NAME = 256  # webhook_policy.name is varchar(256)
MAX_DESCRIPTION = 4096
MAX_TARGETS = 10
MAX_EVENT_TYPES = 32
MAX_ADDRESS = 2048
MAX_AUTH_HEADER = 4096
MIN_SECRET, MAX_SECRET = 16, 256
# Every policy of a project is read to filter and sort it; projects have a handful.
MAX_POLICIES = 10_000


# ------------------------------------------------------------------------------------ rendering


def target_json(target: dict[str, Any]) -> dict[str, Any]:
    # auth_header is write-only: it is a credential of the receiving end.
    return {
        "type": target.get("type", "http"),
        "address": target.get("address", ""),
        "skip_cert_verify": bool(target.get("skip_cert_verify", False)),
        "payload_format": target.get("payload_format", "Default"),
    }


def policy_json(policy: WebhookPolicy) -> dict[str, Any]:
    return {
        "id": policy.id,
        "name": policy.name,
        "description": policy.description,
        "project_id": policy.project_id,
        "targets": [target_json(t) for t in policy.targets],
        "event_types": list(policy.event_types),
        "creator": policy.creator,
        "creation_time": harbor_time(policy.creation_time),
        "update_time": harbor_time(policy.update_time),
        "enabled": policy.enabled,
    }


def execution_json(execution: Execution) -> dict[str, Any]:
    metrics = jobs.client().execution_metrics(execution.id)
    return {
        "id": execution.id,
        "vendor_type": execution.vendor_type,
        "vendor_id": execution.vendor_id,
        "status": execution.status,
        "status_message": execution.status_message,
        "metrics": {
            "task_count": metrics.task_count,
            "success_task_count": metrics.success_task_count,
            "error_task_count": metrics.error_task_count,
            "pending_task_count": metrics.pending_task_count,
            "running_task_count": metrics.running_task_count,
            "scheduled_task_count": metrics.scheduled_task_count,
            "stopped_task_count": metrics.stopped_task_count,
        },
        "trigger": execution.trigger,
        "extra_attrs": execution.extra_attrs,
        "start_time": harbor_time(execution.start_time),
        "end_time": harbor_time(execution.end_time),
    }


def task_json(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "execution_id": task.execution_id,
        "status": task.status,
        "status_message": task.status_message,
        "run_count": task.run_count,
        "extra_attrs": task.extra_attrs,
        "creation_time": harbor_time(task.creation_time),
        "update_time": harbor_time(task.update_time),
        "start_time": harbor_time(task.start_time),
        "end_time": harbor_time(task.end_time),
    }


# ------------------------------------------------------------------------------------ lookups


def _not_found(what: str, value: object) -> APIError:
    return APIError(errors.NOT_FOUND, f"{what} {str(value)[:64]} not found")


def _load_policy(project: Project, policy_id: str) -> WebhookPolicy:
    policy = jobs.client().webhook_policy(path_id(policy_id, "webhook_policy_id"))
    # A policy of another project is as unknown here as a missing one.
    if policy is None or policy.project_id != project.project_id:
        raise _not_found("webhook policy", policy_id)
    return policy


def _load_execution(policy: WebhookPolicy, execution_id: str) -> Execution:
    execution = jobs.client().execution(path_id(execution_id, "execution_id"))
    if execution is None or execution.vendor_type != VENDOR_TYPE or execution.vendor_id != policy.id:
        raise _not_found("execution", execution_id)
    return execution


def _page(items: Sequence[Any], params: ListParams, default_sort: str = "id") -> tuple[list[Any], int]:
    """Sort (stable, last key first) and cut one page of a list already held in memory."""
    ordered = sorted(items, key=attrgetter(default_sort))
    for key in reversed(params.sort):
        ordered = sorted(ordered, key=attrgetter(key.key), reverse=key.descending)
    return ordered[params.offset : params.offset + params.limit], len(ordered)


def _matches(policy: WebhookPolicy, params: ListParams) -> bool:
    for condition in params.conditions:
        value = getattr(policy, condition.key)
        if condition.op == FUZZY:
            if condition.values[0].lower() not in value.lower():
                return False
        elif value not in condition.values:
            return False
    return True


# ------------------------------------------------------------------------------------ request bodies


def _check_text(value: str, key: str) -> str:
    # An address ends up in an HTTP request line: no spaces or control characters (urlsplit
    # silently drops some of them, so the jobservice's URL check alone would let them through).
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in value):
        raise APIError(errors.BAD_REQUEST, f"{key} must not contain spaces or control characters")
    return value


def _targets(raw: Any, stored: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """The targets of a request; an omitted auth_header keeps the stored one of that address."""
    if not isinstance(raw, list) or not raw:
        raise APIError(errors.BAD_REQUEST, "targets must be a non-empty list of {type, address, ...}")
    if len(raw) > MAX_TARGETS:
        raise APIError(errors.BAD_REQUEST, f"a policy has at most {MAX_TARGETS} targets")
    stored_headers = {t.get("address"): t.get("auth_header", "") for t in stored}
    targets: list[dict[str, Any]] = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise APIError(errors.BAD_REQUEST, f"targets[{index}] must be an object")
        unknown = sorted(set(item) - set(TARGET_FIELDS))
        if unknown:
            raise APIError(errors.BAD_REQUEST, f"unknown target field(s): {', '.join(str(u)[:64] for u in unknown[:5])}")
        address = _check_text((get_str(item, "address", max_length=MAX_ADDRESS) or "").strip(), "address")
        if any(t["address"] == address for t in targets):
            raise APIError(errors.BAD_REQUEST, f"target address {address} is listed twice")
        auth_header = get_str(item, "auth_header", max_length=MAX_AUTH_HEADER)
        if auth_header is None:
            auth_header = stored_headers.get(address, "")
        elif any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in auth_header):
            raise APIError(errors.BAD_REQUEST, "auth_header must not contain control characters")
        targets.append(
            {
                "type": get_str(item, "type", max_length=32) or "http",
                "address": address,
                "auth_header": auth_header,
                "skip_cert_verify": get_bool(item, "skip_cert_verify", False),
                "payload_format": get_str(item, "payload_format", max_length=32) or "Default",
            }
        )
    return targets


def _event_types(raw: Any) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise APIError(errors.BAD_REQUEST, "event_types must be a list of event type names")
    if len(raw) > MAX_EVENT_TYPES:
        raise APIError(errors.BAD_REQUEST, f"event_types has more than {MAX_EVENT_TYPES} entries")
    return raw


def _secret(body: dict[str, Any]) -> str | None:
    """The signing secret given (None: not given); "" clears it."""
    secret = get_str(body, "secret", max_length=MAX_SECRET)
    if secret and len(secret) < MIN_SECRET:
        raise APIError(errors.BAD_REQUEST, f"secret must be {MIN_SECRET} to {MAX_SECRET} characters")
    return secret


def _name(body: dict[str, Any]) -> str:
    name = (get_str(body, "name", max_length=MAX_NAME) or "").strip()
    if not name:
        raise APIError(errors.BAD_REQUEST, "name is required")
    return name


def _conflict(name: str, project: Project):
    return jobs.conflict_as_409(f"a webhook policy named {name} already exists in project {project.name}")


# ------------------------------------------------------------------------------------ policies


@bp.get("/policies")
@require_project(RESOURCE, "list")
def list_policies(project: Project):
    params = parse_list_params(POLICY_QUERY, POLICY_SORTABLE)
    policies, _ = jobs.client().webhook_policies(project.project_id, limit=MAX_POLICIES)
    page, total = _page([p for p in policies if _matches(p, params)], params)
    return jsonify([policy_json(p) for p in page]), 200, paging_headers(total, params)


@bp.post("/policies")
@require_project(RESOURCE, "create")
def create_policy(project: Project):
    body = json_body(POLICY_FIELDS, allow_unknown=ECHOED_POLICY_FIELDS)
    name = _name(body)
    with _conflict(name, project):
        policy = jobs.client().create_webhook_policy(
            project_id=project.project_id,
            name=name,
            description=get_str(body, "description", max_length=MAX_DESCRIPTION, default=""),
            targets=_targets(body.get("targets")),
            event_types=_event_types(body.get("event_types")),
            enabled=get_bool(body, "enabled", True),
            secret=_secret(body) or "",
            creator=current_security().username or "",
        )
    jobs.record("create", AUDIT_TYPE, policy.name, project_id=project.project_id)
    return created(f"{request.path.rstrip('/')}/{policy.id}")


@bp.get("/policies/<policy_id>")
@require_project(RESOURCE, "read")
def get_policy(project: Project, policy_id: str):
    return jsonify(policy_json(_load_policy(project, policy_id)))


@bp.put("/policies/<policy_id>")
@require_project(RESOURCE, "update")
def update_policy(project: Project, policy_id: str):
    current = _load_policy(project, policy_id)
    body = json_body(POLICY_FIELDS, allow_unknown=ECHOED_POLICY_FIELDS)
    name = _name(body)
    with _conflict(name, project):
        policy = jobs.client().update_webhook_policy(
            current.id,
            name=name,
            # Fields a client leaves out keep their value rather than fall to a zero value.
            description=get_str(body, "description", max_length=MAX_DESCRIPTION, default=current.description),
            targets=_targets(body.get("targets"), current.targets),
            event_types=_event_types(body.get("event_types")),
            enabled=get_bool(body, "enabled", current.enabled),
            secret=_secret(body),
        )
    if policy is None:  # deleted meanwhile
        raise _not_found("webhook policy", policy_id)
    jobs.record("update", AUDIT_TYPE, policy.name, project_id=project.project_id)
    return ok()


@bp.delete("/policies/<policy_id>")
@require_project(RESOURCE, "delete")
def delete_policy(project: Project, policy_id: str):
    policy = _load_policy(project, policy_id)
    if not jobs.client().delete_webhook_policy(policy.id):
        raise _not_found("webhook policy", policy_id)
    jobs.record("delete", AUDIT_TYPE, policy.name, project_id=project.project_id)
    return ok()


# ------------------------------------------------------------------------------------ deliveries


@bp.get("/policies/<policy_id>/executions")
@require_project(RESOURCE, "list")
def list_executions(project: Project, policy_id: str):
    policy = _load_policy(project, policy_id)
    params = parse_list_params({}, jobs.EXECUTION_SORTABLE)
    executions, total = jobs.execution_page(VENDOR_TYPE, policy.id, params)
    return jsonify([execution_json(e) for e in executions]), 200, paging_headers(total, params)


@bp.get("/policies/<policy_id>/executions/<execution_id>/tasks")
@require_project(RESOURCE, "list")
def list_tasks(project: Project, policy_id: str, execution_id: str):
    execution = _load_execution(_load_policy(project, policy_id), execution_id)
    params = parse_list_params({}, TASK_SORTABLE)
    page, total = _page(jobs.client().tasks(execution.id), params)
    return jsonify([task_json(t) for t in page]), 200, paging_headers(total, params)


@bp.get("/policies/<policy_id>/executions/<execution_id>/tasks/<task_id>/log")
@require_project(RESOURCE, "read")
def task_log(project: Project, policy_id: str, execution_id: str, task_id: str):
    execution = _load_execution(_load_policy(project, policy_id), execution_id)
    client = jobs.client()
    task = client.task(path_id(task_id, "task_id"))
    if task is None or task.execution_id != execution.id:
        raise _not_found("task", task_id)
    return Response(client.task_log(task.id) or "", mimetype="text/plain")


@bp.get("/lasttrigger")
@require_project(RESOURCE, "read")
def last_trigger(project: Project):
    return jsonify(
        [
            {
                "policy_name": t.policy_name,
                "event_type": t.event_type,
                "enabled": t.enabled,
                "creation_time": harbor_time(t.creation_time),
                "last_trigger_time": harbor_time(t.last_trigger_time),
            }
            for t in jobs.client().webhook_last_triggers(project.project_id)
        ]
    )


@bp.get("/events")
@require_project(RESOURCE, "read")
def supported_events(project: Project):
    formats = list(webhook_rules.PAYLOAD_FORMATS)
    return jsonify(
        {
            "event_type": list(webhook_rules.EVENT_TYPES),
            "notify_type": list(webhook_rules.TARGET_TYPES),
            "payload_formats": [{"notify_type": kind, "formats": formats} for kind in webhook_rules.TARGET_TYPES],
        }
    )
