-- Payments, refunds and chargebacks of every merchant. Amounts are integers in the currency's minor unit.
-- The money rules live here as constraints; the status is computed from the amounts and cannot disagree with them.
CREATE TABLE transactions.transactions (
    trx_id                   text COLLATE "C" PRIMARY KEY,
    merchant_id              text COLLATE "C" NOT NULL,
    type                     text COLLATE "C" NOT NULL CHECK (type IN ('PAYMENT', 'REFUND', 'CHARGEBACK')),
    order_amount             bigint NOT NULL CHECK (order_amount BETWEEN 1 AND 999999999999),
    currency                 text COLLATE "C" NOT NULL CHECK (currency ~ '^[A-Z]{3}$' AND currency NOT LIKE 'X%'),
    captured_amount          bigint NOT NULL DEFAULT 0 CHECK (captured_amount >= 0),
    voided_amount            bigint NOT NULL DEFAULT 0 CHECK (voided_amount >= 0),
    settled_amount           bigint NOT NULL DEFAULT 0 CHECK (settled_amount >= 0),
    refunded_amount          bigint NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0),
    charged_back_amount      bigint NOT NULL DEFAULT 0 CHECK (charged_back_amount >= 0),
    order_id                 text NOT NULL CHECK (length(order_id) BETWEEN 1 AND 64),
    external_id              text CHECK (length(external_id) BETWEEN 1 AND 64),
    payment_intent_id        text COLLATE "C",
    parent_trx_id            text COLLATE "C" REFERENCES transactions.transactions (trx_id),
    card_token               text COLLATE "C",
    card_brand               text,
    card_last4               text CHECK (card_last4 ~ '^[0-9]{4}$'),
    authorization_code       text,
    decline_code             text,
    reason_code              text,
    reason                   text CHECK (length(reason) <= 1000),
    over_recovered           boolean NOT NULL DEFAULT false,
    expired_at               timestamptz,
    authorization_expires_at timestamptz,
    version                  bigint NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at               timestamptz NOT NULL,
    updated_at               timestamptz NOT NULL,

    status text COLLATE "C" GENERATED ALWAYS AS (
        CASE
            WHEN decline_code IS NOT NULL THEN 'DECLINED'
            WHEN type = 'CHARGEBACK' THEN 'SETTLED'
            WHEN type = 'REFUND' THEN CASE WHEN settled_amount > 0 THEN 'SETTLED' ELSE 'CAPTURED' END
            WHEN captured_amount = 0 THEN
                CASE WHEN order_amount - voided_amount > 0 THEN 'AUTHORIZED'
                     WHEN expired_at IS NOT NULL THEN 'EXPIRED'
                     ELSE 'VOIDED' END
            WHEN settled_amount < captured_amount THEN
                CASE WHEN order_amount - captured_amount - voided_amount > 0 THEN 'PARTIAL_CAPTURED' ELSE 'CAPTURED' END
            ELSE
                CASE WHEN order_amount - captured_amount - voided_amount > 0 THEN 'PARTIAL_SETTLED' ELSE 'SETTLED' END
        END) STORED,

    -- Never capture or void more than was authorized.
    CONSTRAINT captured_plus_voided_within_order CHECK (captured_amount + voided_amount <= order_amount),
    CONSTRAINT settled_within_captured CHECK (type <> 'PAYMENT' OR settled_amount <= captured_amount),
    CONSTRAINT refunded_within_captured CHECK (refunded_amount <= captured_amount),
    CONSTRAINT charged_back_within_captured CHECK (charged_back_amount <= captured_amount),
    -- Refunds never take refunded + charged back above captured; only a chargeback can, and then the payment is flagged.
    CONSTRAINT recovered_within_captured CHECK (refunded_amount + charged_back_amount <= captured_amount OR over_recovered),
    CONSTRAINT payment_shape CHECK (type <> 'PAYMENT' OR (parent_trx_id IS NULL AND authorization_expires_at IS NOT NULL)),
    CONSTRAINT child_shape CHECK (type = 'PAYMENT' OR (parent_trx_id IS NOT NULL AND external_id IS NULL
        AND captured_amount = 0 AND voided_amount = 0 AND refunded_amount = 0 AND charged_back_amount = 0
        AND settled_amount IN (0, order_amount))),
    CONSTRAINT declined_moves_nothing CHECK (decline_code IS NULL OR (captured_amount = 0 AND voided_amount = 0
        AND settled_amount = 0 AND refunded_amount = 0 AND charged_back_amount = 0 AND authorization_code IS NULL)),
    CONSTRAINT chargeback_is_settled CHECK (type <> 'CHARGEBACK' OR (settled_amount = order_amount AND decline_code IS NULL))
);

