-- The spine shared by core, registry and jobservice: people, projects, content, events, audit.
-- Modeled on Harbor's schema (user, project, project_metadata, quota, repository, artifact,
-- artifact_blob, artifact_reference, tag, blob, project_blob, audit_log) with Berth's outbox.

CREATE TABLE configurations (
    k           text PRIMARY KEY,
    v           jsonb NOT NULL,
    update_time timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    user_id       serial PRIMARY KEY,
    username      varchar(255) NOT NULL UNIQUE,
    email         varchar(255) UNIQUE,
    password_hash text,
    realname      varchar(255) NOT NULL DEFAULT '',
    comment       varchar(255) NOT NULL DEFAULT '',
    sysadmin_flag boolean NOT NULL DEFAULT false,
    deleted       boolean NOT NULL DEFAULT false,
    creation_time timestamptz NOT NULL DEFAULT now(),
    update_time   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE projects (
    project_id    serial PRIMARY KEY,
    name          varchar(255) NOT NULL UNIQUE,
    owner_id      integer NOT NULL REFERENCES users (user_id),
    deleted       boolean NOT NULL DEFAULT false,
    creation_time timestamptz NOT NULL DEFAULT now(),
    update_time   timestamptz NOT NULL DEFAULT now()
);

-- Free-form per-project settings with Harbor's names: public, auto_scan, prevent_vul, ...
CREATE TABLE project_metadata (
    project_id    integer NOT NULL REFERENCES projects (project_id) ON DELETE CASCADE,
    name          varchar(255) NOT NULL,
    value         varchar(255) NOT NULL,
    creation_time timestamptz NOT NULL DEFAULT now(),
    update_time   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, name)
);

