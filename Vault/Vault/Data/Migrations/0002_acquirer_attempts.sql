-- Each keyed card use (AcquirerRequest.AttemptKey, derived from the merchant's Idempotency-Key), reserved before the
-- acquirer is asked and answered after, so a retried request gets the first answer back instead of a second
-- authorization held on the cardholder's account, and a retry that arrives while the first is still with the
-- acquirer waits instead of asking too (docs/adr/0025). No card data: a token, the amounts and the acquirer's answer.
CREATE TABLE vault.acquirer_attempts (
    merchant_id        text NOT NULL,
    attempt_key        text NOT NULL CHECK (length(attempt_key) BETWEEN 1 AND 128),
    action             text NOT NULL,
    card_token         text NOT NULL,
    amount             bigint NOT NULL CHECK (amount > 0),
    currency           text NOT NULL,
    state              text NOT NULL CHECK (state IN ('pending', 'answered')),
    approved           boolean,
    authorization_code text,
    decline_code       text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    answered_at        timestamptz,
    PRIMARY KEY (merchant_id, attempt_key),
    CHECK ((state = 'answered') = (approved IS NOT NULL AND answered_at IS NOT NULL))
);
