-- Payment intents: what a merchant prepares before confirming it with POST /v1/transactions.
CREATE TABLE intents.payment_intents (
    id                text COLLATE "C" PRIMARY KEY,
    merchant_id       text COLLATE "C" NOT NULL,
    status            text NOT NULL CHECK (status IN ('REQUIRES_PAYMENT_METHOD', 'REQUIRES_CONFIRMATION', 'SUCCEEDED', 'CANCELED')),
    amount            bigint NOT NULL CHECK (amount BETWEEN 1 AND 999999999999),
    currency          text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    order_id          text NOT NULL CHECK (length(order_id) BETWEEN 1 AND 64),
    external_id       text CHECK (length(external_id) BETWEEN 1 AND 64),
    card_token        text,
    description       text CHECK (length(description) <= 1000),
    metadata          jsonb,
    transaction_id    text,
    last_decline_code text,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    CHECK (status <> 'REQUIRES_CONFIRMATION' OR card_token IS NOT NULL),
    CHECK (status <> 'SUCCEEDED' OR transaction_id IS NOT NULL)
);
CREATE INDEX payment_intents_merchant ON intents.payment_intents (merchant_id, created_at);
