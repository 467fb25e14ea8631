"""A real jobservice process for the multi-process tests: berth_jobservice.main.run with the
built-in job types plus the probe types, configured from JOBSERVICE_* like production."""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script: make the tests' shared `support` package importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from berth_common.logging import configure  # noqa: E402
from berth_jobservice.jobs import default_registry  # noqa: E402
from berth_jobservice.main import run  # noqa: E402
from berth_jobservice.settings import JobserviceSettings  # noqa: E402
from support.jobservice.probe import probe_jobs  # noqa: E402

if __name__ == "__main__":
    settings = JobserviceSettings.from_env()
    configure("jobservice", settings.log_level)
    sys.exit(run(settings, default_registry(settings, extra=probe_jobs())))
