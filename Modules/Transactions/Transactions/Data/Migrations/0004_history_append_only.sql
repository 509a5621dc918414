-- History entries are appended, never changed (docs/adr/0032): even the Host's own role, which owns the schema, is
-- refused an UPDATE, DELETE or TRUNCATE by its ordinary statements, as vault.audit_log is in the Vault.
-- An owner can still disable the trigger; the hash chain is what shows that (verify).
CREATE FUNCTION transactions.refuse_history_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'transactions.history is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER history_append_only BEFORE UPDATE OR DELETE ON transactions.history
    FOR EACH ROW EXECUTE FUNCTION transactions.refuse_history_change();
CREATE TRIGGER history_no_truncate BEFORE TRUNCATE ON transactions.history
    FOR EACH STATEMENT EXECUTE FUNCTION transactions.refuse_history_change();
