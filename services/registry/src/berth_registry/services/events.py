"""Push, pull and delete events: outbox rows shaped like Harbor's webhook payload, and audit rows.

Push and delete events are written by the service that makes the change, in its transaction
(ARCHITECTURE decision 6). Pulls must not write on the request path: ``PullRecorder`` buffers
them in the process and a background thread writes each batch in one transaction (pull times,
pull counts, outbox and audit rows) every ``pull_flush_seconds`` and at exit. Harbor's
``pull_time_update_disable``, ``pull_count_update_disable`` and ``pull_audit_log_disable``
configurations turn the first two and the audit rows off. Every audit row goes through
:func:`write_audit`, which applies Harbor's audit switches (:mod:`berth_common.audit`).
"""

from __future__ import annotations

import atexit
import dataclasses
import datetime as dt
import os
import threading
from typing import Any

import structlog

from berth_common import audit
from berth_common.audit import AuditPolicy
from berth_registry.db import artifacts, outbox, projects, repositories, tags
from berth_registry.db.outbox import AuditRecord, OutboxEvent
from berth_registry.db.projects import Project
from berth_registry.db.repositories import Repository

log = structlog.get_logger(__name__)

PUSH_ARTIFACT = "PUSH_ARTIFACT"
PULL_ARTIFACT = "PULL_ARTIFACT"
DELETE_ARTIFACT = "DELETE_ARTIFACT"
DELETE_TAG = "DELETE_TAG"
# A flush that keeps failing (database down) must not grow memory without bound.
MAX_BUFFERED_PULLS = 100_000
WRITE_CHUNK = 100  # pulls turned into rows between two writes (about a millisecond of work)


@dataclasses.dataclass(frozen=True)
class Actor:
    """Who made the request: the token's subject and the client address the proxy saw."""

    username: str
    client_ip: str


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def resource(repository: str, digest: str, tag: str | None) -> str:
    """Harbor's audit resource: ``repo:tag`` or ``repo@digest``."""
    return f"{repository}:{tag}" if tag else f"{repository}@{digest}"


def artifact_event(
    event_type: str,
    *,
    registry_host: str,
    project: Project,
    repository: Repository,
    digest: str,
    tags_: list[str],
    actor: Actor,
    when: dt.datetime,
) -> OutboxEvent:
    """An outbox row with Harbor's webhook ``event_data`` for one artifact (one resource per tag)."""
    host = f"{registry_host}/" if registry_host else ""
    resources = [
        {"digest": digest, "tag": tag, "resource_url": f"{host}{resource(repository.name, digest, tag)}"} for tag in (tags_ or [""])
    ]
    payload: dict[str, Any] = {
        "type": event_type,
        "occur_at": int(when.timestamp()),
        "operator": actor.username,
        "event_data": {
            "resources": resources,
            "repository": {
                "date_created": int(repository.creation_time.timestamp()),
                "name": repository.name.split("/", 1)[1],
                "namespace": project.name,
                "repo_full_name": repository.name,
                "repo_type": "public" if project.public else "private",
            },
        },
    }
    return OutboxEvent(event_type, repository.name, payload)


def audit_records(
    operation: str,
    *,
    project: Project,
    repository: str,
    digest: str,
    tags_: list[str],
    actor: Actor,
    when: dt.datetime,
    resource_type: str = "artifact",
) -> list[AuditRecord]:
    """One audit row per tag (or one for the digest when there is no tag)."""
    return [
        AuditRecord(project.project_id, operation, resource_type, resource(repository, digest, tag), actor.username, actor.client_ip, when)
        for tag in (tags_ or [None])
    ]


def write_audit(cur: Any, records: list[AuditRecord], policy: AuditPolicy | None = None) -> None:
    """Write ``records`` as the audit switches say: dropped when their event type is disabled,
    queued in the outbox for the forwarder when an endpoint is set, stored unless skipped."""
    policy = policy or audit.read_policy(cur)
    kept = [r for r in records if policy.records(r.operation, r.resource_type)]
    if policy.forwards:
        outbox.add_events(
            cur,
            (
                OutboxEvent(
                    audit.FORWARD_EVENT,
                    "audit",
                    audit.forward_payload(
                        operation=r.operation,
                        resource_type=r.resource_type,
                        resource=r.resource,
                        username=r.username,
                        client_ip=r.client_ip,
                        op_time=r.op_time,
                        project_id=r.project_id,
                    ),
                )
                for r in kept
            ),
        )
    if policy.stores:
        outbox.add_audit(cur, kept)


