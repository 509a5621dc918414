-- Each subscribing module takes an event on its own (ADR 35): the row records which have it, and is dispatched once
-- all have. A module that fails an event retries it alone; the others neither wait for it nor run the event again.
-- Rows pending at the upgrade have no marks, so every module gets them once more (handlers are idempotent).
ALTER TABLE transactions.outbox ADD COLUMN delivered_to text[] NOT NULL DEFAULT '{}';
-- How often a module failed the row: its retry waits 1, 2, 4 … seconds after each failure, at most a lease.
ALTER TABLE transactions.outbox ADD COLUMN failures int NOT NULL DEFAULT 0;
