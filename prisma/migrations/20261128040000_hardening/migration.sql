-- deputy: hardening. A connection can only be registered for an external ID that is still
-- active when the row is inserted. The check takes a share lock on the external ID row, so a
-- concurrent retirement (which updates that row) either commits first, and the insert is
-- refused, or waits for the insert to commit, and then revokes the new connection too.

CREATE FUNCTION "connections_require_active_external_id"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    id_status "external_id_status";
    id_customer UUID;
    id_account TEXT;
BEGIN
    SELECT "status", "customer_id", "aws_account_id" INTO id_status, id_customer, id_account
        FROM "external_ids" WHERE "id" = NEW."external_id_id" FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'external ID % does not exist', NEW."external_id_id" USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF id_status <> 'active' THEN
        RAISE EXCEPTION 'external ID % is retired: no new connection may use it', NEW."external_id_id"
            USING ERRCODE = 'check_violation', CONSTRAINT = 'connections_external_id_active';
    END IF;
    IF id_customer <> NEW."customer_id" OR id_account <> NEW."aws_account_id" THEN
        RAISE EXCEPTION 'connection % does not match the customer and account of external ID %', NEW."id", NEW."external_id_id"
            USING ERRCODE = 'check_violation', CONSTRAINT = 'connections_external_id_match';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER "connections_require_active_external_id" BEFORE INSERT ON "connections"
    FOR EACH ROW EXECUTE FUNCTION "connections_require_active_external_id"();

-- The per-customer probe budget counts a customer's recent probes: one index range per check.
CREATE INDEX "audit_events_customer_action_time_idx" ON "audit_events"("customer_id", "action", "occurred_at");
