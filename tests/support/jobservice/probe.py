"""A job type made for tests: records every run in ``probe_runs`` and behaves as parameters say.

Parameters: ``label`` (required), ``steps`` × ``step_seconds`` of work (checking ``ctx.stopped()``
and reporting progress between steps), ``fail_runs`` (the first N runs raise RuntimeError).
Each run inserts a row (pid, attempt, started_at) and ends it with outcome done | failed | stopped,
so tests can count completed runs and check that runs never overlapped.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from berth_jobservice.jobs.base import Job, JobContext, JobParameterError

PROBE_TABLE = """
CREATE TABLE IF NOT EXISTS probe_runs (
    id          bigserial PRIMARY KEY,
    task_id     bigint NOT NULL,
    job_type    text NOT NULL,
    label       text NOT NULL,
    attempt     integer NOT NULL,
    pid         integer NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at timestamptz,
    outcome     text
)
"""


class ProbeJob(Job):
    def __init__(self, name: str, *, max_fails: int = 1, max_concurrency: int = 0, retry: bool = True) -> None:
        self.name = name
        self.max_fails = max_fails
        self.max_concurrency = max_concurrency
        self.retry = retry

    def validate(self, params: Mapping[str, Any]) -> None:
        if not isinstance(params.get("label"), str):
            raise JobParameterError("label is required")

    def should_retry(self, error: Exception) -> bool:
        return self.retry

    def run(self, ctx: JobContext, params: Mapping[str, Any]) -> None:
        with ctx.db.transaction() as cur:
            cur.execute(
                "INSERT INTO probe_runs (task_id, job_type, label, attempt, pid) VALUES (%s, %s, %s, %s, %s) RETURNING id",
                (ctx.task_id, ctx.job_type, params["label"], ctx.attempt, os.getpid()),
            )
            run_id = cur.fetchone()[0]
        ctx.log.info("probe started", label=params["label"])
        steps = int(params.get("steps", 0))
        for step in range(steps):
            if ctx.stopped():
                self._end(ctx, run_id, "stopped")
                ctx.log.info("probe stopping early", step=step)
                return
            time.sleep(float(params.get("step_seconds", 0.05)))
            ctx.progress((step + 1) * 100 // steps, f"step {step + 1} of {steps}")
        if ctx.attempt <= int(params.get("fail_runs", 0)):
            self._end(ctx, run_id, "failed")
            raise RuntimeError(f"probe failure on run {ctx.attempt}")
        self._end(ctx, run_id, "done")

    @staticmethod
    def _end(ctx: JobContext, run_id: int, outcome: str) -> None:
        with ctx.db.transaction() as cur:
            cur.execute("UPDATE probe_runs SET finished_at = clock_timestamp(), outcome = %s WHERE id = %s", (outcome, run_id))


def probe_jobs() -> list[Job]:
    """The probe types the tests use: plain, singleton, flaky (3 runs), never-retried."""
    return [
        ProbeJob("T_PROBE"),
        ProbeJob("T_SINGLE", max_concurrency=1),
        ProbeJob("T_FLAKY", max_fails=3),
        ProbeJob("T_FATAL", max_fails=3, retry=False),
    ]
