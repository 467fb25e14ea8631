"""The job runtime against real PostgreSQL and RabbitMQ: ack, reject, redelivery, retries, stop,
pause, sweeper recovery, concurrency limits and graceful shutdown, in one process."""

from __future__ import annotations

import time

import pytest

from berth_jobservice.db import executions as executions_db
from berth_jobservice.db import tasks as tasks_db
from berth_jobservice.jobs.base import JobParameterError
from berth_jobservice.runtime.amqp import job_message
from berth_jobservice.services import jobs as job_service
from berth_jobservice.services import tasks as task_service
from berth_jobservice.services.sweeper import MAX_INTERRUPTIONS
from support.jobservice.helpers import pause_queue, probe_runs, task, task_log, wait_status, wait_until


def submit(service, job_type: str, **params):
    submitted = job_service.submit(service.db, service.publisher, service.registry, job_type, params)
    assert submitted is not None
    return submitted.tasks[0]


def test_job_runs_once_records_progress_and_log_and_is_acked(start_jobservice, js_db, broker):
    service = start_jobservice()
    submitted = submit(service, "T_PROBE", label="one", steps=4, step_seconds=0.02)
    assert submitted.status == "Pending"

    done = wait_status(js_db, submitted.id, "Success", "Error")
    assert done.status == "Success"
    assert done.status_code == 3 and done.run_count == 1 and done.fail_count == 0
    assert done.progress == 100 and done.progress_message == "step 4 of 4"
    assert done.lease_owner is None and done.end_time is not None
    with js_db.transaction() as cur:
        execution = executions_db.get(cur, done.execution_id)
    assert execution.status == "Success" and execution.trigger == "MANUAL" and execution.end_time is not None
    log = task_log(js_db, submitted.id)
    assert "T_PROBE run 1 started" in log and "probe started label=one" in log and "T_PROBE run 1 succeeded" in log
    assert [run["outcome"] for run in probe_runs(js_db, "one")] == ["done"]
    # Acked: nothing left in the queue once the consumer is gone.
    service.stop(grace_seconds=0)
    assert broker.message_count(broker.topology.work_queue("T_PROBE")) == 0


def test_duplicate_deliveries_do_the_work_once(start_jobservice, js_db, broker):
    service = start_jobservice()
    first = submit(service, "T_PROBE", label="dup", steps=1)
    wait_status(js_db, first.id, "Success")
    for _ in range(3):
        broker.publish_raw(broker.topology.work_queue("T_PROBE"), job_message(first.id, "T_PROBE"))
    wait_until(lambda: broker.message_count(broker.topology.work_queue("T_PROBE")) == 0, 10, "duplicates consumed")
    second = submit(service, "T_PROBE", label="after-dup")
    wait_status(js_db, second.id, "Success")  # the consumer went on after the duplicates
    assert len(probe_runs(js_db, "dup")) == 1
    assert task(js_db, first.id).run_count == 1


def test_garbage_and_unknown_tasks_are_rejected_to_the_dead_letter_queue(start_jobservice, js_db, broker):
    service = start_jobservice()
    queue = broker.topology.work_queue("T_PROBE")
    broker.publish_raw(queue, b"not json")
    broker.publish_raw(queue, b'{"task_id": "seven"}')
    broker.publish_raw(queue, job_message(987654, "T_PROBE"))
    dead = broker.topology.dead_queue("T_PROBE")
    wait_until(lambda: broker.message_count(dead) == 3, 10, "three dead-lettered messages")
    ok = submit(service, "T_PROBE", label="still-works")
    wait_status(js_db, ok.id, "Success")
    bodies = sorted(message.body for message in broker.drain(dead))
    assert bodies == sorted([b"not json", b'{"task_id": "seven"}', job_message(987654, "T_PROBE")])


def test_failures_are_retried_with_backoff_then_dead_lettered_with_the_reason_logged(start_jobservice, js_db, broker):
    service = start_jobservice(retry_base_seconds=0.3, retry_max_seconds=5)
    failing = submit(service, "T_FLAKY", label="flaky", fail_runs=99)
    final = wait_status(js_db, failing.id, "Error", timeout=20)
    assert final.run_count == 3 and final.fail_count == 3
    assert final.status_message == "RuntimeError: probe failure on run 3"
    with js_db.transaction() as cur:
        assert executions_db.get(cur, final.execution_id).status == "Error"
    log = task_log(js_db, failing.id)
    assert "run 1 failed: RuntimeError: probe failure on run 1" in log
    assert "retry 1 of 2 in 0.3s" in log and "retry 2 of 2 in 0.6s" in log
    assert "giving up after 3 failed runs (max_fails 3)" in log
    runs = probe_runs(js_db, "flaky")
    assert [r["attempt"] for r in runs] == [1, 2, 3]
    # Exponential backoff between runs (0.3 s, then 0.6 s), measured on the database clock.
    gaps = [(b["started_at"] - a["finished_at"]).total_seconds() for a, b in zip(runs, runs[1:], strict=False)]
    assert gaps[0] >= 0.25 and gaps[1] >= 0.55, gaps
    dead = broker.topology.dead_queue("T_FLAKY")
    wait_until(lambda: broker.message_count(dead) == 1, 5, "the exhausted task in the dead-letter queue")


