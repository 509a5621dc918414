-- Key custody (issue 16, docs/adr/0125..0130): KEK versions with key check values, keys wrapped under the KEK
-- (audit MAC key, fingerprint root, per-merchant data keys), the KEK version of every Data Protection key row, a
-- minimum decryption key for cards, and the vault_keyadmin role: key rows stay append-only for the serving role;
-- rewrap, destroy and forget go through SECURITY DEFINER functions owned by vault_keyadmin, which check their own
-- preconditions. The serving role only gets EXECUTE on them (VaultStartup.GrantAsync).

-- A cluster role: run.sh (as the superuser) creates it and grants it to the owner role before migrating; a superuser
-- owner (tests) creates it here. Two databases migrating at once may race to create it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'vault_keyadmin') THEN
        CREATE ROLE vault_keyadmin NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
DO $$
BEGIN
    IF NOT pg_has_role(current_user, 'vault_keyadmin', 'MEMBER') THEN
        RAISE EXCEPTION 'The Vault owner role must be a member of vault_keyadmin: as the superuser run CREATE ROLE vault_keyadmin NOLOGIN; GRANT vault_keyadmin TO %', current_user;
    END IF;
END $$;

CREATE TABLE vault.kek_versions (
    version    int PRIMARY KEY CHECK (version > 0),
    check_value text NOT NULL CHECK (check_value ~ '^[0-9A-F]{6}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    retired_at timestamptz
);
-- One current KEK at a time.
CREATE UNIQUE INDEX kek_versions_one_current ON vault.kek_versions ((true)) WHERE retired_at IS NULL;

CREATE TABLE vault.wrapped_keys (
    id           uuid PRIMARY KEY,
    purpose      text NOT NULL CHECK (purpose IN ('audit-mac', 'fingerprint-root', 'merchant-dek')),
    scope        text NOT NULL DEFAULT '',
    version      int NOT NULL CHECK (version > 0),
    kek_version  int NOT NULL REFERENCES vault.kek_versions (version),
    wrapped      bytea,
    check_value  text NOT NULL CHECK (check_value ~ '^[0-9A-F]{6}$'),
    created_at   timestamptz NOT NULL DEFAULT now(),
    rewrapped_at timestamptz,
    destroyed_at timestamptz,
    UNIQUE (purpose, scope, version),
    CHECK ((wrapped IS NULL) = (destroyed_at IS NOT NULL))
);

-- Existing rows were written under the first KEK (registered as version 1 by the first Vault to start).
ALTER TABLE vault.data_protection_keys
    ADD COLUMN kek_version  int NOT NULL DEFAULT 1,
    ADD COLUMN key_id       uuid,
    ADD COLUMN destroyed_at timestamptz;
ALTER TABLE vault.data_protection_keys DISABLE TRIGGER keys_append_only;
UPDATE vault.data_protection_keys
SET key_id = substring(friendly_name FROM '([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$')::uuid;
ALTER TABLE vault.data_protection_keys ENABLE TRIGGER keys_append_only;
CREATE INDEX data_protection_keys_key_id ON vault.data_protection_keys (key_id);

-- The merchant data key a card payload (v2) is sealed under: its bytes 17..32, written big-endian (CardCipher).
ALTER TABLE vault.cards ADD COLUMN dek_id uuid GENERATED ALWAYS AS (
    CASE WHEN length(ciphertext) >= 33 THEN
        CASE WHEN get_byte(ciphertext, 0) = 2 THEN encode(substring(ciphertext FROM 18 FOR 16), 'hex')::uuid END
    END) STORED;
CREATE INDEX cards_dek_id ON vault.cards (dek_id) WHERE dek_id IS NOT NULL;

-- Cards on a Data Protection key created before this one no longer decrypt (HashiCorp transit's min_decryption_version).
CREATE TABLE vault.card_key_policy (
    singleton          boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    min_decryption_key uuid,
    updated_at         timestamptz NOT NULL DEFAULT now()
);
INSERT INTO vault.card_key_policy DEFAULT VALUES;

-- Key rows change only inside the key administration functions (current_user is their owner there).
CREATE FUNCTION vault.key_rows_change_by_keyadmin_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND current_user = 'vault_keyadmin' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'vault.% rows change only through the key administration functions', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;
-- A key is written only under the current KEK: a Vault still running a retired KEK cannot add keys under it.
CREATE FUNCTION vault.key_rows_under_current_kek() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM vault.kek_versions WHERE version = NEW.kek_version AND retired_at IS NULL) THEN
        RAISE EXCEPTION 'KEK version % is not the current KEK: restart the Vault with the current KEK components', NEW.kek_version
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;

DROP TRIGGER keys_append_only ON vault.data_protection_keys;
CREATE TRIGGER keys_append_only BEFORE UPDATE OR DELETE ON vault.data_protection_keys
    FOR EACH ROW EXECUTE FUNCTION vault.key_rows_change_by_keyadmin_only();
CREATE TRIGGER keys_under_current_kek BEFORE INSERT ON vault.data_protection_keys
    FOR EACH ROW EXECUTE FUNCTION vault.key_rows_under_current_kek();
CREATE TRIGGER wrapped_keys_append_only BEFORE UPDATE OR DELETE ON vault.wrapped_keys
    FOR EACH ROW EXECUTE FUNCTION vault.key_rows_change_by_keyadmin_only();
CREATE TRIGGER wrapped_keys_no_truncate BEFORE TRUNCATE ON vault.wrapped_keys
    FOR EACH STATEMENT EXECUTE FUNCTION vault.refuse_change();
CREATE TRIGGER wrapped_keys_under_current_kek BEFORE INSERT ON vault.wrapped_keys
    FOR EACH ROW EXECUTE FUNCTION vault.key_rows_under_current_kek();
CREATE TRIGGER kek_versions_append_only BEFORE UPDATE OR DELETE ON vault.kek_versions
    FOR EACH ROW EXECUTE FUNCTION vault.key_rows_change_by_keyadmin_only();
CREATE TRIGGER kek_versions_no_truncate BEFORE TRUNCATE ON vault.kek_versions
    FOR EACH STATEMENT EXECUTE FUNCTION vault.refuse_change();
CREATE TRIGGER card_key_policy_by_keyadmin_only BEFORE UPDATE OR DELETE ON vault.card_key_policy
    FOR EACH ROW EXECUTE FUNCTION vault.key_rows_change_by_keyadmin_only();

-- The first Vault to start records its KEK as version 1 (no-op once any version exists).
CREATE FUNCTION vault.kek_register_first(p_kcv text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    LOCK TABLE vault.kek_versions IN EXCLUSIVE MODE;
    IF NOT EXISTS (SELECT 1 FROM vault.kek_versions) THEN
        INSERT INTO vault.kek_versions (version, check_value) VALUES (1, p_kcv);
    END IF;
END $$;

-- The ceremony, in one transaction: begin (retires the current version, records the next), rewrap every key row,
-- finish (refuses while any live key row is still under another version).
CREATE FUNCTION vault.kek_begin_rotation(p_from int, p_kcv text) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_next int;
BEGIN
    LOCK TABLE vault.kek_versions, vault.wrapped_keys, vault.data_protection_keys IN EXCLUSIVE MODE;
    IF NOT EXISTS (SELECT 1 FROM vault.kek_versions WHERE version = p_from AND retired_at IS NULL) THEN
        RAISE EXCEPTION 'KEK version % is not the current KEK', p_from USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT 1 FROM vault.kek_versions WHERE check_value = p_kcv) THEN
        RAISE EXCEPTION 'A KEK with check value % was used before: a rotation needs new components', p_kcv
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE vault.kek_versions SET retired_at = now() WHERE version = p_from;
    SELECT max(version) + 1 INTO v_next FROM vault.kek_versions;
    INSERT INTO vault.kek_versions (version, check_value) VALUES (v_next, p_kcv);
    RETURN v_next;
END $$;

CREATE FUNCTION vault.rewrap_wrapped_key(p_id uuid, p_wrapped bytea, p_kek_version int) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM vault.kek_versions WHERE version = p_kek_version AND retired_at IS NULL) THEN
        RAISE EXCEPTION 'KEK version % is not the current KEK', p_kek_version USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE vault.wrapped_keys SET wrapped = p_wrapped, kek_version = p_kek_version, rewrapped_at = now()
    WHERE id = p_id AND destroyed_at IS NULL AND kek_version < p_kek_version;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'No live key % under an older KEK', p_id USING ERRCODE = 'no_data_found';
    END IF;
