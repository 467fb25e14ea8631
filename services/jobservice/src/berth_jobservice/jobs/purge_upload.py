"""PURGE_UPLOAD: remove abandoned blob upload sessions, as distribution's upload purging does.

A session is abandoned when its row has not changed for ``age_hours`` (``upload_purging_age_hours``)
and no registry request holds its writer lease. The row goes first (in its own transaction, so
no registry process can continue the session), then its storage directory. A second pass lists
the storage's uploads directory for directories without a row (left behind by a crash between
those two steps, or by a registry that died before writing its row) and removes those older than
the same age. A third pass removes files older than that age from nginx's upload spool folder
(bodies of large uploads nginx was writing when it crashed; a live one is seconds old). Runs
every ``upload_purging_interval_hours`` from a schedule the jobservice keeps.
Parameters: ``age_hours`` (≥ 1), ``dry_run``.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from berth_jobservice.db import uploads as uploads_db
from berth_jobservice.jobs.base import Job, JobContext, JobParameterError
from berth_registry.storage import paths
from berth_registry.storage.base import PathNotFound, StorageDriver, StorageError

BATCH = 500


class PurgeUploadJob(Job):
    name = "PURGE_UPLOAD"
    max_fails = 1
    max_concurrency = 1

    def __init__(self, storage: Callable[[], StorageDriver], spool_dir: str = "") -> None:
        # A factory, not a driver: the storage client is built in the worker that runs the job.
        self._storage = storage
        self._spool_dir = spool_dir

    def validate(self, params: Mapping[str, Any]) -> None:
        age = params.get("age_hours")
        if not isinstance(age, int) or isinstance(age, bool) or age < 1:
            raise JobParameterError("age_hours must be an integer of at least 1")
        if not isinstance(params.get("dry_run", False), bool):
            raise JobParameterError("dry_run must be true or false")

    def should_retry(self, error: Exception) -> bool:
        return False

    def run(self, ctx: JobContext, params: Mapping[str, Any]) -> None:
        age_hours = params["age_hours"]
        dry_run = params.get("dry_run", False)
        storage = self._storage()
        ctx.log.info("purge abandoned uploads", age_hours=age_hours, dry_run=dry_run)
        if dry_run:
            with ctx.db.transaction() as cur:
                sessions = uploads_db.count_stale(cur, older_than_hours=age_hours)
            orphans = self._orphans(ctx, storage, age_hours)
            spooled = stale_spool_files(self._spool_dir, age_hours)
            ctx.log.info(
                f"dry run: {sessions} sessions, {len(orphans)} orphaned directories and {len(spooled)} spool files would be removed"
            )
            ctx.set_result(purged_sessions=sessions, purged_orphans=len(orphans), purged_spool_files=len(spooled), dry_run=True)
            return

        sessions = 0
        while not ctx.stopped():
            with ctx.db.transaction() as cur:
                upload_ids = uploads_db.delete_stale(cur, older_than_hours=age_hours, limit=BATCH)
            for upload_id in upload_ids:
                self._remove(ctx, storage, upload_id)
            sessions += len(upload_ids)
            if len(upload_ids) < BATCH:
                break
        ctx.progress(50, f"{sessions} sessions removed")
        orphans = 0
        for upload_id in self._orphans(ctx, storage, age_hours):
            if ctx.stopped():
                break
            self._remove(ctx, storage, upload_id)
            orphans += 1
        spooled = 0
        for path in stale_spool_files(self._spool_dir, age_hours):
            try:
                path.unlink()
                spooled += 1
            except FileNotFoundError:
                pass  # nginx cleaned it up meanwhile
        ctx.log.info(f"{sessions} sessions, {orphans} orphaned directories and {spooled} spool files removed")
        ctx.set_result(purged_sessions=sessions, purged_orphans=orphans, purged_spool_files=spooled, dry_run=False)

    def _remove(self, ctx: JobContext, storage: StorageDriver, upload_id: str) -> None:
        try:
            storage.delete(paths.upload_dir(upload_id))
            ctx.log.info(f"removed upload {upload_id}")
        except PathNotFound:
            ctx.log.info(f"removed upload {upload_id} (no bytes were stored)")

    def _orphans(self, ctx: JobContext, storage: StorageDriver, age_hours: int) -> list[str]:
        """Upload directories in storage without a session row, older than ``age_hours``."""
        try:
            children = storage.list(paths.UPLOADS)
        except PathNotFound:
            return []
        candidates: dict[str, dt.datetime] = {}
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(hours=age_hours)
        for child in children:
            upload_id = child.rstrip("/").rsplit("/", 1)[-1]
            try:
                paths.upload_dir(upload_id)  # ignore anything that is not a session directory
            except ValueError:
                continue
            modified = self._age_marker(storage, upload_id)
            if modified is not None and modified < cutoff:
                candidates[upload_id] = modified
        if not candidates:
            return []
        with ctx.db.transaction() as cur:
            live = uploads_db.existing(cur, list(candidates))
        return sorted(set(candidates) - live)

    @staticmethod
    def _age_marker(storage: StorageDriver, upload_id: str) -> dt.datetime | None:
        """When the session last changed: the newest time of startedat, data and the directory.

        An orphan has no row, so nothing can continue it; the age only protects a session whose
        directory was created a moment before its row.
        """
        times = []
        for path in (paths.upload_started_at(upload_id), paths.upload_data(upload_id), paths.upload_dir(upload_id)):
            try:
                stamp = storage.stat(path).mod_time
            except StorageError:
                continue
            times.append(stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC))
        return max(times) if times else None


def stale_spool_files(spool_dir: str, age_hours: int) -> list[Path]:
    """Regular files directly in ``spool_dir`` not modified for ``age_hours`` (symlinks and
    folders are never touched); an empty or missing folder gives nothing."""
    if not spool_dir:
        return []
    cutoff = time.time() - age_hours * 3600
    stale = []
    try:
        entries = list(os.scandir(spool_dir))
    except FileNotFoundError:
        return []
    for entry in entries:
        info = entry.stat(follow_symlinks=False)
        if stat.S_ISREG(info.st_mode) and info.st_mtime < cutoff:
            stale.append(Path(entry.path))
    return sorted(stale)
