-- A payment intent declined once goes back to REQUIRES_PAYMENT_METHOD and is confirmed again (the contract), and its
-- next payment carries the intent's external_id too. The unique index refused that payment with 409, so an intent
-- with an external_id could never be paid after one decline. external_id stays unique per merchant among payments,
-- declined ones included, with one exception: the payments of one intent share it. Two payments with the same
-- external_id must have the same owner, the intent, or, without one, the payment itself (so two such payments never
-- may). transactions_live_intent still allows an intent at most one payment that was not declined.
-- The rule compares owners with <>, which only a GiST exclusion constraint can hold; btree_gist gives GiST the
-- btree's text equality. It ships with PostgreSQL and is a trusted extension: the database's owner may create it.
CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA transactions;

ALTER TABLE transactions.transactions ADD CONSTRAINT transactions_external_id_owner
    EXCLUDE USING gist (merchant_id WITH =, external_id WITH =, (coalesce(payment_intent_id, trx_id)) WITH <>)
    WHERE (type = 'PAYMENT' AND external_id IS NOT NULL);
DROP INDEX transactions.transactions_external_id;
-- The lookup by external_id (the latest of an intent's payments) and the check before the acquirer is called.
CREATE INDEX transactions_external_id ON transactions.transactions (merchant_id, external_id, created_at DESC, trx_id DESC)
    WHERE type = 'PAYMENT' AND external_id IS NOT NULL;
