-- Refunds reserve their amount before the acquirer is asked and book or release it after, each in a short
-- transaction, so no row lock is held across the Vault call (docs/adr/0082).

-- What refunds in flight hold of a payment. Not shown to readers and not part of the version (ETag): a reservation
-- changes nothing the contract describes until it is booked.
ALTER TABLE transactions.transactions
    ADD COLUMN refund_reserved_amount bigint NOT NULL DEFAULT 0 CHECK (refund_reserved_amount >= 0),
    -- Refunds, booked or in flight, never send back more than was captured.
    ADD CONSTRAINT refunds_and_reservations_within_captured CHECK (refunded_amount + refund_reserved_amount <= captured_amount);

-- A reservation may only be taken out of what is refundable (captured − refunded − charged back − reserved), whatever
-- statement grows it: a chargeback recorded while a refund is in flight is a fact and may make the sum exceed
-- captured afterwards (the booking then flags over_recovered), but no new reservation is allowed on top of it.
CREATE FUNCTION transactions.refuse_reservation_over_refundable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.refunded_amount + NEW.charged_back_amount + NEW.refund_reserved_amount > NEW.captured_amount THEN
        RAISE EXCEPTION 'refund reservation of % exceeds what is refundable on %', NEW.refund_reserved_amount, NEW.trx_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'reservation_within_refundable';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER reservation_within_refundable BEFORE UPDATE OF refund_reserved_amount ON transactions.transactions
    FOR EACH ROW WHEN (NEW.refund_reserved_amount > OLD.refund_reserved_amount)
    EXECUTE FUNCTION transactions.refuse_reservation_over_refundable();

-- One row per refund reserved: pending while its acquirer call may be under way, then booked (the REFUND transaction
-- refund_trx_id exists, approved or declined). A pending row whose Host died is resolved by re-asking the Vault with
-- attempt_key, which returns the acquirer's first answer (docs/adr/0025); a retry with the same Idempotency-Key
-- resumes it. Rows are kept once booked so that such a retry answers with the booked refund.
CREATE TABLE transactions.refund_reservations (
    refund_trx_id  text COLLATE "C" PRIMARY KEY,
    merchant_id    text COLLATE "C" NOT NULL,
    payment_trx_id text COLLATE "C" NOT NULL REFERENCES transactions.transactions (trx_id),
    amount         bigint NOT NULL CHECK (amount BETWEEN 1 AND 999999999999),
    currency       text COLLATE "C" NOT NULL,
    reason         text CHECK (length(reason) <= 1000),
    -- AcquirerRequest.AttemptKey: SHA-256 of the Idempotency-Key, or the refund's own trx id without one.
    attempt_key    text COLLATE "C" NOT NULL CHECK (length(attempt_key) BETWEEN 1 AND 128),
    state          text COLLATE "C" NOT NULL CHECK (state IN ('pending', 'booked')),
    created_at     timestamptz NOT NULL,
    -- When the recovery sweep may look at it next: leased forward by each look, so Hosts do not ask twice at once.
    check_after    timestamptz NOT NULL,
    resolved_at    timestamptz,
    CHECK ((state = 'pending') = (resolved_at IS NULL))
);
-- At most one refund in flight per attempt key; the latest reservation of a key answers its retries.
CREATE UNIQUE INDEX refund_reservations_pending_key ON transactions.refund_reservations (merchant_id, attempt_key)
    WHERE state = 'pending';
CREATE INDEX refund_reservations_key ON transactions.refund_reservations (merchant_id, attempt_key, created_at DESC);
-- The recovery sweep's queue.
CREATE INDEX refund_reservations_due ON transactions.refund_reservations (check_after) WHERE state = 'pending';
CREATE INDEX refund_reservations_payment ON transactions.refund_reservations (payment_trx_id) WHERE state = 'pending';
