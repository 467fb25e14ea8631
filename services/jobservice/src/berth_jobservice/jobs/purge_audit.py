"""PURGE_AUDIT_LOG: delete audit records older than a retention, as Harbor's purge-audit job.

Parameters (Harbor's names): ``audit_retention_hour`` (> 0), ``include_operations`` (comma list
of operations such as ``create,delete,pull``; Harbor's older form) and/or
``include_event_types`` (``create_artifact,delete_artifact,pull_artifact``; Harbor's newer
form: operation_resourcetype), ``dry_run``. Nothing is purged when both lists are empty, as in
Harbor. Rows go in batches of 10,000, each its own transaction, checking for a stop between them.
The count (would-be count on a dry run) lands in the execution's extra_attrs as ``purged``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from berth_common import audit
from berth_jobservice.db import audit_logs as audit_db
from berth_jobservice.jobs.base import Job, JobContext, JobParameterError

BATCH = 10_000


def _names(value: Any, key: str) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part.strip().lower() for part in value.split(",") if part.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip().lower() for v in value if v.strip()]
    raise JobParameterError(f"{key} must be a comma-separated string")


class PurgeAuditLogJob(Job):
    name = "PURGE_AUDIT_LOG"
    max_fails = 1
    max_concurrency = 1

    def validate(self, params: Mapping[str, Any]) -> None:
        hours = params.get("audit_retention_hour")
        if not isinstance(hours, int) or isinstance(hours, bool) or hours <= 0:
            raise JobParameterError("audit_retention_hour must be a positive integer")
        if not isinstance(params.get("dry_run", False), bool):
            raise JobParameterError("dry_run must be true or false")
        _names(params.get("include_operations"), "include_operations")
        _names(params.get("include_event_types"), "include_event_types")

    def should_retry(self, error: Exception) -> bool:
        return False

    def run(self, ctx: JobContext, params: Mapping[str, Any]) -> None:
        hours = params["audit_retention_hour"]
        operations = _names(params.get("include_operations"), "include_operations")
        event_types = _names(params.get("include_event_types"), "include_event_types")
        dry_run = params.get("dry_run", False)
        # Harbor's event type of a push is create_artifact; the rows say "push".
        criteria = {"hours": hours, "operations": operations, "event_types": audit.spellings(event_types)}
        ctx.log.info(
            "purge audit log",
            retention_hours=hours,
            operations=",".join(operations) or "-",
            event_types=",".join(event_types) or "-",
            dry_run=dry_run,
        )
        if not operations and not event_types:
            ctx.log.info("no operation or event type included: nothing to purge")
            ctx.set_result(purged=0, dry_run=dry_run)
            return
        with ctx.db.transaction() as cur:
            total = audit_db.count_older_than(cur, **criteria)
        if dry_run:
            ctx.log.info(f"dry run: {total} records would be purged")
            ctx.set_result(purged=total, dry_run=True)
            return
        purged = 0
        while not ctx.stopped():
            with ctx.db.transaction() as cur:
                deleted = audit_db.delete_batch_older_than(cur, batch=BATCH, **criteria)
            purged += deleted
            ctx.progress(100 if total == 0 else min(99, purged * 100 // total), f"{purged} of {total} records purged")
            if deleted < BATCH:
                break
        ctx.log.info(f"{purged} records purged")
        ctx.set_result(purged=purged, dry_run=False)
