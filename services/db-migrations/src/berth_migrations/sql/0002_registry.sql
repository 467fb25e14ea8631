-- The registry's own state: blob upload sessions, and byte-order indexes for OCI pagination.

-- One row per open blob upload (OCI "upload session"). The bytes live in the storage driver at
-- berth_registry.storage.paths' upload path for upload_id; the row says how far the upload got and
-- keeps the digest state at that offset, so any registry process can continue or finish it.
--   size        bytes known to be in storage (the driver's writer is the final word on resume)
--   hash_state  resumable digest state at `size` (berth_registry.hashing, a format we own, never
--               pickle); NULL means "rehash storage when finishing"
--   lease_*     the request currently appending; a second writer is refused until the lease is
--               released or expires (a crashed process loses it after the lease time)
-- Abandoned sessions (update_time older than the purge age) are removed by jobservice's
-- PURGE_UPLOAD job together with their storage directory.
CREATE TABLE blob_uploads (
    upload_id       uuid PRIMARY KEY,
    project_id      integer NOT NULL REFERENCES projects (project_id) ON DELETE CASCADE,
    repository_name varchar(255) NOT NULL,
    size            bigint NOT NULL DEFAULT 0 CHECK (size >= 0),
    hash_state      bytea,
    lease_owner     uuid,
    lease_expires   timestamptz,
    username        varchar(255) NOT NULL DEFAULT '',
    creation_time   timestamptz NOT NULL DEFAULT now(),
    update_time     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX blob_uploads_update_time_idx ON blob_uploads (update_time);

-- The distribution spec orders `_catalog` and `tags/list` lexically by bytes; these indexes let
-- PostgreSQL walk that order whatever the database's default collation is.
CREATE INDEX repositories_name_bytes_idx ON repositories ((name COLLATE "C"));
CREATE INDEX tags_repository_name_bytes_idx ON tags (repository_id, (name COLLATE "C"));
