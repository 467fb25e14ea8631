"""Apply pending numbered SQL migrations, each in its own transaction, under an advisory lock.

Files are ``sql/NNNN_slug.sql``; ``NNNN`` orders them and is the version recorded in
``schema_migrations`` with the file's sha256. The runner:

* takes a session-level advisory lock, so two runners starting together apply each file once;
* refuses a database that records a version this runner does not know (a newer schema), and a
  file whose content changed after it was applied (migrations are forward-only);
* applies each pending file in one transaction together with its ``schema_migrations`` row.

The same function serves the CLI (``berth-migrate``), ``make up``, compose and the test fixtures.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import re
import sys
import time
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

import psycopg2
import psycopg2.extensions

# "berth" in ASCII; any constant works as long as every runner uses the same one.
LOCK_KEY = 0x6265727468
FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    """The schema cannot be brought up to date safely; the message says why."""


@dataclasses.dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class Applied:
    version: int
    name: str
    checksum: str


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """Read and order the migration files; raises MigrationError on a bad name or duplicate."""
    if directory is None:
        files = [(entry.name, entry.read_text()) for entry in resources.files("berth_migrations").joinpath("sql").iterdir()]
    else:
        files = [(path.name, path.read_text()) for path in Path(directory).iterdir()]
    found: dict[int, Migration] = {}
    for name, text in files:
        if not name.endswith(".sql"):
            continue
        match = FILE_NAME.match(name)
        if not match:
            raise MigrationError(f"migration file {name!r} is not named NNNN_slug.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"two migration files share version {version:04d}: {found[version].name}, {name}")
        found[version] = Migration(version, name, text)
    return [found[v] for v in sorted(found)]


def _ensure_table(cur: psycopg2.extensions.cursor) -> None:
    cur.execute(
        """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version    integer PRIMARY KEY,
            name       text NOT NULL,
            checksum   text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def applied_migrations(cur: psycopg2.extensions.cursor) -> list[Applied]:
    cur.execute("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
    return [Applied(*row) for row in cur.fetchall()]


def plan(known: Iterable[Migration], applied: Iterable[Applied]) -> list[Migration]:
    """The migrations still to apply; raises MigrationError when the database is ahead or altered."""
    known_by_version = {m.version: m for m in known}
    applied = list(applied)
    for row in applied:
        migration = known_by_version.get(row.version)
        if migration is None:
            newest = max(known_by_version, default=0)
            raise MigrationError(
                f"database schema has version {row.version:04d} ({row.name}) which this release does not know "
                f"(newest known: {newest:04d}); refusing to run against a newer schema"
            )
        if migration.checksum != row.checksum:
            raise MigrationError(f"migration {row.name} changed after it was applied; migrations are forward-only")
    done = {row.version for row in applied}
    pending = [m for v, m in sorted(known_by_version.items()) if v not in done]
    if pending and done and pending[0].version < max(done):
        raise MigrationError(
            f"migration {pending[0].name} is older than the newest applied version {max(done):04d}; "
            "number new migrations after the newest one"
        )
    return pending


def migrate(database_url: str, directory: Path | None = None, log=print) -> list[str]:
    """Bring the database at ``database_url`` up to date; returns the names of applied files."""
    migrations = load_migrations(directory)
    conn = psycopg2.connect(database_url, application_name="berth-migrations", connect_timeout=10)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
            _ensure_table(cur)
        conn.autocommit = False
        with conn.cursor() as cur:
            pending = plan(migrations, applied_migrations(cur))
        conn.rollback()
        applied: list[str] = []
        for migration in pending:
            started = time.monotonic()
            with conn.cursor() as cur:
                try:
                    cur.execute(migration.sql)
                    cur.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
                except psycopg2.Error as exc:
                    conn.rollback()
                    raise MigrationError(f"migration {migration.name} failed: {exc.pgerror or exc}".strip()) from exc
            conn.commit()
            applied.append(migration.name)
            log(f"applied {migration.name} in {time.monotonic() - started:.2f}s")
        return applied
    finally:
        if not conn.closed:
            conn.rollback()
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
            conn.close()


def status(database_url: str) -> tuple[list[Applied], list[Migration]]:
    """What is applied and what is pending, without changing anything."""
    migrations = load_migrations()
    with psycopg2.connect(database_url, connect_timeout=10) as conn, conn.cursor() as cur:
        _ensure_table(cur)
        applied = applied_migrations(cur)
    conn.close()
    return applied, plan(migrations, applied)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="berth-migrate", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("MIGRATIONS_DATABASE_URL"), help="PostgreSQL URL (env MIGRATIONS_DATABASE_URL)"
    )
    parser.add_argument("--status", action="store_true", help="show applied and pending migrations and exit")
    args = parser.parse_args(argv)
    if not args.database_url:
        print("berth-migrate: MIGRATIONS_DATABASE_URL: required but not set", file=sys.stderr)
        return 2
    try:
        if args.status:
            applied, pending = status(args.database_url)
            for row in applied:
                print(f"applied  {row.name}")
            for migration in pending:
                print(f"pending  {migration.name}")
            return 0
        names = migrate(args.database_url)
        print(f"schema up to date ({len(names)} applied)")
        return 0
    except (MigrationError, psycopg2.OperationalError) as exc:
        print(f"berth-migrate: {exc}".strip(), file=sys.stderr)
        return 1
