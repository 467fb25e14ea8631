"""The web UI: a single-page app of plain ES modules and CSS that core serves at ``/``.

The UI adds no business rules: every page is built from calls to the same ``/api/v2.0`` and
``/c/`` endpoints that scripts use, so the server's permission checks apply unchanged.
"""

from berth_core.ui.views import bp

__all__ = ["bp"]
