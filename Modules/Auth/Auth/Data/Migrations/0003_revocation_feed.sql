-- Each Host keeps the unexpired revocations in memory and polls for new ones (docs/adr/0013). It asks for rows
-- written by transactions at or after the oldest one still running at its last poll: a row committed late is
-- found, which a timestamp or a sequence (both taken before commit) cannot promise.
ALTER TABLE auth.revoked_tokens ADD COLUMN written_by xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX revoked_tokens_written_by ON auth.revoked_tokens (written_by);
-- The start-up load and the Redis refill read the unexpired rows; expired ones are kept as the record.
CREATE INDEX revoked_tokens_expires_at ON auth.revoked_tokens (expires_at);
