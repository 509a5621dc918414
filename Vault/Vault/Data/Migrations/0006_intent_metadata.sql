-- The card route answers the intent as the Host shows it (the contract): the merchant's metadata, and created_at as
-- the Host recorded it (the Vault's own default stays for intents registered before).
ALTER TABLE vault.tokenization_intents ADD COLUMN metadata jsonb;