def test_a_retried_job_can_succeed(start_jobservice, js_db):
    service = start_jobservice()
    flaky = submit(service, "T_FLAKY", label="recovers", fail_runs=2)
    final = wait_status(js_db, flaky.id, "Success", "Error", timeout=20)
    assert final.status == "Success" and final.run_count == 3 and final.fail_count == 2
    assert [r["outcome"] for r in probe_runs(js_db, "recovers")] == ["failed", "failed", "done"]


def test_a_job_that_says_no_retry_fails_at_once(start_jobservice, js_db):
    service = start_jobservice()
    fatal = submit(service, "T_FATAL", label="fatal", fail_runs=99)
    final = wait_status(js_db, fatal.id, "Error")
    assert final.run_count == 1
    assert "failed, not retryable: RuntimeError: probe failure on run 1" in task_log(js_db, fatal.id)


def test_invalid_parameters_are_refused_at_submit_and_at_run(start_jobservice, js_db, broker):
    service = start_jobservice()
    with pytest.raises(JobParameterError, match="label is required"):
        job_service.submit(service.db, service.publisher, service.registry, "T_PROBE", {})
    with pytest.raises(JobParameterError, match="unknown job type"):
        job_service.submit(service.db, service.publisher, service.registry, "NOPE", {})
    # A row written behind the API's back is refused by the worker.
    with js_db.transaction() as cur:
        execution = executions_db.insert(cur, vendor_type="T_PROBE", vendor_id=-1, trigger="MANUAL")
        bad = tasks_db.insert(cur, execution_id=execution.id, job_type="T_PROBE", parameters={"nolabel": 1})
    service.publisher.publish_task("T_PROBE", bad.id)
    final = wait_status(js_db, bad.id, "Error")
    assert final.status_message == "invalid parameters: label is required"
    assert "invalid parameters: label is required" in task_log(js_db, bad.id)
    wait_until(lambda: broker.message_count(broker.topology.dead_queue("T_PROBE")) == 1, 5, "dead-lettered")


def test_stop_a_running_task(start_jobservice, js_db):
    service = start_jobservice()
    long = submit(service, "T_PROBE", label="long", steps=400, step_seconds=0.05)
    wait_until(lambda: task(js_db, long.id).progress > 0, 10, "job making progress")
    stopped = task_service.stop(js_db, long.id)
    assert stopped.status == "Running" and stopped.stop_requested
    final = wait_status(js_db, long.id, "Stopped", "Success", "Error", timeout=10)
    assert final.status == "Stopped"
    with js_db.transaction() as cur:
        assert executions_db.get(cur, long.execution_id).status == "Stopped"
    assert [r["outcome"] for r in probe_runs(js_db, "long")] == ["stopped"]
    assert "stopped on request" in task_log(js_db, long.id)


def test_pause_resume_and_stop_of_a_pending_task(start_jobservice, js_db):
    from berth_jobservice.db import queues as queues_db

    service = start_jobservice()
    pause_queue(js_db, service.consumer, "T_PROBE")
    waiting = submit(service, "T_PROBE", label="paused")
    doomed = submit(service, "T_PROBE", label="doomed")
    time.sleep(0.5)  # give a (wrong) consumer every chance to take them
    assert task(js_db, waiting.id).status == "Pending" and task(js_db, doomed.id).status == "Pending"
    assert task_service.stop(js_db, doomed.id).status == "Stopped"
    with js_db.transaction() as cur:
        queues_db.set_paused(cur, "T_PROBE", False)
    wait_status(js_db, waiting.id, "Success")
    assert task(js_db, doomed.id).status == "Stopped"
    assert probe_runs(js_db, "doomed") == []


def test_an_unconfirmed_task_is_published_by_the_sweeper(start_jobservice, js_db):
    service = start_jobservice()
    # As if the submitter died between its commit and the broker's confirm.
    with js_db.transaction() as cur:
        submitted = job_service.create_execution(
            cur, service.registry, vendor_type="T_PROBE", tasks=[job_service.TaskSpec("T_PROBE", {"label": "orphan"})]
        )
    orphan = submitted.tasks[0]
    assert task(js_db, orphan.id).enqueued_at is None
    wait_status(js_db, orphan.id, "Success", timeout=10)
    assert len(probe_runs(js_db, "orphan")) == 1


