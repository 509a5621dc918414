-- What the Refunds module asked of the acquirer, one row per refund sent. The REFUND transaction itself (and the
-- payment's refunded_amount) lives in the transactions schema; this is the acquirer side of it, kept so that an
-- acquirer refund the ledger did not book (a failure between the two) is found and reconciled (docs/adr/0081).
CREATE TABLE refunds.refunds (
    refund_trx_id   text COLLATE "C" PRIMARY KEY,
    merchant_id     text COLLATE "C" NOT NULL,
    payment_trx_id  text COLLATE "C" NOT NULL,
    amount          bigint NOT NULL CHECK (amount BETWEEN 1 AND 999999999999),
    currency        text COLLATE "C" NOT NULL,
    reason          text CHECK (length(reason) <= 1000),
    -- APPROVED / DECLINED as the acquirer answered; UNKNOWN when the Vault gave no answer in time.
    acquirer_answer text COLLATE "C" NOT NULL CHECK (acquirer_answer IN ('APPROVED', 'DECLINED', 'UNKNOWN')),
    acquirer_code   text,
    -- True once the REFUND transaction is recorded; an APPROVED or UNKNOWN row that is not booked needs reconciling.
    booked          boolean NOT NULL,
    created_at      timestamptz NOT NULL
);
CREATE INDEX refunds_payment ON refunds.refunds (merchant_id, payment_trx_id);
CREATE INDEX refunds_unbooked ON refunds.refunds (created_at) WHERE NOT booked AND acquirer_answer <> 'DECLINED';