END $$;

CREATE FUNCTION vault.rewrap_data_protection_key(p_row bigint, p_xml text, p_mac bytea, p_kek_version int) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM vault.kek_versions WHERE version = p_kek_version AND retired_at IS NULL) THEN
        RAISE EXCEPTION 'KEK version % is not the current KEK', p_kek_version USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE vault.data_protection_keys SET xml = p_xml, mac = p_mac, kek_version = p_kek_version
    WHERE id = p_row AND destroyed_at IS NULL AND kek_version < p_kek_version;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'No live key row % under an older KEK', p_row USING ERRCODE = 'no_data_found';
    END IF;
END $$;

CREATE FUNCTION vault.kek_finish_rotation(p_version int) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    left_keys bigint;
    left_rows bigint;
BEGIN
    SELECT count(*) INTO left_keys FROM vault.wrapped_keys WHERE destroyed_at IS NULL AND kek_version <> p_version;
    SELECT count(*) INTO left_rows FROM vault.data_protection_keys WHERE destroyed_at IS NULL AND kek_version <> p_version;
    IF left_keys > 0 OR left_rows > 0 THEN
        RAISE EXCEPTION '% wrapped keys and % key ring rows are not under KEK version %', left_keys, left_rows, p_version
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
END $$;

-- Returns how many cards are on keys older than the new minimum (they stop decrypting; lowering it again restores them).
CREATE FUNCTION vault.set_card_key_min_decryption(p_key uuid) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    min_row bigint;
    below bigint;
