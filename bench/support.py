"""The test suite's helpers in tests/support, shared with the benchmark rather than copied.

``stack`` starts Berth exactly as the end-to-end tests do (``berthctl up``); ``images`` writes
the OCI layouts the registry tests push.
"""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from support import images, stack  # noqa: E402

__all__ = ["images", "stack"]
