"""Transaction-scoped PostgreSQL advisory locks for work that must not run twice at once.

Core runs as several workers and replicas, so in-process locks are not enough (ARCHITECTURE,
"Scale beyond one machine"). Each lock is named; the name is hashed into the lock key by
PostgreSQL, and the lock is released when the transaction ends.
"""

from __future__ import annotations

BOOTSTRAP = "berth-core:bootstrap"  # creating the initial admin and the library project
USERS_AND_AUTH_MODE = "berth-core:users-and-auth-mode"  # auth_mode changes vs. user creation


def advisory_lock(cur, name: str) -> None:
    """Block until this transaction holds the lock called ``name``."""
    cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%(name)s, 0))", {"name": name})
