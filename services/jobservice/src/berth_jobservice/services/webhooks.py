"""Webhooks: policy rules, Harbor's two payload formats, signatures, and event → WEBHOOK jobs.

Formats (Harbor's ``src/pkg/notifier/formats``):

* ``Default``: the event's Harbor payload as is, ``{type, occur_at, operator, event_data}``,
  ``Content-Type: application/json``.
* ``CloudEvents``: structured-mode CloudEvents 1.0 JSON, ``Content-Type:
  application/cloudevents+json``, with Harbor's type names (``harbor.artifact.pushed``...), source
  ``/projects/<id>/webhook/policies/<id>``, the event data as ``data`` and the ``operator`` and
  ``requestid`` extensions. The ``id`` is derived from (event id, policy id), so every retry of
  one delivery carries the same id and receivers can deduplicate.

Every delivery is signed when the policy has a secret: ``X-Berth-Signature: sha256=<hex>`` is the
HMAC-SHA256 of the exact body bytes with the secret (compare it in constant time). Deliveries
also carry ``X-Berth-Delivery`` (the task's job id, the same on retries) and
``X-Berth-Event-Type``.

Dispatch: for each event from ``<prefix>.events`` the project's enabled policies subscribed to
its type each get one execution (vendor WEBHOOK, vendor id = policy id, trigger EVENT) with one
WEBHOOK task per target. ``dedup_key = event:<event id>`` makes a redelivered event a no-op.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import structlog

from berth_common.db import Database
from berth_jobservice.db import executions as executions_db
from berth_jobservice.db import projects as projects_db
from berth_jobservice.db import webhook_policies as policies_db
from berth_jobservice.db.tasks import Task
from berth_jobservice.db.webhook_policies import WebhookPolicy
from berth_jobservice.jobs.base import JobParameterError, JobRegistry
from berth_jobservice.runtime.amqp import Publisher
from berth_jobservice.services import jobs as job_service

log = structlog.get_logger(__name__)

WEBHOOK_JOB_TYPE = "WEBHOOK"
SIGNATURE_HEADER = "X-Berth-Signature"
DELIVERY_HEADER = "X-Berth-Delivery"
EVENT_TYPE_HEADER = "X-Berth-Event-Type"
PAYLOAD_FORMATS = ("Default", "CloudEvents")
TARGET_TYPES = ("http",)

# Harbor's user-facing webhook event types and their CloudEvents names.
CLOUDEVENT_TYPES: dict[str, str] = {
    "PUSH_ARTIFACT": "harbor.artifact.pushed",
    "PULL_ARTIFACT": "harbor.artifact.pulled",
    "DELETE_ARTIFACT": "harbor.artifact.deleted",
    "QUOTA_EXCEED": "harbor.quota.exceeded",
    "QUOTA_WARNING": "harbor.quota.warned",
    "REPLICATION": "harbor.replication.status.changed",
    "TAG_RETENTION": "harbor.tag_retention.finished",
    "SCANNING_COMPLETED": "harbor.scan.completed",
    "SCANNING_FAILED": "harbor.scan.failed",
    "SCANNING_STOPPED": "harbor.scan.stopped",
}
EVENT_TYPES = tuple(CLOUDEVENT_TYPES)
_CLOUDEVENT_NAMESPACE = uuid.UUID("6f1c3f0e-7a55-4f4e-9a52-62657274682e")


# ------------------------------------------------------------------------------ payloads


def default_payload(event_type: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Harbor's default payload for an outbox event payload (already Harbor-shaped by producers)."""
    return {
        "type": payload.get("type") or event_type,
        "occur_at": payload.get("occur_at") or int(dt.datetime.now(dt.UTC).timestamp()),
        "operator": payload.get("operator", ""),
        "event_data": payload.get("event_data", {}),
    }


