-- The relay does not lease a merchant's event while an older one of the same merchant is still leased (by a Host
-- that stopped or crashed mid-delivery, or that is retrying it): delivered past it, the newer event would take the
-- earlier place in the merchant's webhook sequence. This index answers "an older pending event of this merchant?".
CREATE INDEX outbox_pending_by_merchant ON transactions.outbox (merchant_id, id) WHERE dispatched_at IS NULL;
