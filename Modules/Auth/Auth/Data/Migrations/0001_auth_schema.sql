-- Merchants, their API clients, the token signing keys and revoked tokens. Secrets are stored only as slow hashes.
CREATE TABLE auth.merchants (
    id         text PRIMARY KEY CHECK (id LIKE 'mer\_%'),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE auth.api_clients (
    client_id            text PRIMARY KEY CHECK (client_id LIKE 'cli\_%'),
    merchant_id          text NOT NULL REFERENCES auth.merchants (id),
    -- pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>
    secret_hash          text NOT NULL CHECK (secret_hash LIKE 'pbkdf2-sha256$%'),
    -- The secret replaced by the last rotation, accepted until previous_valid_until.
    previous_secret_hash text CHECK (previous_secret_hash LIKE 'pbkdf2-sha256$%'),
    previous_valid_until timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    rotated_at           timestamptz,
    CHECK ((previous_secret_hash IS NULL) = (previous_valid_until IS NULL))
);
CREATE INDEX api_clients_merchant ON auth.api_clients (merchant_id);

CREATE TABLE auth.signing_keys (
    kid                   text PRIMARY KEY,
    algorithm             text NOT NULL CHECK (algorithm = 'ES256'),
    -- SubjectPublicKeyInfo (DER).
    public_key            bytea NOT NULL,
    -- PKCS#8 private key under AES-256-GCM with Auth:KeyEncryptionKey: nonce(12) | tag(16) | ciphertext; AAD = kid.
    private_key_encrypted bytea NOT NULL,
    created_at            timestamptz NOT NULL,
    retired_at            timestamptz,
    CHECK (retired_at IS NULL OR retired_at >= created_at)
);
-- At most one key signs new tokens.
CREATE UNIQUE INDEX signing_keys_one_active ON auth.signing_keys ((true)) WHERE retired_at IS NULL;

CREATE TABLE auth.revoked_tokens (
    jti         text PRIMARY KEY,
    merchant_id text NOT NULL,
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz NOT NULL,
    -- False until the revocation is known to be in Redis (it was down when revoked): the sync pushes it.
    in_cache    boolean NOT NULL DEFAULT false
);
CREATE INDEX revoked_tokens_pending ON auth.revoked_tokens (jti) WHERE NOT in_cache;
