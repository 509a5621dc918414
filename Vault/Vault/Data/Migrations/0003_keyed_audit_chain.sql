-- The keyed audit chain (docs/adr/0121): each new row carries its position in the chain (n), the version of the audit
-- key and mac = HMAC-SHA256(audit key, previous link ‖ seq ‖ n ‖ canonical row). Rows written before this migration
-- keep their SHA-256 hash and stay verifiable as the legacy segment (rows are append-only: they are never rewritten);
-- the first keyed row chains to the last legacy hash, so the legacy segment is covered by the key from then on.
ALTER TABLE vault.audit_log
    ADD COLUMN n           bigint,
    ADD COLUMN key_version int,
    ADD COLUMN mac         bytea;
ALTER TABLE vault.audit_log ALTER COLUMN prev_hash DROP NOT NULL, ALTER COLUMN hash DROP NOT NULL;
ALTER TABLE vault.audit_log ADD CONSTRAINT audit_log_keyed_or_legacy CHECK (
    (mac IS NOT NULL AND key_version IS NOT NULL AND n IS NOT NULL AND hash IS NULL)
    OR (mac IS NULL AND key_version IS NULL AND n IS NULL AND hash IS NOT NULL AND prev_hash IS NOT NULL));
CREATE INDEX audit_log_at ON vault.audit_log (at);

-- Retention (docs/adr/0124): the only way rows leave the table. The Vault first appends an 'audit.purged' row (keyed)
-- naming the last row to go and its link, so verification carries on from there; this function, owned by the owner
-- role and run with its rights, then deletes rows up to that one and refuses any row younger than 12 months, whoever
-- calls it (PCI DSS 10.5.1: 12 months kept, 3 of them at hand).
CREATE OR REPLACE FUNCTION vault.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'audit_log' AND TG_OP = 'DELETE' AND current_setting('vault.audit_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'vault.% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE FUNCTION vault.purge_audit_log(through_seq bigint) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    youngest timestamptz;
    deleted bigint;
BEGIN
    SELECT max(at) INTO youngest FROM vault.audit_log WHERE seq <= through_seq;
    IF youngest IS NULL THEN
        RETURN 0;
    END IF;
    IF youngest > now() - interval '12 months' THEN
        RAISE EXCEPTION 'audit rows younger than 12 months cannot be purged (row at %)', youngest
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM vault.audit_log WHERE action = 'audit.purged' AND seq > through_seq
                   AND (detail::jsonb ->> 'through_seq')::bigint = through_seq) THEN
        RAISE EXCEPTION 'an audit.purged row naming seq % must be written first', through_seq
            USING ERRCODE = 'check_violation';
    END IF;
    PERFORM set_config('vault.audit_purge', 'on', true);
    DELETE FROM vault.audit_log WHERE seq <= through_seq;
    GET DIAGNOSTICS deleted = ROW_COUNT;
    PERFORM set_config('vault.audit_purge', 'off', true);
    RETURN deleted;
END $$;
REVOKE ALL ON FUNCTION vault.purge_audit_log(bigint) FROM PUBLIC;

-- The tokenization feed's own cursor (docs/adr/0123): one row, incremented in the submit transaction. Its row lock
-- orders the successes' commits and a rolled-back submit gives its number back, so the numbers the Host pages
-- through are gap-free and commit in order: a reader never passes a number that commits later.
CREATE TABLE vault.intent_success_cursor (
    id   boolean PRIMARY KEY DEFAULT true CHECK (id),
    last bigint NOT NULL
);
INSERT INTO vault.intent_success_cursor (id, last)
SELECT true, coalesce(max(succeeded_seq), 0) FROM vault.tokenization_intents;
