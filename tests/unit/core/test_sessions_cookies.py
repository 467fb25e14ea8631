"""Session cookie signing and CSRF comparison, without a database."""

from __future__ import annotations

from berth_core.services.sessions import SessionManager, csrf_matches


class _NoDatabase:
    """Fails the test if a forged cookie ever reaches the database."""

    def transaction(self):
        raise AssertionError("forged cookies must be rejected before any query")


def test_forged_cookies_never_reach_the_database() -> None:
    manager = SessionManager(b"k" * 32, _NoDatabase(), configs=None)
    other = SessionManager(b"z" * 32, _NoDatabase(), configs=None)
    raw = "abc"
    forged = f"{raw}.{other._sign(raw)}"
    for cookie in (forged, "abc", "abc.", ".", "x" * 300, "é.abc"):
        assert manager.resolve(cookie) is None


def test_csrf_matches() -> None:
    assert csrf_matches("token", "token")
    assert not csrf_matches("token", "tokem") and not csrf_matches("token", None) and not csrf_matches("token", "")
