-- Webhook endpoints, the merchant-facing event log and its deliveries. See docs/adr/0090-webhook-delivery.md.

-- An endpoint's signing secret is kept only encrypted (AES-256-GCM under Webhooks:SecretKey, the endpoint id as
-- associated data), never in clear. A deleted endpoint keeps its row (deleted_at) so delivery history stays readable.
CREATE TABLE webhooks.endpoints (
    id               text COLLATE "C" PRIMARY KEY,
    merchant_id      text COLLATE "C" NOT NULL,
    url              text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    enabled_events   text[] NOT NULL CHECK (cardinality(enabled_events) >= 1),
    status           text COLLATE "C" NOT NULL DEFAULT 'ENABLED' CHECK (status IN ('ENABLED', 'DISABLED')),
    disabled_reason  text,
    secret_nonce     bytea NOT NULL CHECK (length(secret_nonce) = 12),
    secret_sealed    bytea NOT NULL,
    -- One delivery in flight per endpoint across all Host processes: a worker holds this lease while it sends.
    lease_owner      uuid,
    lease_until      timestamptz,
    created_at       timestamptz NOT NULL,
    disabled_at      timestamptz,
    deleted_at       timestamptz,
    CHECK ((status = 'DISABLED') = (disabled_at IS NOT NULL))
);
CREATE INDEX endpoints_merchant ON webhooks.endpoints (merchant_id, created_at) WHERE deleted_at IS NULL;

-- The per-merchant sequence counter: incremented in the same transaction that records an event, so its row lock
-- serializes concurrent recorders of one merchant and a rolled-back recording leaves no gap.
CREATE TABLE webhooks.merchant_sequences (
    merchant_id   text COLLATE "C" PRIMARY KEY,
    last_sequence bigint NOT NULL CHECK (last_sequence >= 1)
);

-- Events as merchants see them; body is the exact JSON sent (and signed), kept byte for byte.
CREATE TABLE webhooks.events (
    id          text COLLATE "C" PRIMARY KEY,
    merchant_id text COLLATE "C" NOT NULL,
    sequence    bigint NOT NULL CHECK (sequence >= 1),
    type        text COLLATE "C" NOT NULL,
    created_at  timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL,
    body        text NOT NULL,
    UNIQUE (merchant_id, sequence)
);

-- One row per (endpoint, event) to send; a redelivery adds another row for the same pair.
CREATE TABLE webhooks.deliveries (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    endpoint_id      text COLLATE "C" NOT NULL REFERENCES webhooks.endpoints (id),
    event_id         text COLLATE "C" NOT NULL REFERENCES webhooks.events (id),
    sequence         bigint NOT NULL,
    state            text COLLATE "C" NOT NULL DEFAULT 'PENDING' CHECK (state IN ('PENDING', 'DELIVERED', 'FAILED', 'CANCELED')),
    attempts         int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at  timestamptz NOT NULL,
    first_attempt_at timestamptz,
    last_attempt_at  timestamptz,
    last_status      int,
    last_error       text,
    done_at          timestamptz,
    created_at       timestamptz NOT NULL
);
-- The head of an endpoint's queue: its lowest pending sequence.
CREATE INDEX deliveries_pending ON webhooks.deliveries (endpoint_id, sequence, id) WHERE state = 'PENDING';
CREATE INDEX deliveries_event ON webhooks.deliveries (event_id);
