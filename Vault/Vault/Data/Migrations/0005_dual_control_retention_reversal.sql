-- Issue 16, items 3, 6 and 8: dual control of destructive operator verbs (ADR 131), card retention (ADR 132) and
-- the reversal of approvals the Host never booked (ADR 133).

-- Dual control: a destructive verb becomes a pending request that a second, distinct operator approves in time.
-- The rules are the database's, not only the verb's: the requester cannot approve (CHECK), a request is used once
-- and an expired one cannot be approved (trigger), and no request row is ever deleted.
CREATE TABLE vault.operator_requests (
    id           uuid PRIMARY KEY,
    action       text NOT NULL CHECK (length(action) BETWEEN 1 AND 64),
    subject      text NOT NULL CHECK (length(subject) BETWEEN 1 AND 200),
    requested_by text NOT NULL CHECK (length(requested_by) BETWEEN 1 AND 200),
    requested_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'approved', 'executed', 'failed', 'cancelled')),
    decided_by   text,
    decided_at   timestamptz,
    outcome      text,
    CHECK (expires_at > requested_at),
    CHECK ((state = 'pending') = (decided_by IS NULL)),
    -- Approved by someone else than the requester; a cancellation may come from either.
    CHECK (state IN ('pending', 'cancelled') OR decided_by <> requested_by)
);
CREATE INDEX operator_requests_pending ON vault.operator_requests (expires_at) WHERE state = 'pending';

CREATE FUNCTION vault.operator_request_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id <> OLD.id OR NEW.action <> OLD.action OR NEW.subject <> OLD.subject OR NEW.requested_by <> OLD.requested_by
       OR NEW.requested_at <> OLD.requested_at OR NEW.expires_at <> OLD.expires_at THEN
        RAISE EXCEPTION 'an operator request cannot be rewritten' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.state = 'pending' AND NEW.state = 'approved' THEN
        IF now() >= OLD.expires_at THEN
            RAISE EXCEPTION 'the operator request expired at %', OLD.expires_at USING ERRCODE = 'check_violation';
        END IF;
        NEW.decided_at := now();
    ELSIF OLD.state = 'pending' AND NEW.state = 'cancelled' THEN
        NEW.decided_at := now();
    ELSIF OLD.state = 'approved' AND NEW.state IN ('executed', 'failed') AND NEW.decided_by = OLD.decided_by THEN
        NULL;
    ELSE
        RAISE EXCEPTION 'an operator request cannot go from % to %', OLD.state, NEW.state USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER operator_requests_transition BEFORE UPDATE ON vault.operator_requests
    FOR EACH ROW EXECUTE FUNCTION vault.operator_request_transition();
CREATE TRIGGER operator_requests_no_delete BEFORE DELETE ON vault.operator_requests
    FOR EACH ROW EXECUTE FUNCTION vault.refuse_change();
CREATE TRIGGER operator_requests_no_truncate BEFORE TRUNCATE ON vault.operator_requests
    FOR EACH STATEMENT EXECUTE FUNCTION vault.refuse_change();

-- Retention: when a card was last used (written at most once a day per card), and no more BIN: it was never read.
ALTER TABLE vault.cards ADD COLUMN last_used_at timestamptz;
ALTER TABLE vault.cards DROP COLUMN bin;
CREATE INDEX cards_retention ON vault.cards ((coalesce(last_used_at, created_at)));

-- Approvals the Host never booked: every approved authorization (and authcap) is recorded with the Host's references
-- (its trx id, and the trx ids of retries that were given the same answer) until the Host confirms it booked one of
-- them or asks for its reversal. 'reversing' holds retries off while the Host makes sure it never booked it.
CREATE TABLE vault.approvals (
    id                 bigserial PRIMARY KEY,
    merchant_id        text NOT NULL,
    attempt_key        text,
    action             text NOT NULL CHECK (action IN ('card.authorize', 'card.authcap')),
    card_token         text NOT NULL,
    amount             bigint NOT NULL CHECK (amount > 0),
    currency           text NOT NULL,
    authorization_code text NOT NULL,
    refs               text[] NOT NULL CHECK (cardinality(refs) BETWEEN 1 AND 100),
    state              text NOT NULL DEFAULT 'unconfirmed'
                       CHECK (state IN ('unconfirmed', 'reversing', 'confirmed', 'reversed')),
    approved_at        timestamptz NOT NULL DEFAULT now(),
    handed_out_at      timestamptz NOT NULL DEFAULT now(),
    decided_at         timestamptz,
    CHECK ((state IN ('confirmed', 'reversed')) = (decided_at IS NOT NULL))
);
CREATE INDEX approvals_open ON vault.approvals (handed_out_at) WHERE state IN ('unconfirmed', 'reversing');
CREATE INDEX approvals_attempt ON vault.approvals (merchant_id, attempt_key) WHERE attempt_key IS NOT NULL;
CREATE INDEX approvals_decided ON vault.approvals (decided_at) WHERE decided_at IS NOT NULL;

-- An attempt whose approval is being reversed answers no retry ('reversing'); once reversed, its key takes a fresh
-- authorization ('reversed').
ALTER TABLE vault.acquirer_attempts DROP CONSTRAINT acquirer_attempts_state_check;
ALTER TABLE vault.acquirer_attempts DROP CONSTRAINT acquirer_attempts_check;
ALTER TABLE vault.acquirer_attempts ADD CONSTRAINT acquirer_attempts_state_check
    CHECK (state IN ('pending', 'answered', 'reversing', 'reversed'));
ALTER TABLE vault.acquirer_attempts ADD CONSTRAINT acquirer_attempts_answer_check
    CHECK ((state <> 'pending') = (approved IS NOT NULL AND answered_at IS NOT NULL));
