-- Counters without a hot row (issue 17; docs/adr/0033, revised). The statement triggers of 0002 upserted one counter
-- row per merchant, hour, type, status and slot in the writer's transaction, and held its lock until that transaction
-- committed: for a capture, across a round trip to the Host and the commit's fsync. Every concurrent capture of one
-- merchant whose trx_id hashed to the same of eight slots waited for it. Now each change appends its deltas (an
-- insert locks nothing another writer wants), and a fold moves them into the totals in one statement, so a reader's
-- snapshot finds every delta exactly once: in the deltas or in the totals.
CREATE TABLE transactions.list_count_deltas (
    merchant_id text COLLATE "C" NOT NULL,
    span        "char" NOT NULL CHECK (span IN ('d', 'h')),
    bucket      timestamptz NOT NULL,
    type        text COLLATE "C" NOT NULL,
    status      text COLLATE "C" NOT NULL,
    n           bigint NOT NULL
);
CREATE INDEX list_count_deltas_by_merchant ON transactions.list_count_deltas (merchant_id, span, bucket);

-- The totals lose their slots: only folds write them now, one statement at a time.
ALTER TABLE transactions.list_counts DROP CONSTRAINT list_counts_pkey;
WITH merged AS (DELETE FROM transactions.list_counts RETURNING merchant_id, span, bucket, type, status, n)
INSERT INTO transactions.list_counts (merchant_id, span, bucket, type, status, slot, n)
SELECT merchant_id, span, bucket, type, status, 0, sum(n) FROM merged GROUP BY 1, 2, 3, 4, 5 HAVING sum(n) <> 0;
ALTER TABLE transactions.list_counts DROP COLUMN slot;
ALTER TABLE transactions.list_counts ADD PRIMARY KEY (merchant_id, span, bucket, type, status);

-- Same triggers, same transaction as the change; deltas appended instead of counters updated. Changes that leave a
-- row's merchant, created_at, type and status alone (most updates) append nothing.
CREATE OR REPLACE FUNCTION transactions.count_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO transactions.list_count_deltas (merchant_id, span, bucket, type, status, n)
        SELECT merchant_id, s.span, date_trunc(s.unit, created_at, 'UTC'), type, status, count(*)
          FROM new_rows CROSS JOIN (VALUES ('d'::"char", 'day'), ('h'::"char", 'hour')) s(span, unit)
         GROUP BY 1, 2, 3, 4, 5;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO transactions.list_count_deltas (merchant_id, span, bucket, type, status, n)
        SELECT merchant_id, s.span, date_trunc(s.unit, created_at, 'UTC'), type, status, sum(d)
          FROM (SELECT merchant_id, created_at, type, status, 1 AS d FROM new_rows
                UNION ALL
                SELECT merchant_id, created_at, type, status, -1 FROM old_rows) u
               CROSS JOIN (VALUES ('d'::"char", 'day'), ('h'::"char", 'hour')) s(span, unit)
         GROUP BY 1, 2, 3, 4, 5 HAVING sum(d) <> 0;
    ELSE
        INSERT INTO transactions.list_count_deltas (merchant_id, span, bucket, type, status, n)
        SELECT merchant_id, s.span, date_trunc(s.unit, created_at, 'UTC'), type, status, -count(*)
          FROM old_rows CROSS JOIN (VALUES ('d'::"char", 'day'), ('h'::"char", 'hour')) s(span, unit)
         GROUP BY 1, 2, 3, 4, 5;
    END IF;
    RETURN NULL;
END $$;

-- Moves up to p_limit deltas into the totals and returns how many it moved. Delete and upsert are one statement, so
-- they commit together. Folds may run at once on every Host: a delta another fold deleted first is skipped, and the
-- totals are upserted in key order (no deadlock between folds).
CREATE FUNCTION transactions.fold_list_counts(p_limit int) RETURNS bigint LANGUAGE sql AS $$
    WITH taken AS (
        DELETE FROM transactions.list_count_deltas
         WHERE ctid = ANY (ARRAY(SELECT ctid FROM transactions.list_count_deltas LIMIT p_limit))
        RETURNING merchant_id, span, bucket, type, status, n),
    folded AS (
        INSERT INTO transactions.list_counts AS c (merchant_id, span, bucket, type, status, n)
        SELECT merchant_id, span, bucket, type, status, sum(n) FROM taken
         GROUP BY 1, 2, 3, 4, 5 HAVING sum(n) <> 0 ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (merchant_id, span, bucket, type, status) DO UPDATE SET n = c.n + excluded.n)
    SELECT count(*) FROM taken
$$;
