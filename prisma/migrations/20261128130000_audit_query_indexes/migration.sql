-- deputy: indexes for the operator queries of the audit trail (GET /v1/audit-events), measured
-- over 5 million events by `npm run bench` (goal 3 of issue 9; the EXPLAIN output of each query
-- is in bench/RESULTS.md).
-- 1. By customer and time window: one customer's events in a window straight from the index,
--    seq included, so the page is chosen without reading the table (audit.repository.ts,
--    windowPage). Without it an old window read every later event of the customer (seconds).
-- 2. By customer and action, newest first: each (customer, action) in seq order, so a page is
--    the next 51 entries; the (customer, action, time) index of the probe budget made PostgreSQL
--    fetch and sort all of them.
-- The migration runner applies a migration in a transaction, where CREATE INDEX holds back
-- writes to audit_events while it builds (tens of seconds over millions of events). On a large
-- trail, create both beforehand with CREATE INDEX CONCURRENTLY and the same names: then these
-- statements find them and do nothing.
CREATE INDEX IF NOT EXISTS "audit_events_customer_time_idx" ON "audit_events"("customer_id", "occurred_at", "seq");
CREATE INDEX IF NOT EXISTS "audit_events_customer_action_seq_idx" ON "audit_events"("customer_id", "action", "seq");