def render(
    payload_format: str,
    payload: Mapping[str, Any],
    *,
    event_id: int,
    project_id: int,
    policy_id: int,
    request_id: str = "",
) -> tuple[dict[str, str], bytes]:
    """(headers, body) of one delivery in ``payload_format``; raises JobParameterError."""
    if payload_format in ("", "Default"):
        return {"Content-Type": "application/json"}, json.dumps(payload, separators=(",", ":")).encode()
    if payload_format != "CloudEvents":
        raise JobParameterError(f"payload_format must be one of {', '.join(PAYLOAD_FORMATS)}")
    event_type = payload.get("type", "")
    ce_type = CLOUDEVENT_TYPES.get(event_type)
    if ce_type is None:
        raise JobParameterError(f"event type {event_type!r} has no CloudEvents form")
    occur_at = payload.get("occur_at") or 0
    body = {
        "specversion": "1.0",
        "id": str(uuid.uuid5(_CLOUDEVENT_NAMESPACE, f"{event_id}:{policy_id}")),
        "requestid": request_id,
        "source": f"/projects/{project_id}/webhook/policies/{policy_id}",
        "type": ce_type,
        "datacontenttype": "application/json",
        "time": dt.datetime.fromtimestamp(int(occur_at), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": payload.get("event_data", {}),
        "operator": payload.get("operator", ""),
    }
    return {"Content-Type": "application/cloudevents+json"}, json.dumps(body, separators=(",", ":")).encode()


def sign(secret: str, body: bytes) -> str:
    """The value of the signature header: ``sha256=`` + hex HMAC-SHA256 of ``body`` keyed by ``secret``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header_value: str) -> bool:
    """Whether ``header_value`` is the signature of ``body`` (constant-time), for receivers and tests."""
    return hmac.compare_digest(sign(secret, body), header_value or "")


# ------------------------------------------------------------------------------ policies


def validate_policy(*, name: str, targets: list[Mapping[str, Any]], event_types: list[str]) -> list[dict[str, Any]]:
    """Check a policy's fields as Harbor does; returns the targets normalised. Raises JobParameterError."""
    if not name or not name.strip():
        raise JobParameterError("name is required")
    if not targets:
        raise JobParameterError("at least one target is required")
    if not event_types:
        raise JobParameterError("at least one event type is required")
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown:
        raise JobParameterError(f"unsupported event types {', '.join(unknown)}; supported: {', '.join(EVENT_TYPES)}")
    normalised = []
    for target in targets:
        kind = target.get("type") or "http"
        if kind not in TARGET_TYPES:
            raise JobParameterError(f"target type {kind!r} is not supported (only http)")
        address = str(target.get("address") or "")
        parts = urlsplit(address)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise JobParameterError(f"target address {address!r} must be an http(s) URL")
        payload_format = target.get("payload_format") or "Default"
        if payload_format not in PAYLOAD_FORMATS:
            raise JobParameterError(f"payload_format must be one of {', '.join(PAYLOAD_FORMATS)}")
        normalised.append(
            {
                "type": kind,
                "address": address,
                "auth_header": str(target.get("auth_header") or ""),
                "skip_cert_verify": bool(target.get("skip_cert_verify", False)),
                "payload_format": payload_format,
            }
        )
    return normalised


def create_policy(
    db: Database,
    *,
    project_id: int,
    name: str,
    targets: list[Mapping[str, Any]],
    event_types: list[str],
    description: str = "",
    secret: str = "",
    creator: str = "",
    enabled: bool = True,
) -> WebhookPolicy:
    """Validate and store a policy; raises JobParameterError (psycopg2 UniqueViolation for a taken name)."""
    normalised = validate_policy(name=name, targets=targets, event_types=event_types)
    with db.transaction() as cur:
        return policies_db.insert(
            cur,
            name=name.strip(),
            project_id=project_id,
            targets=normalised,
            event_types=list(dict.fromkeys(event_types)),
            description=description,
            secret=secret,
            creator=creator,
            enabled=enabled,
        )


def update_policy(
    db: Database,
    policy_id: int,
    *,
    name: str,
    targets: list[Mapping[str, Any]],
    event_types: list[str],
    description: str = "",
    enabled: bool = True,
    secret: str | None = None,
) -> WebhookPolicy | None:
    """Validate and replace a policy's fields (``secret=None`` keeps it); None for an unknown id."""
    normalised = validate_policy(name=name, targets=targets, event_types=event_types)
    with db.transaction() as cur:
        return policies_db.update(
            cur,
            policy_id,
            name=name.strip(),
            description=description,
            targets=normalised,
            event_types=list(dict.fromkeys(event_types)),
            enabled=enabled,
            secret=secret,
        )


@dataclasses.dataclass(frozen=True)
class LastTrigger:
    """Harbor's WebhookLastTrigger: per policy and event type, when it last fired."""

    policy_name: str
    event_type: str
    enabled: bool
    creation_time: dt.datetime
    last_trigger_time: dt.datetime | None


def last_triggers(db: Database, project_id: int) -> list[LastTrigger]:
    with db.transaction() as cur:
        policies = policies_db.list_for_project(cur, project_id, limit=10000)
        fired = executions_db.last_per_event_type(cur, WEBHOOK_JOB_TYPE, [p.id for p in policies])
    return [
        LastTrigger(p.name, event_type, p.enabled, p.creation_time, fired.get((p.id, event_type)))
        for p in policies
        for event_type in p.event_types
    ]


# ------------------------------------------------------------------------------ dispatch


def project_of(cur: Any, payload: Mapping[str, Any]) -> int | None:
    """The project an event belongs to: ``project_id`` if given, else the repository's namespace."""
    project_id = payload.get("project_id")
    if isinstance(project_id, int) and not isinstance(project_id, bool):
        return project_id
    namespace = _namespace(payload)
    return projects_db.id_by_name(cur, namespace) if namespace else None


@dataclasses.dataclass(frozen=True)
class Subscriptions:
    """Which projects have an enabled policy for which event types, read once for a batch of events.

    Most events (every pull, in particular) match no policy; checking them against this snapshot
    costs no database round trip. An event that may match goes through :func:`dispatch`'s own
    queries, which decide.
    """

    event_types: dict[int, frozenset[str]]
    project_ids: dict[str, int]

    @classmethod
    def read(cls, db: Database) -> Subscriptions:
        event_types: dict[int, set[str]] = {}
        project_ids: dict[str, int] = {}
        with db.transaction() as cur:
            if not policies_db.notifications_enabled(cur):
                return cls({}, {})  # webhooks are off system-wide: nothing matches
            for project_id, project_name, types in policies_db.subscriptions(cur):
                event_types.setdefault(project_id, set()).update(types)
                project_ids[project_name] = project_id
        return cls({k: frozenset(v) for k, v in event_types.items()}, project_ids)

    def may_match(self, event_type: str, payload: Mapping[str, Any]) -> bool:
        project_id = payload.get("project_id")
        if not isinstance(project_id, int) or isinstance(project_id, bool):
            project_id = self.project_ids.get(_namespace(payload))
        return project_id is not None and event_type in self.event_types.get(project_id, ())


def _namespace(payload: Mapping[str, Any]) -> str:
    repository = (payload.get("event_data") or {}).get("repository") or {}
    return repository.get("namespace") or (repository.get("repo_full_name") or "").partition("/")[0]


def envelopes(body: bytes) -> list[dict[str, Any]]:
    """The outbox events in a message from the relay: ``{"events": [...]}``, or one bare envelope.

    Raises ValueError (UnicodeDecodeError is one) unless every event has an integer event_id, a
    string event_type and an object payload; such a message is dead-lettered whole.
    """
    data = json.loads(body)
    events = data.get("events") if isinstance(data, dict) and "events" in data else [data]
    if not isinstance(events, list) or not events:
        raise ValueError("no events")
    for event in events:
        if not (
            isinstance(event, dict)
            and isinstance(event.get("event_id"), int)
            and isinstance(event.get("event_type"), str)
            and isinstance(event.get("payload"), dict)
        ):
            raise ValueError("not an outbox event envelope")
    return events


def dispatch(
    db: Database,
    publisher: Publisher,
    registry: JobRegistry,
    envelope: Mapping[str, Any],
    subscribed: Subscriptions | None = None,
) -> list[Task]:
    """Turn one relayed event into WEBHOOK jobs for every matching policy; returns the new tasks.

    ``subscribed``, when given, is a recent snapshot that lets an event no policy wants end here.
    Raises ValueError for an envelope that is not an outbox event.
    """
    event_id = envelope.get("event_id")
    event_type = envelope.get("event_type")
    payload = envelope.get("payload")
    if not isinstance(event_id, int) or not isinstance(event_type, str) or not isinstance(payload, dict):
        raise ValueError("not an outbox event envelope")
    if event_type not in CLOUDEVENT_TYPES:
        return []
    if subscribed is not None and not subscribed.may_match(event_type, payload):
        return []
    created: list[Task] = []
    with db.transaction() as cur:
        if not policies_db.notifications_enabled(cur):
            return []
        project_id = project_of(cur, payload)
        if project_id is None:
            log.info("webhook_event_without_project", event_id=event_id, event_type=event_type)
            return []
        harbor_payload = default_payload(event_type, payload)
        for policy in policies_db.enabled_for_event(cur, project_id, event_type):
            specs = [
                job_service.TaskSpec(
                    WEBHOOK_JOB_TYPE,
                    {
                        "policy_id": policy.id,
                        "project_id": project_id,
                        "event_id": event_id,
                        "event_type": event_type,
                        "address": target["address"],
                        "payload_format": target.get("payload_format") or "Default",
                        "payload": harbor_payload,
                    },
                )
                for target in policy.targets
            ]
            try:
                submitted = job_service.create_execution(
                    cur,
                    registry,
                    vendor_type=WEBHOOK_JOB_TYPE,
                    vendor_id=policy.id,
                    trigger="EVENT",
                    tasks=specs,
                    extra_attrs={"event_type": event_type, "event_id": event_id, "project_id": project_id},
                    dedup_key=f"event:{event_id}",
                )
            except JobParameterError as exc:
                # One broken policy must not hold back the others (nothing was written for it).
                log.error("webhook_policy_unusable", policy_id=policy.id, error=str(exc))
                continue
            if submitted is not None:
                created.extend(submitted.tasks)
    if created:
        job_service.publish(db, publisher, created)
        log.info("webhook_event_dispatched", event_id=event_id, event_type=event_type, tasks=len(created))
    return created
