-- deputy: the operational half of SEC03-BP09. Customers can be offboarded for good, issuance can
-- be frozen for every replica at once, the audit trail is sealed in a hash chain, and metrics
-- have a scope of their own.

ALTER TYPE "customer_status" ADD VALUE IF NOT EXISTS 'offboarded';

-- Offboarded is final: a customer never comes back from it.
CREATE FUNCTION "customers_guard"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'customers are never deleted: offboard customer % instead', OLD."id";
    END IF;
    IF OLD."status"::text = 'offboarded' AND NEW."status"::text <> 'offboarded' THEN
        RAISE EXCEPTION 'customer % is offboarded; offboarding is final', OLD."id";
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER "customers_guard" BEFORE UPDATE OR DELETE ON "customers"
    FOR EACH ROW EXECUTE FUNCTION "customers_guard"();

ALTER TABLE "api_clients" DROP CONSTRAINT "api_clients_scopes_check";
ALTER TABLE "api_clients" ADD CONSTRAINT "api_clients_scopes_check" CHECK (
    cardinality("scopes") >= 1
    AND "scopes" <@ ARRAY['admin', 'customers:read', 'customers:write', 'external-ids:read',
                          'external-ids:write', 'audit:read', 'connections:read',
                          'connections:write', 'credentials:issue', 'metrics:read']::TEXT[]);

-- The emergency stop: one row, read by every replica before any credential leaves.
CREATE TABLE "issuance_freeze" (
    "id"         BOOLEAN NOT NULL DEFAULT true,
    "frozen"     BOOLEAN NOT NULL DEFAULT false,
    "reason"     TEXT,
    "changed_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "changed_by" UUID,
    CONSTRAINT "issuance_freeze_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "issuance_freeze_single_row" CHECK ("id"),
    CONSTRAINT "issuance_freeze_reason_check" CHECK (("frozen" AND "reason" IS NOT NULL) OR NOT "frozen")
);
INSERT INTO "issuance_freeze" ("id", "frozen") VALUES (true, false);

-- Seals over the audit trail: each covers the canonical content of the events in
-- (from_seq, through_seq] and the previous seal's hash. Append-only, like the events.
CREATE TABLE "audit_seals" (
    "id"          BIGSERIAL NOT NULL,
    "from_seq"    BIGINT NOT NULL,
    "through_seq" BIGINT NOT NULL,
    "event_count" INTEGER NOT NULL,
    "prev_hash"   TEXT NOT NULL,
    "hash"        TEXT NOT NULL,
    "sealed_at"   TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "audit_seals_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "audit_seals_range_check" CHECK ("through_seq" > "from_seq" AND "event_count" > 0),
    CONSTRAINT "audit_seals_hash_check" CHECK ("hash" ~ '^[0-9a-f]{64}$' AND "prev_hash" ~ '^[0-9a-f]{64}$')
);
CREATE UNIQUE INDEX "audit_seals_through_seq_key" ON "audit_seals"("through_seq");
CREATE UNIQUE INDEX "audit_seals_from_seq_key" ON "audit_seals"("from_seq");
CREATE TRIGGER "audit_seals_append_only" BEFORE UPDATE OR DELETE ON "audit_seals"
    FOR EACH ROW EXECUTE FUNCTION "deputy_refuse_change"();
CREATE TRIGGER "audit_seals_no_truncate" BEFORE TRUNCATE ON "audit_seals"
    FOR EACH STATEMENT EXECUTE FUNCTION "deputy_refuse_change"();
