"""Job types of Berth and the registry a jobservice process (and core's client) uses.

Harbor's built-in types land here as they are built (replication, GC, retention, scans).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from berth_jobservice.jobs.base import Job, JobRegistry
from berth_jobservice.jobs.purge_audit import PurgeAuditLogJob
from berth_jobservice.jobs.purge_upload import PurgeUploadJob
from berth_jobservice.jobs.webhook import WebhookJob
from berth_jobservice.settings import JobserviceSettings
from berth_registry.storage.base import StorageDriver


def default_registry(
    settings: JobserviceSettings,
    *,
    storage: Callable[[], StorageDriver] | None = None,
    extra: Iterable[Job] = (),
) -> JobRegistry:
    """Every built-in job type configured from ``settings``, plus ``extra`` ones.

    ``storage`` builds the registry's storage driver for PURGE_UPLOAD (default: from the
    registry's REGISTRY_STORAGE_* environment, read when the job first runs).
    """
    if storage is None:
        from berth_jobservice import storage as storage_module

        storage = storage_module.from_environment

    return JobRegistry(
        [
            WebhookJob(max_fails=settings.webhook_job_max_retry, timeout_seconds=settings.webhook_job_http_client_timeout),
            PurgeAuditLogJob(),
            PurgeUploadJob(storage, spool_dir=settings.upload_spool_dir),
            *extra,
        ]
    )
