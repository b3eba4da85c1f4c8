-- deputy: guards for the rotation migration, found in review and by the benchmark.
-- 1. The one-active-ID trigger checks under READ COMMITTED only (a REPEATABLE READ snapshot
--    would not see an insert that committed while it waited for the lock).
-- 2. A lock-free backstop: one active successor per predecessor.
-- 3. The index the dropped unique index used to provide: mints and the trigger look up the active
--    IDs of one (customer, account) (a sequential scan without it; measured in bench/RESULTS.md).

CREATE OR REPLACE FUNCTION "external_ids_one_active_per_account"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    active_ids UUID[];
    predecessor "external_ids"%ROWTYPE;
BEGIN
    IF NEW."status" <> 'active' THEN
        RETURN NEW;
    END IF;
    -- The check reads what committed before the lock was granted: only READ COMMITTED takes a
    -- new snapshot for it (a REPEATABLE READ transaction would check against its old one).
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'external IDs are inserted under READ COMMITTED only (this transaction is %)', current_setting('transaction_isolation')
            USING ERRCODE = 'invalid_transaction_state';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('deputy.external-ids:' || NEW."customer_id" || ':' || NEW."aws_account_id", 0));
    SELECT array_agg("id" ORDER BY "id") INTO active_ids FROM "external_ids"
        WHERE "customer_id" = NEW."customer_id" AND "aws_account_id" = NEW."aws_account_id" AND "status" = 'active';
    IF NEW."predecessor_id" IS NULL THEN
        IF active_ids IS NOT NULL THEN
            RAISE EXCEPTION 'external_ids_one_active_per_account: customer % already has an active external ID for account %', NEW."customer_id", NEW."aws_account_id"
                USING ERRCODE = 'unique_violation', CONSTRAINT = 'external_ids_one_active_per_account';
        END IF;
        RETURN NEW;
    END IF;
    SELECT * INTO predecessor FROM "external_ids" WHERE "id" = NEW."predecessor_id";
    IF NOT FOUND OR predecessor."customer_id" <> NEW."customer_id" OR predecessor."aws_account_id" <> NEW."aws_account_id" THEN
        RAISE EXCEPTION 'the predecessor of a successor external ID must belong to the same customer and account'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'external_ids_predecessor_match';
    END IF;
    IF active_ids IS DISTINCT FROM ARRAY[NEW."predecessor_id"] THEN
        RAISE EXCEPTION 'external_ids_one_active_per_account: a successor needs its predecessor % to be the only active external ID of the account', NEW."predecessor_id"
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'external_ids_one_active_per_account';
    END IF;
    RETURN NEW;
END
$$;
CREATE UNIQUE INDEX "external_ids_one_active_successor" ON "external_ids"("predecessor_id")
    WHERE "status" = 'active' AND "predecessor_id" IS NOT NULL;
CREATE INDEX "external_ids_customer_account_idx" ON "external_ids"("customer_id", "aws_account_id");
