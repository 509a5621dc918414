-- One row per (merchant, Idempotency-Key): the claim while the first request runs, then its stored answer.
-- A money-moving slice completes its row in the same transaction as its state change (docs/adr/0030).
CREATE TABLE idempotency.requests (
    merchant_id      text        NOT NULL,
    idem_key         text        NOT NULL CHECK (length(idem_key) BETWEEN 1 AND 255),
    fingerprint      bytea       NOT NULL CHECK (length(fingerprint) = 32),
    state            text        NOT NULL CHECK (state IN ('in_progress', 'completed')),
    lease_token      uuid        NOT NULL,
    lease_until      timestamptz NOT NULL,
    response_status  int,
    response_headers jsonb,
    response_body    bytea,
    created_at       timestamptz NOT NULL,
    completed_at     timestamptz,
    expires_at       timestamptz NOT NULL,
    PRIMARY KEY (merchant_id, idem_key),
    CHECK ((state = 'completed') = (response_status IS NOT NULL AND completed_at IS NOT NULL))
);

CREATE INDEX requests_expires_at ON idempotency.requests (expires_at);
