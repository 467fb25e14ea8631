-- Change notifications for the registry's in-process cache of manifest references
-- (berth_registry.services.ref_cache): a tag or digest of a repository resolves to an artifact.
--
-- Whoever changes what such a lookup returns (the registry's pushes and deletes, core's tag and
-- artifact API, jobservice's retention and garbage collection, an operator's SQL) fires these
-- triggers, which NOTIFY channel berth_manifest_refs with the repository id ('*' for TRUNCATE:
-- everything). PostgreSQL delivers a notification only when its transaction commits, and folds
-- identical ones of one transaction into one, so deleting a repository with many tags costs one
-- message. Inserts are not announced: the cache keeps only answers that exist, and a new row
-- cannot change one of them (names and digests are unique per repository).
-- Bookkeeping updates (pull_time, push_time, pull_count, update_time) do not fire: the triggers
-- watch only the columns a lookup reads, and only when their value changes.

CREATE FUNCTION berth_notify_manifest_refs() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('berth_manifest_refs', '*');
        RETURN NULL;
    END IF;
    PERFORM pg_notify('berth_manifest_refs', OLD.repository_id::text);
    IF TG_OP = 'UPDATE' AND NEW.repository_id IS DISTINCT FROM OLD.repository_id THEN
        PERFORM pg_notify('berth_manifest_refs', NEW.repository_id::text);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER tags_notify_manifest_refs
    AFTER DELETE ON tags
    FOR EACH ROW EXECUTE FUNCTION berth_notify_manifest_refs();
CREATE TRIGGER tags_notify_manifest_refs_update
    AFTER UPDATE OF repository_id, artifact_id, name ON tags
    FOR EACH ROW
    WHEN (OLD.repository_id IS DISTINCT FROM NEW.repository_id
          OR OLD.artifact_id IS DISTINCT FROM NEW.artifact_id
          OR OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION berth_notify_manifest_refs();
CREATE TRIGGER tags_notify_manifest_refs_truncate
    AFTER TRUNCATE ON tags
    FOR EACH STATEMENT EXECUTE FUNCTION berth_notify_manifest_refs();

CREATE TRIGGER artifacts_notify_manifest_refs
    AFTER DELETE ON artifacts
    FOR EACH ROW EXECUTE FUNCTION berth_notify_manifest_refs();
CREATE TRIGGER artifacts_notify_manifest_refs_update
    AFTER UPDATE OF repository_id, digest, manifest_media_type ON artifacts
    FOR EACH ROW
    WHEN (OLD.repository_id IS DISTINCT FROM NEW.repository_id
          OR OLD.digest IS DISTINCT FROM NEW.digest
          OR OLD.manifest_media_type IS DISTINCT FROM NEW.manifest_media_type)
    EXECUTE FUNCTION berth_notify_manifest_refs();
CREATE TRIGGER artifacts_notify_manifest_refs_truncate
    AFTER TRUNCATE ON artifacts
    FOR EACH STATEMENT EXECUTE FUNCTION berth_notify_manifest_refs();

CREATE TRIGGER repositories_notify_manifest_refs
    AFTER DELETE ON repositories
    FOR EACH ROW EXECUTE FUNCTION berth_notify_manifest_refs();
CREATE TRIGGER repositories_notify_manifest_refs_update
    AFTER UPDATE OF name ON repositories
    FOR EACH ROW
    WHEN (OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION berth_notify_manifest_refs();
CREATE TRIGGER repositories_notify_manifest_refs_truncate
    AFTER TRUNCATE ON repositories
    FOR EACH STATEMENT EXECUTE FUNCTION berth_notify_manifest_refs();