-- external_id is unique per merchant among payments, declined ones included.
CREATE UNIQUE INDEX transactions_external_id ON transactions.transactions (merchant_id, external_id)
    WHERE type = 'PAYMENT' AND external_id IS NOT NULL;
-- A payment intent is used by at most one payment that was not declined.
CREATE UNIQUE INDEX transactions_live_intent ON transactions.transactions (merchant_id, payment_intent_id)
    WHERE type = 'PAYMENT' AND payment_intent_id IS NOT NULL AND decline_code IS NULL;
-- Lookup by order_id: the latest created (ties: greatest trx_id).
CREATE INDEX transactions_order_id ON transactions.transactions (merchant_id, order_id, created_at DESC, trx_id DESC)
    WHERE type = 'PAYMENT';
-- Listing (docs/adr/0033): the date range is on created_at; each sort has an index led by the merchant.
CREATE INDEX transactions_list_created ON transactions.transactions (merchant_id, created_at, trx_id);
CREATE INDEX transactions_list_updated ON transactions.transactions (merchant_id, updated_at, trx_id);
CREATE INDEX transactions_list_status ON transactions.transactions (merchant_id, status, created_at, trx_id);
CREATE INDEX transactions_list_type ON transactions.transactions (merchant_id, type, created_at, trx_id);
CREATE INDEX transactions_list_amount ON transactions.transactions (merchant_id, order_amount, trx_id);
CREATE INDEX transactions_parent ON transactions.transactions (parent_trx_id) WHERE parent_trx_id IS NOT NULL;
-- Lifecycle work queues: what may expire, what is left to settle.
CREATE INDEX transactions_expirable ON transactions.transactions (authorization_expires_at)
    WHERE status IN ('AUTHORIZED', 'PARTIAL_CAPTURED', 'PARTIAL_SETTLED');
CREATE INDEX transactions_unsettled ON transactions.transactions (merchant_id)
    WHERE (type = 'PAYMENT' AND settled_amount < captured_amount)
       OR (type = 'REFUND' AND decline_code IS NULL AND settled_amount = 0);

-- The chained history: each hash is SHA-256 over the previous hash and the entry (docs/adr/0032).
CREATE TABLE transactions.history (
    trx_id    text COLLATE "C" NOT NULL REFERENCES transactions.transactions (trx_id),
    seq       int NOT NULL CHECK (seq >= 1),
    operation text NOT NULL CHECK (operation IN ('AUTHORIZE', 'CAPTURE', 'VOID', 'EXPIRE', 'SETTLE', 'REFUND', 'CHARGEBACK')),
    amount    bigint NOT NULL CHECK (amount >= 0),
    status    text NOT NULL,
    at        timestamptz NOT NULL,
    prev_hash text NOT NULL,
    hash      text NOT NULL,
    PRIMARY KEY (trx_id, seq)
);

-- Events for other modules, written in the same transaction as the change and relayed through Wolverine.
CREATE TABLE transactions.outbox (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id      text NOT NULL UNIQUE,
    merchant_id   text NOT NULL,
    type          text NOT NULL,
    payload       jsonb NOT NULL,
    created_at    timestamptz NOT NULL,
    locked_until  timestamptz,
    attempts      int NOT NULL DEFAULT 0,
    dispatched_at timestamptz
);
CREATE INDEX outbox_pending ON transactions.outbox (id) WHERE dispatched_at IS NULL;

-- Settlement runs: one scheduled run per day (the unique date), sandbox runs per merchant.
CREATE TABLE transactions.settlements (
    settlement_id text PRIMARY KEY,
    merchant_id   text,
    scheduled_for date UNIQUE,
    started_at    timestamptz NOT NULL,
    settled       int NOT NULL DEFAULT 0
);
