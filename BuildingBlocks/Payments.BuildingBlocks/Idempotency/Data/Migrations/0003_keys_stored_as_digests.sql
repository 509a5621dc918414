-- A key is stored as its SHA-256 (hex), as the Redis cache already named it: merchants choose keys, and a card number
-- or a secret put in one must not be kept in clear (SECURITY.md). Rows written before are converted in place, so a
-- retry that spans the upgrade still finds its key.
UPDATE idempotency.requests SET idem_key = encode(sha256(convert_to(idem_key, 'UTF8')), 'hex');