-- Storage quota per project; hard = -1 means unlimited. used counts each blob once per project.
CREATE TABLE quotas (
    project_id    integer PRIMARY KEY REFERENCES projects (project_id) ON DELETE CASCADE,
    hard_storage  bigint NOT NULL DEFAULT -1,
    used_storage  bigint NOT NULL DEFAULT 0,
    creation_time timestamptz NOT NULL DEFAULT now(),
    update_time   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE repositories (
    repository_id serial PRIMARY KEY,
    project_id    integer NOT NULL REFERENCES projects (project_id),
    name          varchar(255) NOT NULL UNIQUE,
    description   text NOT NULL DEFAULT '',
    pull_count    bigint NOT NULL DEFAULT 0,
    creation_time timestamptz NOT NULL DEFAULT now(),
    update_time   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX repositories_project_idx ON repositories (project_id);

-- Content-addressed objects in the storage driver (layers, configs and manifests alike).
-- status/version drive online garbage collection, as Harbor's blob table does.
CREATE TABLE blobs (
    blob_id       bigserial PRIMARY KEY,
    digest        varchar(255) NOT NULL UNIQUE,
    content_type  varchar(1024) NOT NULL DEFAULT '',
    size          bigint NOT NULL,
    status        varchar(32) NOT NULL DEFAULT 'none',
    version       bigint NOT NULL DEFAULT 0,
    creation_time timestamptz NOT NULL DEFAULT now(),
    update_time   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE project_blobs (
    project_id    integer NOT NULL REFERENCES projects (project_id) ON DELETE CASCADE,
    blob_id       bigint NOT NULL REFERENCES blobs (blob_id) ON DELETE CASCADE,
    creation_time timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, blob_id)
);
CREATE INDEX project_blobs_blob_idx ON project_blobs (blob_id);

CREATE TABLE artifacts (
    artifact_id         bigserial PRIMARY KEY,
    project_id          integer NOT NULL REFERENCES projects (project_id),
    repository_id       integer NOT NULL REFERENCES repositories (repository_id) ON DELETE CASCADE,
    repository_name     varchar(255) NOT NULL,
    digest              varchar(255) NOT NULL,
    type                varchar(255) NOT NULL DEFAULT 'IMAGE',
    media_type          varchar(255) NOT NULL DEFAULT '',
    manifest_media_type varchar(255) NOT NULL,
    artifact_type       varchar(255) NOT NULL DEFAULT '',
    size                bigint NOT NULL DEFAULT 0,
    subject_digest      varchar(255),
    extra_attrs         jsonb NOT NULL DEFAULT '{}',
    annotations         jsonb NOT NULL DEFAULT '{}',
    push_time           timestamptz NOT NULL DEFAULT now(),
    pull_time           timestamptz,
    UNIQUE (repository_id, digest)
);
CREATE INDEX artifacts_project_idx ON artifacts (project_id);
CREATE INDEX artifacts_subject_idx ON artifacts (repository_id, subject_digest) WHERE subject_digest IS NOT NULL;
CREATE INDEX artifacts_digest_idx ON artifacts (digest);

-- Every blob an artifact needs: its manifest, config and layers.
CREATE TABLE artifact_blobs (
    artifact_id bigint NOT NULL REFERENCES artifacts (artifact_id) ON DELETE CASCADE,
    blob_id     bigint NOT NULL REFERENCES blobs (blob_id),
    PRIMARY KEY (artifact_id, blob_id)
);
CREATE INDEX artifact_blobs_blob_idx ON artifact_blobs (blob_id);

-- Children of an index / manifest list.
CREATE TABLE artifact_references (
    parent_id    bigint NOT NULL REFERENCES artifacts (artifact_id) ON DELETE CASCADE,
    child_id     bigint NOT NULL REFERENCES artifacts (artifact_id),
    child_digest varchar(255) NOT NULL,
    platform     jsonb,
    annotations  jsonb NOT NULL DEFAULT '{}',
    urls         jsonb NOT NULL DEFAULT '[]',
    PRIMARY KEY (parent_id, child_digest)
);
CREATE INDEX artifact_references_child_idx ON artifact_references (child_id);

CREATE TABLE tags (
    tag_id        bigserial PRIMARY KEY,
    repository_id integer NOT NULL REFERENCES repositories (repository_id) ON DELETE CASCADE,
    artifact_id   bigint NOT NULL REFERENCES artifacts (artifact_id) ON DELETE CASCADE,
    name          varchar(128) NOT NULL,
    push_time     timestamptz NOT NULL DEFAULT now(),
    pull_time     timestamptz,
    UNIQUE (repository_id, name)
);
CREATE INDEX tags_artifact_idx ON tags (artifact_id);

-- Events written in the same transaction as the change they describe (ARCHITECTURE decision 6);
-- the relay publishes them in id order per ordering key and stamps published_at.
CREATE TABLE outbox (
    event_id     bigserial PRIMARY KEY,
    event_type   varchar(64) NOT NULL,
    ordering_key varchar(255) NOT NULL,
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished_idx ON outbox (event_id) WHERE published_at IS NULL;

CREATE TABLE audit_log (
    id                    bigserial PRIMARY KEY,
    project_id            integer,
    operation             varchar(50) NOT NULL,
    operation_description text NOT NULL DEFAULT '',
    operation_result      boolean NOT NULL DEFAULT true,
    resource_type         varchar(255) NOT NULL,
    resource              varchar(1024) NOT NULL,
    username              varchar(255) NOT NULL,
    client_ip             varchar(64) NOT NULL DEFAULT '',
    op_time               timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_op_time_idx ON audit_log (op_time);
CREATE INDEX audit_log_project_idx ON audit_log (project_id, op_time);

-- Every running jobservice process registers here and refreshes heartbeat_at; core's health
-- check and the jobservice monitor API read it (Harbor's worker pools).
CREATE TABLE jobservice_pools (
    pool_id      varchar(255) PRIMARY KEY,
    host         varchar(255) NOT NULL,
    pid          integer NOT NULL,
    concurrency  integer NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);