def test_a_task_whose_process_died_is_reclaimed_and_run_again(start_jobservice, js_db):
    service = start_jobservice()
    with js_db.transaction() as cur:
        submitted = job_service.create_execution(
            cur, service.registry, vendor_type="T_PROBE", tasks=[job_service.TaskSpec("T_PROBE", {"label": "ghost"})]
        )
    # A process "ghost" claimed it and vanished: its lease runs out in 0.5 s.
    claimed = task_service.claim(js_db, submitted.tasks[0].id, "ghost-pool", 0.5)
    assert claimed.status == "Running"
    final = wait_status(js_db, claimed.id, "Success", timeout=10)
    assert final.run_count == 2 and final.interrupt_count == 1
    assert len(probe_runs(js_db, "ghost")) == 1


def test_a_task_interrupted_too_often_ends_in_error(js_db, make_settings):
    from berth_jobservice.jobs import default_registry
    from berth_jobservice.runtime.amqp import Publisher, Topology
    from berth_jobservice.services import sweeper

    settings = make_settings()
    with js_db.transaction() as cur:
        submitted = job_service.create_execution(
            cur,
            default_registry(settings),
            vendor_type="PURGE_AUDIT_LOG",
            tasks=[job_service.TaskSpec("PURGE_AUDIT_LOG", {"audit_retention_hour": 1, "include_operations": "pull"})],
        )
    task_id = submitted.tasks[0].id
    publisher = Publisher(settings.rabbitmq_url, Topology(settings.amqp_prefix))
    try:
        for _ in range(MAX_INTERRUPTIONS + 1):
            assert task_service.claim(js_db, task_id, "crashing-pool", 0.01) is not None
            time.sleep(0.05)
            sweeper.sweep(js_db, publisher, republish_after_seconds=60)
    finally:
        publisher.close()
    final = task(js_db, task_id)
    assert final.status == "Error" and final.interrupt_count == MAX_INTERRUPTIONS + 1
    assert "died 4 times" in final.status_message
    with js_db.transaction() as cur:
        assert executions_db.get(cur, final.execution_id).status == "Error"


def test_a_singleton_type_never_runs_twice_at_once(start_jobservice, js_db):
    service = start_jobservice(workers=4)
    ids = [submit(service, "T_SINGLE", label="single", steps=3, step_seconds=0.05).id for _ in range(4)]
    for task_id in ids:
        wait_status(js_db, task_id, "Success", timeout=20)
    runs = probe_runs(js_db, "single")
    assert len(runs) == 4
    for earlier, later in zip(runs, runs[1:], strict=False):
        assert later["started_at"] >= earlier["finished_at"], "singleton runs overlapped"


def test_graceful_shutdown_finishes_short_jobs(start_jobservice, js_db):
    service = start_jobservice()
    short = submit(service, "T_PROBE", label="short", steps=10, step_seconds=0.05)
    wait_status(js_db, short.id, "Running")
    service.stop(grace_seconds=10)
    assert task(js_db, short.id).status == "Success"


def test_graceful_shutdown_requeues_long_jobs_for_another_process(start_jobservice, js_db, broker):
    first = start_jobservice()
    long = submit(first, "T_PROBE", label="handover", steps=30, step_seconds=0.05)
    wait_until(lambda: task(js_db, long.id).progress > 0, 10, "job making progress")
    first.stop(grace_seconds=0.2)
    back = task(js_db, long.id)
    assert back.status == "Pending" and back.lease_owner is None
    assert "interrupted by a jobservice shutdown" in task_log(js_db, long.id)
    start_jobservice()
    final = wait_status(js_db, long.id, "Success", timeout=30)
    assert final.run_count == 2
    assert [r["outcome"] for r in probe_runs(js_db, "handover")] == ["stopped", "done"]


