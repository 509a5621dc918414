-- The Vault's own database. Card data is stored only as Data Protection ciphertext bound to (card.v1, merchant, token);
-- the key ring rows are themselves encrypted under the KEK and carry a MAC. Audit and key rows are append-only for the
-- serving role (grants made by VaultMigrations, see docs/adr/0021-vault-database-roles.md).

CREATE TABLE vault.data_protection_keys (
    id            bigserial PRIMARY KEY,
    friendly_name text NOT NULL,
    xml           text NOT NULL,
    mac           bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE vault.tokenization_intents (
    intent_id            text PRIMARY KEY,
    merchant_id          text NOT NULL,
    client_secret_sha256 text NOT NULL,
    expires_at           timestamptz NOT NULL,
    return_url           text,
    status               text NOT NULL DEFAULT 'REQUIRES_CARD'
                         CHECK (status IN ('REQUIRES_CARD', 'SUCCEEDED', 'FAILED')),
    failed_attempts      int NOT NULL DEFAULT 0 CHECK (failed_attempts BETWEEN 0 AND 5),
    card_token           text,
    succeeded_seq        bigint,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'SUCCEEDED') = (card_token IS NOT NULL)),
    CHECK ((status = 'FAILED') = (failed_attempts = 5))
);

-- Increasing per success, so the Host can pull every success it has not recorded yet.
CREATE SEQUENCE vault.intent_success_seq;
CREATE UNIQUE INDEX tokenization_intents_succeeded_seq ON vault.tokenization_intents (succeeded_seq) WHERE succeeded_seq IS NOT NULL;

CREATE TABLE vault.cards (
    token        text PRIMARY KEY,
    merchant_id  text NOT NULL,
    fingerprint  text NOT NULL,
    brand        text NOT NULL,
    bin          text NOT NULL,
    last4        text NOT NULL,
    exp_month    int NOT NULL CHECK (exp_month BETWEEN 1 AND 12),
    exp_year     int NOT NULL CHECK (exp_year BETWEEN 2000 AND 9999),
    key_id       uuid NOT NULL,
    ciphertext   bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    rewrapped_at timestamptz
);
CREATE INDEX cards_key_id ON vault.cards (key_id);
CREATE INDEX cards_merchant_fingerprint ON vault.cards (merchant_id, fingerprint);

CREATE TABLE vault.audit_log (
    seq         bigserial PRIMARY KEY,
    at          timestamptz NOT NULL,
    action      text NOT NULL,
    merchant_id text,
    subject     text,
    detail      text NOT NULL,
    prev_hash   bytea NOT NULL,
    hash        bytea NOT NULL UNIQUE
);

-- Defence in depth for single-role installs: even the owner's ordinary statements cannot rewrite history.
CREATE FUNCTION vault.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'vault.% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON vault.audit_log
    FOR EACH ROW EXECUTE FUNCTION vault.refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON vault.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION vault.refuse_change();
CREATE TRIGGER keys_append_only BEFORE UPDATE OR DELETE ON vault.data_protection_keys
    FOR EACH ROW EXECUTE FUNCTION vault.refuse_change();
CREATE TRIGGER keys_no_truncate BEFORE TRUNCATE ON vault.data_protection_keys
    FOR EACH STATEMENT EXECUTE FUNCTION vault.refuse_change();