@dataclasses.dataclass(frozen=True)
class Pull:
    """One manifest GET, waiting to be written (only ids: names are looked up per batch)."""

    repository_id: int
    artifact_id: int
    digest: str
    tag_id: int | None
    tag: str | None
    actor: Actor
    when: dt.datetime


class PullRecorder:
    """Buffers pulls in memory and writes them in batches from a background thread.

    The thread starts lazily in the process that records the first pull (gunicorn forks workers
    after loading the app, and threads do not survive a fork).
    """

    def __init__(self, db: Any, interval: float, registry_host: str) -> None:
        self.db = db
        self.interval = interval
        self.registry_host = registry_host
        self._pulls: list[Pull] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._pid = 0

    def record(self, pull: Pull) -> None:
        with self._lock:
            if len(self._pulls) >= MAX_BUFFERED_PULLS:
                del self._pulls[0]
            self._pulls.append(pull)
            if self._pid != os.getpid():
                self._start()

    def _start(self) -> None:
        self._pid = os.getpid()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="berth-pull-flusher", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def _run(self) -> None:
        while not self._stopped:
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # noqa: BLE001  (the thread must survive a database outage)
                log.exception("pull_flush_failed")

    def flush(self) -> int:
        """Write everything buffered in one transaction; returns how many pulls were written.

        On failure the batch goes back to the front of the buffer to be retried.
        """
        with self._lock:
            batch, self._pulls = self._pulls, []
        if not batch:
            return 0
        try:
            with self.db.transaction() as cur:
                self._write(cur, batch)
        except BaseException:
            with self._lock:
                self._pulls = (batch + self._pulls)[-MAX_BUFFERED_PULLS:]
            raise
        return len(batch)

    def _write(self, cur: Any, batch: list[Pull]) -> None:
        # Harbor's switches for pull-heavy sites: each turns one kind of per-pull write off. The
        # PULL_ARTIFACT event itself always goes out (webhooks are configured per project).
        switched_off = projects.pull_switches(cur)
        audit_pulls = "pull_audit_log_disable" not in switched_off
        policy = audit.read_policy(cur) if audit_pulls else None
        repos = repositories.get_many(cur, {pull.repository_id for pull in batch})
        owners = projects.get_many(cur, {repo.project_id for repo in repos.values()})
        artifact_times: dict[int, dt.datetime] = {}
        tag_times: dict[int, dt.datetime] = {}
        counts: dict[int, int] = {}
        # In chunks, each written before the next is built: the GIL is free while PostgreSQL takes
        # one, so request threads never wait behind a whole second's worth of pulls (a p99 of ~10 ms
        # at 1 connection when one batch of 3 000 pulls was built in one go).
        for start in range(0, len(batch), WRITE_CHUNK):
            events: list[OutboxEvent] = []
            records: list[AuditRecord] = []
            for pull in batch[start : start + WRITE_CHUNK]:
                repository = repos.get(pull.repository_id)
                project = owners.get(repository.project_id) if repository else None
                if repository is None or project is None:
                    continue  # deleted since the pull; nothing left to account it to
                artifact_times[pull.artifact_id] = max(pull.when, artifact_times.get(pull.artifact_id, pull.when))
                if pull.tag_id is not None:
                    tag_times[pull.tag_id] = max(pull.when, tag_times.get(pull.tag_id, pull.when))
                counts[pull.repository_id] = counts.get(pull.repository_id, 0) + 1
                tag_list = [pull.tag] if pull.tag else []
                events.append(
                    artifact_event(
                        PULL_ARTIFACT,
                        registry_host=self.registry_host,
                        project=project,
                        repository=repository,
                        digest=pull.digest,
                        tags_=tag_list,
                        actor=pull.actor,
                        when=pull.when,
                    )
                )
                if audit_pulls:
                    records.extend(
                        audit_records(
                            "pull",
                            project=project,
                            repository=repository.name,
                            digest=pull.digest,
                            tags_=tag_list,
                            actor=pull.actor,
                            when=pull.when,
                        )
                    )
            outbox.add_events(cur, events)
            if records:
                write_audit(cur, records, policy)
        if "pull_time_update_disable" not in switched_off:
            artifacts.record_pulls(cur, artifact_times)
            tags.record_pulls(cur, tag_times)
        if "pull_count_update_disable" not in switched_off:
            repositories.add_pull_counts(cur, counts)

    def close(self) -> None:
        """Stop the thread and write what is left (registered with atexit)."""
        atexit.unregister(self.close)
        self._stopped = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread() and self._pid == os.getpid():
            thread.join(timeout=5)
        try:
            self.flush()
        except Exception:  # noqa: BLE001  (at exit there is nobody left to tell but the log)
            log.exception("pull_flush_failed_at_exit")
