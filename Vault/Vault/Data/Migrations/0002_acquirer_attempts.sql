-- The answer to each keyed card use (AcquirerRequest.AttemptKey, derived from the merchant's Idempotency-Key), so a
-- retried request whose first try reached the acquirer but was never recorded by the Host gets that first answer
-- back, instead of a second authorization held on the cardholder's account. No card data: a token, the amounts
-- and the acquirer's answer.
CREATE TABLE vault.acquirer_attempts (
    merchant_id        text NOT NULL,
    attempt_key        text NOT NULL CHECK (length(attempt_key) BETWEEN 1 AND 128),
    action             text NOT NULL,
    card_token         text NOT NULL,
    amount             bigint NOT NULL CHECK (amount > 0),
    currency           text NOT NULL,
    approved           boolean NOT NULL,
    authorization_code text,
    decline_code       text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, attempt_key)
);
