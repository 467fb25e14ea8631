"""UI sessions: a signed random id in an HttpOnly cookie, the session row in PostgreSQL.

The cookie is ``<id>.<hmac>``: the HMAC (key derived from the secret key file) rejects forged
or mangled cookies without a database round trip; the row (stored under SHA-256 of the id)
makes sessions revocable and shared by every worker. Each session has a CSRF token that the
UI sends back in ``X-Harbor-CSRF-Token`` on state-changing requests (Harbor's header); it is
handed out in the readable ``__csrf`` cookie and in that response header.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import secrets

from berth_common.db import Database
from berth_core.db import sessions as sessions_db
from berth_core.db import users as users_db
from berth_core.db.users import User
from berth_core.services.configurations import Configurations
from berth_core.services.secretbox import derive_key

COOKIE_NAME = "sid"
CSRF_COOKIE = "__csrf"
CSRF_HEADER = "X-Harbor-CSRF-Token"
# Sliding expiry is written at most this often per session, not on every request.
EXTEND_AFTER_SECONDS = 60


@dataclasses.dataclass(frozen=True)
class ActiveSession:
    key: bytes  # SHA-256 of the id: the row's primary key
    user: User
    csrf_token: str = dataclasses.field(repr=False)


class SessionManager:
    """Starts, resolves and ends UI sessions; each call is one transaction of its own."""

    def __init__(self, master_key: bytes, db: Database, configs: Configurations) -> None:
        self._mac_key = derive_key(master_key, "sessions")
        self.db = db
        self.configs = configs

    def _sign(self, raw_id: str) -> str:
        return hmac.new(self._mac_key, raw_id.encode("ascii"), hashlib.sha256).hexdigest()

    @staticmethod
    def _key(raw_id: str) -> bytes:
        return hashlib.sha256(raw_id.encode("ascii")).digest()

    def start(self, user_id: int) -> tuple[str, str]:
        """Start a session lasting ``session_timeout``; returns (cookie value, CSRF token)."""
        raw_id = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        with self.db.transaction() as cur:
            timeout = self.configs.load(cur)["session_timeout"]
            sessions_db.purge_expired(cur)
            sessions_db.insert(cur, self._key(raw_id), user_id, csrf, timeout * 60)
        return f"{raw_id}.{self._sign(raw_id)}", csrf

    def resolve(self, cookie: str) -> ActiveSession | None:
        """The live session behind a cookie value and its (still existing) user, or None.

        Forged or mangled cookies are refused before any query. Use slides the expiry.
        """
        raw_id, sep, mac = cookie.partition(".")
        if not sep or len(cookie) > 256 or not raw_id.isascii():
            return None
        if not hmac.compare_digest(mac, self._sign(raw_id)):
            return None
        key = self._key(raw_id)
        with self.db.transaction() as cur:
            session = sessions_db.get_live(cur, key)
            if session is None:
                return None
            user = users_db.get_user(cur, session.user_id)
            if user is None:
                return None
            since_seen = (dt.datetime.now(dt.UTC) - session.last_seen_at).total_seconds()
            if since_seen >= EXTEND_AFTER_SECONDS:
                sessions_db.extend(cur, key, self.configs.load(cur)["session_timeout"] * 60)
        return ActiveSession(key, user, session.csrf_token)

    def end(self, key: bytes) -> None:
        with self.db.transaction() as cur:
            sessions_db.delete(cur, key)


def csrf_matches(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), given.encode())
