-- Tokenization intents as the Host shows them. No card data: the token and display data only (the Vault has the card).
CREATE TABLE tokenization.intents (
    id          text PRIMARY KEY,
    merchant_id text NOT NULL,
    status      text NOT NULL DEFAULT 'REQUIRES_CARD'
                CHECK (status IN ('REQUIRES_CARD', 'SUCCEEDED', 'EXPIRED', 'FAILED')),
    return_url  text,
    metadata    jsonb NOT NULL DEFAULT '{}',
    card_token  text,
    card        jsonb,
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    CHECK ((status = 'SUCCEEDED') = (card_token IS NOT NULL))
);
CREATE INDEX intents_pending_expiry ON tokenization.intents (expires_at) WHERE status = 'REQUIRES_CARD';

-- Every status transition, once (unique per intent and type), in commit order: the record webhooks are made from.
CREATE TABLE tokenization.intent_events (
    seq         bigserial PRIMARY KEY,
    intent_id   text NOT NULL,
    merchant_id text NOT NULL,
    type        text NOT NULL CHECK (type IN ('tokenization_intent.succeeded', 'tokenization_intent.expired', 'tokenization_intent.failed')),
    occurred_at timestamptz NOT NULL,
    data        jsonb NOT NULL,
    UNIQUE (intent_id, type)
);

-- How far the Host has read the Vault's feed of successes.
CREATE TABLE tokenization.vault_feed_cursor (
    id             int PRIMARY KEY CHECK (id = 1),
    after_sequence bigint NOT NULL
);
INSERT INTO tokenization.vault_feed_cursor (id, after_sequence) VALUES (1, 0);
