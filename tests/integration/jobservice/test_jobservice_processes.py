"""Real jobservice processes: kill -9 in the middle of a job, two processes side by side, SIGTERM."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from berth_jobservice.db import locks as locks_db
from berth_jobservice.db import pools as pools_db
from berth_jobservice.jobs import default_registry
from berth_jobservice.runtime.amqp import Publisher, Topology
from berth_jobservice.services import jobs as job_service
from berth_jobservice.services import schedules as schedule_service
from support.jobservice.helpers import probe_runs, task, wait_status, wait_until
from support.jobservice.probe import probe_jobs


def pools(db) -> list[str]:
    with db.transaction() as cur:
        return [p.pool_id for p in pools_db.list_all(cur)]


def submitter(settings):
    """Submit like core does: the client side only, no jobservice in this process."""
    registry = default_registry(settings, extra=probe_jobs())
    publisher = Publisher(settings.rabbitmq_url, Topology(settings.amqp_prefix))

    def submit(db, job_type, **params):
        return job_service.submit(db, publisher, registry, job_type, params).tasks[0]

    submit.publisher = publisher
    submit.registry = registry
    return submit


def test_kill_9_in_the_middle_of_a_long_job_then_restart_completes_it_once(spawn_jobservice, make_settings, js_db):
    settings = make_settings(task_lease_seconds=2.0)
    submit = submitter(settings)
    try:
        first = spawn_jobservice(task_lease_seconds=2.0)
        wait_until(lambda: pools(js_db), 20, "first process registered")
        long = submit(js_db, "T_SINGLE", label="killed", steps=40, step_seconds=0.05)
        wait_until(lambda: task(js_db, long.id).progress >= 10, 20, "job making progress")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        assert task(js_db, long.id).status == "Running"  # nobody recorded anything: the process just died

        spawn_jobservice(task_lease_seconds=2.0)
        final = wait_status(js_db, long.id, "Success", "Error", timeout=40)
        assert final.status == "Success"
        assert final.run_count == 2 and final.interrupt_count == 1
        runs = probe_runs(js_db, "killed")
        assert [r["outcome"] for r in runs] == [None, "done"]  # the killed run never finished
        assert runs[0]["pid"] != runs[1]["pid"]
    finally:
        submit.publisher.close()


def test_two_processes_singletons_never_overlap_and_each_scheduled_run_fires_once(spawn_jobservice, make_settings, js_db):
    settings = make_settings()
    submit = submitter(settings)
    try:
        spawn_jobservice(workers=3)
        spawn_jobservice(workers=3)
        wait_until(lambda: len(pools(js_db)) == 2, 20, "two pools registered")
        ids = [submit(js_db, "T_SINGLE", label="pair", steps=4, step_seconds=0.05).id for _ in range(8)]
        for task_id in ids:
            wait_status(js_db, task_id, "Success", timeout=40)
        runs = probe_runs(js_db, "pair")
        assert len(runs) == 8
        assert len({r["pid"] for r in runs}) == 2, "both processes took singleton jobs"
        for earlier, later in zip(runs, runs[1:], strict=False):
            assert later["started_at"] >= earlier["finished_at"], "singleton runs overlapped across processes"

        # Exactly one scheduler holds the lock, and every slot of an every-second schedule fires once.
        with js_db.transaction() as cur:
            cur.execute(
                """
                SELECT count(*) FROM pg_locks
                WHERE locktype = 'advisory' AND granted AND ((classid::bigint << 32) | objid::bigint) = %s
                  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                """,
                (locks_db.key(locks_db.SCHEDULER),),
            )
            assert cur.fetchone()[0] == 1
        schedule_service.save(
            js_db,
            submit.registry,
            vendor_type="T_PROBE",
            callback_job_type="T_PROBE",
            callback_params={"label": "tick"},
            cron="* * * * * *",
        )
        wait_until(lambda: len(probe_runs(js_db, "tick")) >= 4, 20, "four scheduled runs")
        schedule_service.delete(js_db, "T_PROBE")
        with js_db.transaction() as cur:
            cur.execute("SELECT extra_attrs->>'scheduled_for' FROM execution WHERE trigger = 'SCHEDULE' ORDER BY id")
            slots = [row[0] for row in cur.fetchall()]
        assert len(slots) == len(set(slots)), "a scheduled slot fired twice"
        assert len(probe_runs(js_db, "tick")) == len(slots)
    finally:
        submit.publisher.close()


def test_the_entry_point_registers_and_exits_cleanly_on_sigterm(spawn_jobservice, js_db):
    command = [str(Path(sys.executable).parent / "berth-jobservice")]
    process = spawn_jobservice(command=command)
    pool_id = wait_until(lambda: pools(js_db), 20, "pool registered")[0]
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    assert pool_id not in pools(js_db)
    output = process.log_path.read_text()
    assert '"event": "signal_received"' in output and '"event": "jobservice_stopped"' in output
    assert "rabbitmq_url" in output and "guest:guest" not in output  # settings logged, redacted


def test_the_entry_point_refuses_bad_settings(spawn_jobservice, js_db):
    command = [str(Path(sys.executable).parent / "berth-jobservice")]
    process = spawn_jobservice(command=command, workers=0)
    assert process.wait(30) == 2
    assert "JOBSERVICE_WORKERS: must be at least 1" in process.log_path.read_text()
