-- The list route's `total` without counting a merchant's rows one by one: a million transactions for one merchant
-- took 230 ms to count for one status filter (docs/adr/0033). Counts per merchant, type, status and created_at
-- bucket (UTC days, and UTC hours for the day a range is cut in) are kept by statement triggers in the same
-- transaction as every change, so they cannot drift from the rows. `slot` spreads one merchant's busy hour over
-- eight rows, so concurrent writers rarely wait on the same counter row.
CREATE TABLE transactions.list_counts (
    merchant_id text COLLATE "C" NOT NULL,
    span        "char" NOT NULL CHECK (span IN ('d', 'h')),
    bucket      timestamptz NOT NULL,
    type        text COLLATE "C" NOT NULL,
    status      text COLLATE "C" NOT NULL,
    slot        smallint NOT NULL,
    -- No CHECK (n >= 0): PostgreSQL checks the row an upsert proposes (a -1) before it finds the conflict.
    n           bigint NOT NULL,
    PRIMARY KEY (merchant_id, span, bucket, type, status, slot)
);

-- One upsert per statement, rows in key order (concurrent writers lock counter rows in the same order: no deadlock).
-- Changes that leave a row's merchant, created_at, type and status alone (most updates) touch no counter.
CREATE FUNCTION transactions.count_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO transactions.list_counts AS c (merchant_id, span, bucket, type, status, slot, n)
        SELECT merchant_id, s.span, date_trunc(s.unit, created_at, 'UTC'), type, status, (hashtext(trx_id) & 7)::smallint, count(*)
          FROM new_rows CROSS JOIN (VALUES ('d'::"char", 'day'), ('h'::"char", 'hour')) s(span, unit)
         GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
        ON CONFLICT (merchant_id, span, bucket, type, status, slot) DO UPDATE SET n = c.n + excluded.n;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO transactions.list_counts AS c (merchant_id, span, bucket, type, status, slot, n)
        SELECT merchant_id, s.span, date_trunc(s.unit, created_at, 'UTC'), type, status, slot, sum(d)
          FROM (SELECT merchant_id, created_at, type, status, (hashtext(trx_id) & 7)::smallint AS slot, 1 AS d FROM new_rows
                UNION ALL
                SELECT merchant_id, created_at, type, status, (hashtext(trx_id) & 7)::smallint, -1 FROM old_rows) u
               CROSS JOIN (VALUES ('d'::"char", 'day'), ('h'::"char", 'hour')) s(span, unit)
         GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(d) <> 0 ORDER BY 1, 2, 3, 4, 5, 6
        ON CONFLICT (merchant_id, span, bucket, type, status, slot) DO UPDATE SET n = c.n + excluded.n;
    ELSE
        UPDATE transactions.list_counts c SET n = c.n - o.n
          FROM (SELECT merchant_id, s.span, date_trunc(s.unit, created_at, 'UTC') AS bucket, type, status,
                       (hashtext(trx_id) & 7)::smallint AS slot, count(*) AS n
                  FROM old_rows CROSS JOIN (VALUES ('d'::"char", 'day'), ('h'::"char", 'hour')) s(span, unit)
                 GROUP BY 1, 2, 3, 4, 5, 6) o
         WHERE (c.merchant_id, c.span, c.bucket, c.type, c.status, c.slot) = (o.merchant_id, o.span, o.bucket, o.type, o.status, o.slot);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER list_counts_insert AFTER INSERT ON transactions.transactions
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION transactions.count_changes();
CREATE TRIGGER list_counts_update AFTER UPDATE ON transactions.transactions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION transactions.count_changes();
CREATE TRIGGER list_counts_delete AFTER DELETE ON transactions.transactions
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION transactions.count_changes();

INSERT INTO transactions.list_counts (merchant_id, span, bucket, type, status, slot, n)
SELECT merchant_id, s.span, date_trunc(s.unit, created_at, 'UTC'), type, status, (hashtext(trx_id) & 7)::smallint, count(*)
  FROM transactions.transactions CROSS JOIN (VALUES ('d'::"char", 'day'), ('h'::"char", 'hour')) s(span, unit)
 GROUP BY 1, 2, 3, 4, 5, 6;

-- Sorting by status or type (ties by trx_id) without sorting the merchant's rows: the contract allows both sorts.
CREATE INDEX transactions_list_by_status ON transactions.transactions (merchant_id, status, trx_id);
CREATE INDEX transactions_list_by_type ON transactions.transactions (merchant_id, type, trx_id);