def test_pool_registration_heartbeat_and_busy_workers(start_jobservice, js_db):
    from berth_jobservice.client import JobClient

    service = start_jobservice(workers=3)
    client = JobClient(js_db, service.publisher, service.registry)
    pools = client.pools()
    assert [p.pool_id for p in pools] == [service.pool_id] and pools[0].concurrency == 3
    first_beat = pools[0].heartbeat_at
    wait_until(lambda: client.pools()[0].heartbeat_at > first_beat, 5, "a newer heartbeat")
    busy = submit(service, "T_PROBE", label="busy", steps=100, step_seconds=0.05)
    wait_until(lambda: task(js_db, busy.id).progress > 0, 10, "running")
    workers = client.workers(service.pool_id)
    assert len(workers) == 3
    assert [(w.job_name, w.job_id) for w in workers if w.job_id] == [("T_PROBE", busy.job_id)]
    assert client.workers("no-such-pool") is None
    queues = {q.job_type: q for q in client.queues()}
    assert {"WEBHOOK", "PURGE_AUDIT_LOG", "PURGE_UPLOAD", "T_PROBE"} <= set(queues)
    client.stop_task(busy.id)
    wait_status(js_db, busy.id, "Stopped")
    service.stop(grace_seconds=0)
    assert client.pools() == []


def test_a_connection_lost_mid_job_is_survived_and_the_job_counts_once(start_jobservice, js_db, broker, rabbitmq_url):
    from support.jobservice.tcp_proxy import TcpProxy

    port = int(rabbitmq_url.rsplit(":", 1)[1].split("/")[0])
    proxy = TcpProxy("127.0.0.1", port)
    proxy.up()
    try:
        service = start_jobservice(rabbitmq_url=rabbitmq_url.replace(f":{port}/", f":{proxy.port}/"))
        running = submit(service, "T_PROBE", label="cut", steps=30, step_seconds=0.05)
        wait_until(lambda: task(js_db, running.id).progress > 0, 10, "job making progress")
        proxy.down()  # the broker "restarts": it requeues the unacked message
        wait_until(lambda: not service.consumer.connected.is_set(), 10, "consumer noticed the loss")
        assert wait_status(js_db, running.id, "Success", timeout=15).run_count == 1  # the job itself went on
        queue = broker.topology.work_queue("T_PROBE")
        assert broker.message_count(queue) == 1  # requeued by the broker, not settled by us
        proxy.up()
        wait_until(service.consumer.connected.is_set, 15, "consumer reconnected")
        wait_until(lambda: broker.message_count(queue) == 0, 10, "redelivery consumed")
        after = submit(service, "T_PROBE", label="after-cut")
        wait_status(js_db, after.id, "Success")
        assert [r["outcome"] for r in probe_runs(js_db, "cut")] == ["done"]
        assert task(js_db, running.id).run_count == 1  # the redelivery was acked without a second run
        assert service.consumer.inflight == 0
    finally:
        proxy.down()


def test_monitor_actions_stop_an_execution_and_a_queue(start_jobservice, js_db):
    from berth_jobservice.client import JobClient

    service = start_jobservice()
    client = JobClient(js_db, service.publisher, service.registry)
    with js_db.transaction() as cur:
        submitted = job_service.create_execution(
            cur,
            service.registry,
            vendor_type="REPLICATION",
            vendor_id=5,
            tasks=[
                job_service.TaskSpec("T_PROBE", {"label": "exec-a", "steps": 400, "step_seconds": 0.05}),
                job_service.TaskSpec("T_PROBE", {"label": "exec-b", "steps": 400, "step_seconds": 0.05}),
            ],
        )
    job_service.publish(js_db, service.publisher, submitted.tasks)
    first, second = submitted.tasks
    wait_until(lambda: task(js_db, first.id).progress > 0 and task(js_db, second.id).progress > 0, 10, "both running")
    assert client.execution_metrics(submitted.execution.id).running_task_count == 2
    assert client.stop_execution(submitted.execution.id).id == submitted.execution.id
    for t in submitted.tasks:
        wait_status(js_db, t.id, "Stopped")
    execution = client.execution(submitted.execution.id)
    assert execution.status == "Stopped" and execution.end_time is not None
    assert client.executions("REPLICATION", 5) == ([execution], 1)
    assert client.stop_execution(999999) is None

    assert client.queue_action("all", "pause")
    wait_until(lambda: not service.consumer.consuming, 10, "every consumer cancelled")
    waiting = [submit(service, "T_PROBE", label=f"q{n}") for n in range(3)]
    assert {q.job_type: q.count for q in client.queues()}["T_PROBE"] == 3
    assert client.queue_action("T_PROBE", "stop")
    assert {task(js_db, t.id).status for t in waiting} == {"Stopped"}
    assert client.queue_action("all", "resume") and not client.queue_action("NOPE", "pause")
    with pytest.raises(JobParameterError):
        client.queue_action("T_PROBE", "explode")
    wait_until(lambda: len(service.consumer.consuming) == len(service.registry.names()), 10, "consumers back")
    assert client.task_log(999999) is None and client.stop_job("nope") is None
    assert "stopped on request" in client.task_log(first.id)
    assert client.task_by_job_id(first.job_id).id == first.id
