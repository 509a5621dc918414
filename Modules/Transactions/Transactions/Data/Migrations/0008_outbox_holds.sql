-- A module that fails a merchant's event holds back that merchant's later events for itself only (ADR 35, revised).
-- Until now the failed row stayed locked until its retry, and the lease takes no merchant's row while an older one is
-- locked: every other module waited for the failing one. Now the row goes back at once with the marks of the modules
-- that took it, and the failing module's hold on the merchant lives here: it starts at the failed row, and the module
-- retries from it 1, 2, 4 … seconds after each failure (at most a lease). The relay deletes it once the module took
-- that row. Empty while every module keeps up: the lease's check of it is one index probe per row.
CREATE TABLE transactions.outbox_holds (
    merchant_id text NOT NULL,
    subscriber  text NOT NULL,
    outbox_id   bigint NOT NULL,
    failures    int NOT NULL CHECK (failures >= 1),
    retry_at    timestamptz NOT NULL,
    PRIMARY KEY (merchant_id, subscriber)
);

-- transactions.outbox.failures (0007) is no longer read or written: the count moved to the hold. It stays while a
-- rolling deploy may still run Hosts of the previous code, whose marks write it; a later migration drops it.
