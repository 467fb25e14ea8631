-- Jobservice: Harbor's execution/task model (src/pkg/task), per-task logs, cron schedules
-- (src/pkg/scheduler), queue pause state (the jobservice monitor), webhook policies
-- (notification_policy). The jobservice owns these tables; core reads and writes them through
-- berth_jobservice.client so the rules (status derivation, publishing) live in one place.

-- One run of something a user or the system asked for: a GC, a purge, a webhook delivery for
-- one event and policy. Its status is derived from its tasks (see berth_jobservice.db.executions).
-- dedup_key makes "create this execution once" idempotent, e.g. 'event:<outbox id>' for a
-- webhook, 'schedule:<id>:<fire time>' for a scheduled run.
CREATE TABLE execution (
    id             bigserial PRIMARY KEY,
    vendor_type    varchar(64) NOT NULL,
    vendor_id      bigint NOT NULL DEFAULT -1,
    status         varchar(16) NOT NULL DEFAULT 'Running'
                   CHECK (status IN ('Running', 'Success', 'Error', 'Stopped')),
    status_message text NOT NULL DEFAULT '',
    trigger        varchar(16) NOT NULL CHECK (trigger IN ('MANUAL', 'SCHEDULE', 'EVENT')),
    extra_attrs    jsonb NOT NULL DEFAULT '{}',
    dedup_key      varchar(255),
    start_time     timestamptz NOT NULL DEFAULT now(),
    end_time       timestamptz,
    update_time    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX execution_vendor_idx ON execution (vendor_type, vendor_id, start_time DESC);
CREATE UNIQUE INDEX execution_dedup_idx ON execution (vendor_type, vendor_id, dedup_key) WHERE dedup_key IS NOT NULL;

-- One unit of work executed by one job of job_type. The row is the source of truth; the AMQP
-- message only carries the task id.
--   status_code     Harbor's ordering code: Pending 0, Running 2, Stopped/Error/Success 3.
--   run_count       times a process claimed the task; fail_count: runs that ended in an error
--                   (compared against the job type's max_fails); interrupt_count: runs lost
--                   because their process died (bounded, so a job that kills its process
--                   cannot loop forever).
--   enqueued_at     when the broker confirmed the message for the current attempt; NULL while
--                   Pending means "not confirmed yet": the sweeper publishes it again.
--   lease_owner     pool id of the process running the task; lease_expires_at is pushed forward
--                   by that process while it lives. An expired lease on a Running task means the
--                   process died: the sweeper hands the task out again.
CREATE TABLE task (
    id               bigserial PRIMARY KEY,
    execution_id     bigint NOT NULL REFERENCES execution (id) ON DELETE CASCADE,
    job_id           varchar(64) NOT NULL UNIQUE DEFAULT replace(gen_random_uuid()::text, '-', ''),
    job_type         varchar(64) NOT NULL,
    parameters       jsonb NOT NULL DEFAULT '{}',
    status           varchar(16) NOT NULL DEFAULT 'Pending'
                     CHECK (status IN ('Pending', 'Running', 'Stopped', 'Error', 'Success')),
    status_code      smallint NOT NULL DEFAULT 0,
    status_message   text NOT NULL DEFAULT '',
    run_count        integer NOT NULL DEFAULT 0,
    fail_count       integer NOT NULL DEFAULT 0,
    interrupt_count  integer NOT NULL DEFAULT 0,
    extra_attrs      jsonb NOT NULL DEFAULT '{}',
    progress         smallint NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    progress_message text NOT NULL DEFAULT '',
    stop_requested   boolean NOT NULL DEFAULT false,
    enqueued_at      timestamptz,
    lease_owner      varchar(255),
    lease_expires_at timestamptz,
    creation_time    timestamptz NOT NULL DEFAULT now(),
    start_time       timestamptz,
    update_time      timestamptz NOT NULL DEFAULT now(),
    end_time         timestamptz
);
CREATE INDEX task_execution_idx ON task (execution_id);
CREATE INDEX task_unconfirmed_idx ON task (update_time) WHERE status = 'Pending' AND enqueued_at IS NULL;
CREATE INDEX task_lease_idx ON task (lease_expires_at) WHERE status = 'Running';
CREATE INDEX task_pending_type_idx ON task (job_type, update_time) WHERE status = 'Pending';

-- The job's own log, line by line, readable while it runs (seq orders lines within a task).
CREATE TABLE task_log (
    task_id bigint NOT NULL REFERENCES task (id) ON DELETE CASCADE,
    seq     bigserial,
    line    text NOT NULL,
    time    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, seq)
);

-- Periodic triggers. Exactly one of cron (Harbor's 6 fields, seconds first) and
-- interval_seconds is set. When next_run has passed, the active scheduler submits
-- callback_job_type with callback_params and moves next_run to the next time after now, so a
-- run missed during downtime fires once.
CREATE TABLE schedule (
    id                bigserial PRIMARY KEY,
    vendor_type       varchar(64) NOT NULL,
    vendor_id         bigint NOT NULL DEFAULT -1,
    cron_type         varchar(16) NOT NULL DEFAULT 'Custom',
    cron              varchar(128),
    interval_seconds  integer CHECK (interval_seconds > 0),
    callback_job_type varchar(64) NOT NULL,
    callback_params   jsonb NOT NULL DEFAULT '{}',
    extra_attrs       jsonb NOT NULL DEFAULT '{}',
    next_run          timestamptz NOT NULL,
    last_run          timestamptz,
    creation_time     timestamptz NOT NULL DEFAULT now(),
    update_time       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (vendor_type, vendor_id),
    CHECK ((cron IS NULL) <> (interval_seconds IS NULL))
);
CREATE INDEX schedule_next_run_idx ON schedule (next_run);

-- Harbor's "pause a job queue": every jobservice process stops consuming a paused type. Pausing
-- the type 'SCHEDULER' pauses the scheduler (Harbor's /schedules/all/paused).
CREATE TABLE job_queue_status (
    job_type    varchar(64) PRIMARY KEY,
    paused      boolean NOT NULL DEFAULT false,
    update_time timestamptz NOT NULL DEFAULT now()
);

-- Harbor's notification_policy. targets: [{type, address, auth_header, skip_cert_verify,
-- payload_format}]. secret (a Berth addition) keys the HMAC-SHA256 signature of every delivery;
-- it is write-only through the API.
CREATE TABLE webhook_policy (
    id            bigserial PRIMARY KEY,
    name          varchar(256) NOT NULL,
    description   text NOT NULL DEFAULT '',
    project_id    integer NOT NULL REFERENCES projects (project_id) ON DELETE CASCADE,
    targets       jsonb NOT NULL DEFAULT '[]',
    event_types   text[] NOT NULL DEFAULT '{}',
    secret        text NOT NULL DEFAULT '',
    creator       varchar(255) NOT NULL DEFAULT '',
    enabled       boolean NOT NULL DEFAULT true,
    creation_time timestamptz NOT NULL DEFAULT now(),
    update_time   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
);
