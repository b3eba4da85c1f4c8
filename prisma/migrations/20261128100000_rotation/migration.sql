-- deputy: two-step rotation of external IDs. A successor is minted for the same customer and
-- account, linked to its predecessor; both are active until the customer's role accepts the
-- successor, then the connection moves to it and the predecessor is retired. Nothing changes in
-- place: the link is set at insert and never changes.

ALTER TABLE "external_ids" ADD COLUMN "predecessor_id" UUID;
ALTER TABLE "external_ids" ADD CONSTRAINT "external_ids_predecessor_id_fkey"
    FOREIGN KEY ("predecessor_id") REFERENCES "external_ids"("id") ON DELETE RESTRICT ON UPDATE RESTRICT;
CREATE INDEX "external_ids_predecessor_idx" ON "external_ids"("predecessor_id");

-- The predecessor link is as immutable as the value.
CREATE OR REPLACE FUNCTION "external_ids_guard"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'external_ids are never deleted: external ID % stays on record so it is never issued again', OLD."id";
    END IF;
    IF NEW."id" IS DISTINCT FROM OLD."id" OR NEW."value" IS DISTINCT FROM OLD."value"
        OR NEW."customer_id" IS DISTINCT FROM OLD."customer_id"
        OR NEW."aws_account_id" IS DISTINCT FROM OLD."aws_account_id"
        OR NEW."created_at" IS DISTINCT FROM OLD."created_at"
        OR NEW."predecessor_id" IS DISTINCT FROM OLD."predecessor_id" THEN
        RAISE EXCEPTION 'external ID % is immutable: value, customer, account, predecessor and creation time never change', OLD."id";
    END IF;
    IF OLD."status" <> 'active' OR NEW."status" <> 'retired' THEN
        RAISE EXCEPTION 'external ID % status may only move once from active to retired (was %, asked %)',
            OLD."id", OLD."status", NEW."status";
    END IF;
    RETURN NEW;
END
$$;

-- One active external ID per customer and AWS account, except during a rotation: then exactly
-- the predecessor and its successor. A unique index cannot say "or its successor", so a trigger
-- does, serialised per (customer, account) by a transaction-scoped advisory lock: of two
-- concurrent inserts, the second checks after the first has committed. Only inserts can add an
-- active ID (the only status change is to retired), so checking them keeps the rule.
DROP INDEX "external_ids_one_active_per_account";
CREATE FUNCTION "external_ids_one_active_per_account"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    active_ids UUID[];
    predecessor "external_ids"%ROWTYPE;
BEGIN
    IF NEW."status" <> 'active' THEN
        RETURN NEW;
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
CREATE TRIGGER "external_ids_one_active_per_account" BEFORE INSERT ON "external_ids"
    FOR EACH ROW EXECUTE FUNCTION "external_ids_one_active_per_account"();

-- A connection's external ID changes once per rotation, and only to the active successor of the
-- one it has: the customer's role was probed with the successor before the move.
CREATE OR REPLACE FUNCTION "connections_guard"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'connections are never deleted: revoke connection % instead', OLD."id";
    END IF;
    IF NEW."id" IS DISTINCT FROM OLD."id" OR NEW."customer_id" IS DISTINCT FROM OLD."customer_id"
        OR NEW."aws_account_id" IS DISTINCT FROM OLD."aws_account_id"
        OR NEW."role_arn" IS DISTINCT FROM OLD."role_arn"
        OR NEW."created_at" IS DISTINCT FROM OLD."created_at" THEN
        RAISE EXCEPTION 'connection % is immutable: customer, account and role ARN never change', OLD."id";
    END IF;
    IF OLD."status" = 'revoked' THEN
        RAISE EXCEPTION 'connection % is revoked; revocation is final', OLD."id";
    END IF;
    IF NEW."external_id_id" IS DISTINCT FROM OLD."external_id_id" AND NOT EXISTS (
        SELECT 1 FROM "external_ids"
         WHERE "id" = NEW."external_id_id" AND "predecessor_id" = OLD."external_id_id" AND "status" = 'active'
         FOR SHARE) THEN
        RAISE EXCEPTION 'connection % may only move to the active successor of its external ID', OLD."id";
    END IF;
    RETURN NEW;
END
$$;