BEGIN
    SELECT id INTO min_row FROM vault.data_protection_keys
    WHERE key_id = p_key AND friendly_name LIKE 'key-%' AND destroyed_at IS NULL;
    IF min_row IS NULL THEN
        RAISE EXCEPTION 'No live key %', p_key USING ERRCODE = 'no_data_found';
    END IF;
    UPDATE vault.card_key_policy SET min_decryption_key = p_key, updated_at = now();
    SELECT count(*) INTO below FROM vault.cards c
    WHERE c.key_id IN (SELECT key_id FROM vault.data_protection_keys WHERE friendly_name LIKE 'key-%' AND id < min_row);
    RETURN below;
END $$;

-- Destroys a card key's material (the row stays, a tombstone): only a key no card uses, already revoked or below the
-- minimum decryption key.
CREATE FUNCTION vault.destroy_card_key(p_key uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    key_row bigint;
    min_row bigint;
    cards_on_key bigint;
BEGIN
    SELECT id INTO key_row FROM vault.data_protection_keys
    WHERE key_id = p_key AND friendly_name LIKE 'key-%' AND destroyed_at IS NULL;
    IF key_row IS NULL THEN
        RAISE EXCEPTION 'No live key %', p_key USING ERRCODE = 'no_data_found';
    END IF;
    SELECT count(*) INTO cards_on_key FROM vault.cards WHERE key_id = p_key;
    IF cards_on_key > 0 THEN
        RAISE EXCEPTION 'Key % still encrypts % cards: rewrap first', p_key, cards_on_key USING ERRCODE = 'object_in_use';
    END IF;
    SELECT k.id INTO min_row FROM vault.card_key_policy p
    JOIN vault.data_protection_keys k ON k.key_id = p.min_decryption_key AND k.friendly_name LIKE 'key-%';
    IF NOT EXISTS (SELECT 1 FROM vault.data_protection_keys WHERE key_id = p_key AND friendly_name LIKE 'revocation-%')
       AND (min_row IS NULL OR key_row >= min_row) THEN
        RAISE EXCEPTION 'Key % is neither revoked nor below the minimum decryption key', p_key
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE vault.data_protection_keys SET xml = '', mac = '\x'::bytea, destroyed_at = now() WHERE id = key_row;
END $$;

-- Crypto-shredding: destroys every data key of the merchant; its cards stop decrypting in every Vault process
-- (the notification empties their caches). Returns how many keys were destroyed.
CREATE FUNCTION vault.forget_merchant(p_merchant text) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    destroyed int;
BEGIN
    UPDATE vault.wrapped_keys SET wrapped = NULL, destroyed_at = now()
    WHERE purpose = 'merchant-dek' AND scope = p_merchant AND destroyed_at IS NULL;
    GET DIAGNOSTICS destroyed = ROW_COUNT;
    PERFORM pg_notify('vault_keys_destroyed', p_merchant);
    RETURN destroyed;
END $$;

GRANT USAGE ON SCHEMA vault TO vault_keyadmin;
GRANT SELECT, UPDATE ON vault.wrapped_keys, vault.data_protection_keys, vault.card_key_policy TO vault_keyadmin;
GRANT SELECT, INSERT, UPDATE ON vault.kek_versions TO vault_keyadmin;
GRANT SELECT ON vault.cards TO vault_keyadmin;

-- The functions belong to vault_keyadmin (it needs CREATE on the schema only to take them over); nobody but the
-- roles VaultStartup.GrantAsync names may call them.
GRANT CREATE ON SCHEMA vault TO vault_keyadmin;
ALTER FUNCTION vault.kek_register_first(text) OWNER TO vault_keyadmin;
ALTER FUNCTION vault.kek_begin_rotation(int, text) OWNER TO vault_keyadmin;
ALTER FUNCTION vault.rewrap_wrapped_key(uuid, bytea, int) OWNER TO vault_keyadmin;
ALTER FUNCTION vault.rewrap_data_protection_key(bigint, text, bytea, int) OWNER TO vault_keyadmin;
ALTER FUNCTION vault.kek_finish_rotation(int) OWNER TO vault_keyadmin;
ALTER FUNCTION vault.set_card_key_min_decryption(uuid) OWNER TO vault_keyadmin;
ALTER FUNCTION vault.destroy_card_key(uuid) OWNER TO vault_keyadmin;
ALTER FUNCTION vault.forget_merchant(text) OWNER TO vault_keyadmin;
REVOKE CREATE ON SCHEMA vault FROM vault_keyadmin;
REVOKE ALL ON FUNCTION vault.kek_register_first(text), vault.kek_begin_rotation(int, text),
    vault.rewrap_wrapped_key(uuid, bytea, int), vault.rewrap_data_protection_key(bigint, text, bytea, int),
    vault.kek_finish_rotation(int), vault.set_card_key_min_decryption(uuid), vault.destroy_card_key(uuid),
    vault.forget_merchant(text) FROM PUBLIC;
