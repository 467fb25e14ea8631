"""A real jobservice process for the multi-process tests: berth_jobservice.main.run with the
built-in job types plus the probe types, configured from JOBSERVICE_* like production."""

from __future__ import annotations

import sys

from jobservice_probe import probe_jobs

from berth_common.logging import configure
from berth_jobservice.jobs import default_registry
from berth_jobservice.main import run
from berth_jobservice.settings import JobserviceSettings

if __name__ == "__main__":
    settings = JobserviceSettings.from_env()
    configure("jobservice", settings.log_level)
    sys.exit(run(settings, default_registry(settings, extra=probe_jobs())))
