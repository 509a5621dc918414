-- A new signing key is published before it signs (docs/adr/0010): a verifier that cached the JWKS for its max-age
-- already holds the key when the first token it signed arrives. A key signs from signs_from until retired_at; the
-- key it replaces gets that same instant as its retired_at, so exactly one key signs at any time.
ALTER TABLE auth.signing_keys ADD COLUMN signs_from timestamptz;
UPDATE auth.signing_keys SET signs_from = created_at;
ALTER TABLE auth.signing_keys ALTER COLUMN signs_from SET NOT NULL;
ALTER TABLE auth.signing_keys ADD CHECK (signs_from >= created_at AND (retired_at IS NULL OR retired_at >= signs_from));
