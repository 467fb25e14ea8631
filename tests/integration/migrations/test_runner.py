"""The migration runner against a real PostgreSQL: order, transactions, refusal, concurrency."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg2
import pytest

from berth_migrations.runner import MigrationError, load_migrations, migrate


def write(directory: Path, name: str, sql: str) -> None:
    (directory / name).write_text(sql)


def tables(url: str) -> set[str]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        names = {row[0] for row in cur.fetchall()}
    conn.close()
    return names


def test_packaged_migrations_apply_cleanly_and_only_once(empty_database_url):
    applied = migrate(empty_database_url, log=lambda _m: None)
    assert applied == [m.name for m in load_migrations()]
    assert {"projects", "repositories", "artifacts", "blobs", "tags", "outbox", "audit_log"} <= tables(empty_database_url)
    assert migrate(empty_database_url, log=lambda _m: None) == []


def test_applies_in_numeric_order_each_in_its_own_transaction(empty_database_url, tmp_path):
    write(tmp_path, "0002_second.sql", "INSERT INTO t VALUES (2);")
    write(tmp_path, "0001_first.sql", "CREATE TABLE t (v int); INSERT INTO t VALUES (1);")
    write(tmp_path, "0003_broken.sql", "INSERT INTO t VALUES (3); SELECT no_such_function();")
    with pytest.raises(MigrationError, match="0003_broken.sql failed"):
        migrate(empty_database_url, tmp_path, log=lambda _m: None)
    with psycopg2.connect(empty_database_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT v FROM t ORDER BY v")
        assert [r[0] for r in cur.fetchall()] == [1, 2]  # 3 rolled back with its file
        cur.execute("SELECT version FROM schema_migrations ORDER BY version")
        assert [r[0] for r in cur.fetchall()] == [1, 2]
    conn.close()


def test_refuses_a_newer_schema(empty_database_url, tmp_path):
    write(tmp_path, "0001_a.sql", "SELECT 1;")
    write(tmp_path, "0002_b.sql", "SELECT 1;")
    migrate(empty_database_url, tmp_path, log=lambda _m: None)
    (tmp_path / "0002_b.sql").unlink()
    with pytest.raises(MigrationError, match="newer schema"):
        migrate(empty_database_url, tmp_path, log=lambda _m: None)


def test_refuses_an_edited_migration(empty_database_url, tmp_path):
    write(tmp_path, "0001_a.sql", "SELECT 1;")
    migrate(empty_database_url, tmp_path, log=lambda _m: None)
    write(tmp_path, "0001_a.sql", "SELECT 2;")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(empty_database_url, tmp_path, log=lambda _m: None)


@pytest.mark.parametrize("name", ["1_short.sql", "0001-dash.sql", "0001_UPPER.sql"])
def test_rejects_badly_named_files(tmp_path, name):
    write(tmp_path, name, "SELECT 1;")
    with pytest.raises(MigrationError, match="NNNN_slug.sql"):
        load_migrations(tmp_path)


def test_two_runners_at_once_apply_each_file_once(empty_database_url, tmp_path):
    # A slow first migration makes the second runner wait on the advisory lock.
    write(tmp_path, "0001_slow.sql", "SELECT pg_sleep(1); CREATE TABLE once (v int);")
    write(tmp_path, "0002_fill.sql", "INSERT INTO once VALUES (1);")
    results: list[list[str] | Exception] = []

    def run() -> None:
        try:
            results.append(migrate(empty_database_url, tmp_path, log=lambda _m: None))
        except Exception as exc:  # noqa: BLE001 - recorded for the assertion
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(len(r) for r in results) == [0, 2], results
    with psycopg2.connect(empty_database_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM once")
        assert cur.fetchone()[0] == 1
    conn.close()
