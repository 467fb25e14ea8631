"""Core's door to the jobservice: one JobClient per process, its errors in core's terms, audit.

Core drives jobs in-process through :class:`berth_jobservice.client.JobClient`: rows in
PostgreSQL first, then a confirmed message on RabbitMQ; there is no HTTP hop to the jobservice.

* **One client per process, made on first use.** gunicorn preloads the app in its master and
  forks the workers; an AMQP connection must never be shared across that fork. ``create_app``
  therefore only builds a :class:`Jobs` holder; the client (and, on its first publish, its
  connection) is created by the first request of each process. A holder that finds a client made
  by another process (the pid changed) leaves it alone and builds its own.
* **Errors.** Invalid job input raises ``JobParameterError`` inside the jobservice's rules (an
  unknown event type, a bad cron, a negative retention); ``init_app`` registers the one handler
  that answers it as a 400 in the error envelope. A webhook policy name taken in its project
  (a unique violation) becomes a 409 in :func:`conflict_as_409`.
* **Audit.** JobClient commits each change in its own transaction, so the audit entry of an
  operation is written by :func:`record` right after the change succeeded, in a second short
  transaction: an entry never describes a change that did not happen.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

import psycopg2.errors
from flask import Flask, Response, current_app

from berth_common.db import Database
from berth_common.errors import envelope_response
from berth_common.web import client_address
from berth_core import errors
from berth_core.api.query import ListParams
from berth_core.errors import APIError
from berth_core.services import audit
from berth_core.services.security import current_security
from berth_core.settings import CoreSettings
from berth_jobservice.client import JobClient
from berth_jobservice.db.executions import Execution
from berth_jobservice.jobs.base import JobParameterError

_EXTENSION = "berth.jobs"


class Jobs:
    """Holds this process's JobClient, created lazily (see the module docstring)."""

    def __init__(self, db: Database, rabbitmq_url: str, amqp_prefix: str) -> None:
        self._db = db
        self._rabbitmq_url = rabbitmq_url
        self._amqp_prefix = amqp_prefix
        self._lock = threading.Lock()
        self._client: JobClient | None = None
        self._pid: int | None = None

    @property
    def client(self) -> JobClient:
        with self._lock:
            if self._client is None or self._pid != os.getpid():
                # An inherited client is dropped without close(): closing would talk on the
                # parent's socket. Its publisher opens no connection before its first publish.
                self._client = JobClient.create(self._db, rabbitmq_url=self._rabbitmq_url, amqp_prefix=self._amqp_prefix)
                self._pid = os.getpid()
            return self._client

    def close(self) -> None:
        """Close this process's client (its AMQP connection); a later use makes a new one."""
        with self._lock:
            if self._client is not None and self._pid == os.getpid():
                self._client.close()
            self._client = None


def init_app(app: Flask, settings: CoreSettings, db: Database) -> None:
    """Hang the holder on the app and answer JobParameterError as a 400."""
    app.extensions[_EXTENSION] = Jobs(db, settings.rabbitmq_url, settings.amqp_prefix)
    app.register_error_handler(JobParameterError, _parameter_error)


def _parameter_error(exc: JobParameterError) -> Response:
    return envelope_response([APIError(errors.BAD_REQUEST, str(exc))])


def client() -> JobClient:
    """The JobClient of this process (for the current app)."""
    return current_app.extensions[_EXTENSION].client


@contextlib.contextmanager
def conflict_as_409(message: str) -> Iterator[None]:
    """Turn a unique violation raised in the block (a name already taken) into a 409."""
    try:
        yield
    except psycopg2.errors.UniqueViolation:
        raise APIError(errors.CONFLICT, message) from None


def record(operation: str, resource_type: str, resource: str, *, project_id: int | None = None, description: str = "") -> None:
    """Audit an operation the current caller just completed (see the module docstring)."""
    with current_app.extensions["berth.db"].transaction() as cur:
        audit.record_change(
            cur, current_security(), operation, resource_type, resource,
            project_id=project_id, client_ip=client_address() or "", description=description,
        )  # fmt: skip


# ------------------------------------------------------------------------------------ executions

# Executions are stored newest first (start time, then id); sorting by id, start or creation time
# is that one order, read forwards or backwards.
EXECUTION_SORTABLE = ("id", "start_time", "creation_time")


def execution_page(vendor_type: str, vendor_id: int | None, params: ListParams) -> tuple[list[Execution], int]:
    """A page of a vendor's executions in the order ``params.sort`` asks for, and the total.

    Raises a 400 APIError for a sort over more than one key (they all name the same order).
    """
    if len(params.sort) > 1:
        raise APIError(errors.BAD_REQUEST, f"executions sort by one key of {', '.join(EXECUTION_SORTABLE)}")
    descending = not params.sort or params.sort[0].descending
    jobs = client()
    if descending:
        return jobs.executions(vendor_type, vendor_id, limit=params.limit, offset=params.offset)
    # Ascending page [offset, offset + limit) is the descending slice counted from the other end.
    _, total = jobs.executions(vendor_type, vendor_id, limit=0)
    end = total - params.offset
    if end <= 0:
        return [], total
    start = max(0, end - params.limit)
    page, total = jobs.executions(vendor_type, vendor_id, limit=end - start, offset=start)
    return list(reversed(page)), total
