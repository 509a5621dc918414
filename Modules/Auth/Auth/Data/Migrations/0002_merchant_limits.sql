-- Per-merchant request rates set by an operator (`merchant set-limits`); a merchant without a row gets the mode's default.
CREATE TABLE auth.merchant_limits (
    merchant_id text PRIMARY KEY REFERENCES auth.merchants (id),
    rps         integer NOT NULL CHECK (rps BETWEEN 1 AND 1000000),
    burst       integer NOT NULL CHECK (burst BETWEEN 1 AND 1000000),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
