"""Makes the benchmark package (bench/ at the repository root) importable however pytest is started.

``python -m pytest`` puts the working directory on sys.path, the ``pytest`` script does not, and
the importlib import mode adds only ``tests`` (pyproject ``pythonpath``).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[3])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
