-- deputy: the external-ID registry, API clients, idempotency keys and the audit trail.
-- Hand-written (see src/db/migrate.ts); prisma/schema.prisma models the same tables.

CREATE TYPE "customer_status" AS ENUM ('active', 'suspended');
CREATE TYPE "external_id_status" AS ENUM ('active', 'retired');
CREATE TYPE "audit_outcome" AS ENUM ('success', 'failure', 'denied');

CREATE TABLE "customers" (
    "id"           UUID NOT NULL DEFAULT gen_random_uuid(),
    "name"         TEXT NOT NULL,
    "external_ref" TEXT,
    "status"       "customer_status" NOT NULL DEFAULT 'active',
    "created_at"   TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "customers_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "customers_name_check" CHECK (length("name") BETWEEN 1 AND 200)
);
CREATE UNIQUE INDEX "customers_external_ref_key" ON "customers"("external_ref");
CREATE INDEX "customers_created_at_id_idx" ON "customers"("created_at", "id");

CREATE TABLE "api_clients" (
    "id"          UUID NOT NULL DEFAULT gen_random_uuid(),
    "name"        TEXT NOT NULL,
    "token_hash"  TEXT NOT NULL,
    "scopes"      TEXT[] NOT NULL,
    "customer_id" UUID,
    "created_by"  UUID,
    "created_at"  TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revoked_at"  TIMESTAMPTZ(6),
    CONSTRAINT "api_clients_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "api_clients_token_hash_check" CHECK ("token_hash" ~ '^[0-9a-f]{64}$'),
    CONSTRAINT "api_clients_scopes_check" CHECK (
        cardinality("scopes") >= 1
        AND "scopes" <@ ARRAY['admin', 'customers:read', 'customers:write', 'external-ids:read',
                              'external-ids:write', 'audit:read']::TEXT[]),
    -- An admin client reaches every customer, so it cannot also be bound to one.
    CONSTRAINT "api_clients_admin_unbound_check" CHECK (NOT ('admin' = ANY ("scopes") AND "customer_id" IS NOT NULL))
);
CREATE UNIQUE INDEX "api_clients_token_hash_key" ON "api_clients"("token_hash");
CREATE INDEX "api_clients_created_at_id_idx" ON "api_clients"("created_at", "id");
ALTER TABLE "api_clients" ADD CONSTRAINT "api_clients_customer_id_fkey"
    FOREIGN KEY ("customer_id") REFERENCES "customers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

CREATE TABLE "external_ids" (
    "id"             UUID NOT NULL DEFAULT gen_random_uuid(),
    "customer_id"    UUID NOT NULL,
    "aws_account_id" TEXT NOT NULL,
    "value"          UUID NOT NULL,
    "status"         "external_id_status" NOT NULL DEFAULT 'active',
    "created_at"     TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "retired_at"     TIMESTAMPTZ(6),
    "retire_reason"  TEXT,
    CONSTRAINT "external_ids_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "external_ids_aws_account_id_check" CHECK ("aws_account_id" ~ '^[0-9]{12}$'),
    -- Only random (version 4) UUIDs: an external ID must not be guessable.
    CONSTRAINT "external_ids_value_v4_check"
        CHECK ("value"::TEXT ~ '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'),
    CONSTRAINT "external_ids_retired_check" CHECK (
        ("status" = 'active' AND "retired_at" IS NULL AND "retire_reason" IS NULL)
        OR ("status" = 'retired' AND "retired_at" IS NOT NULL))
);
-- Every value ever issued, retired or not, stays unique: a retired ID is never issued again.
CREATE UNIQUE INDEX "external_ids_value_key" ON "external_ids"("value");
CREATE UNIQUE INDEX "external_ids_one_active_per_account"
    ON "external_ids"("customer_id", "aws_account_id") WHERE "status" = 'active';
CREATE INDEX "external_ids_customer_created_idx" ON "external_ids"("customer_id", "created_at", "id");
ALTER TABLE "external_ids" ADD CONSTRAINT "external_ids_customer_id_fkey"
    FOREIGN KEY ("customer_id") REFERENCES "customers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- External IDs are immutable once issued; the only change is one move from active to retired.
CREATE FUNCTION "external_ids_guard"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'external_ids are never deleted: external ID % stays on record so it is never issued again', OLD."id";
    END IF;
    IF NEW."id" IS DISTINCT FROM OLD."id" OR NEW."value" IS DISTINCT FROM OLD."value"
        OR NEW."customer_id" IS DISTINCT FROM OLD."customer_id"
        OR NEW."aws_account_id" IS DISTINCT FROM OLD."aws_account_id"
        OR NEW."created_at" IS DISTINCT FROM OLD."created_at" THEN
        RAISE EXCEPTION 'external ID % is immutable: value, customer, account and creation time never change', OLD."id";
    END IF;
    IF OLD."status" <> 'active' OR NEW."status" <> 'retired' THEN
        RAISE EXCEPTION 'external ID % status may only move once from active to retired (was %, asked %)',
            OLD."id", OLD."status", NEW."status";
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER "external_ids_guard" BEFORE UPDATE OR DELETE ON "external_ids"
    FOR EACH ROW EXECUTE FUNCTION "external_ids_guard"();

CREATE TABLE "audit_events" (
    "seq"             BIGSERIAL NOT NULL,
    "id"              UUID NOT NULL DEFAULT gen_random_uuid(),
    "occurred_at"     TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "actor_client_id" UUID,
    "action"          TEXT NOT NULL,
    "outcome"         "audit_outcome" NOT NULL,
    "customer_id"     UUID,
    "resource_type"   TEXT,
    "resource_id"     TEXT,
    "request_id"      TEXT,
    "source_ip"       TEXT,
    "user_agent"      TEXT,
    "details"         JSONB NOT NULL DEFAULT '{}',
    CONSTRAINT "audit_events_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "audit_events_seq_key" ON "audit_events"("seq");
CREATE INDEX "audit_events_customer_seq_idx" ON "audit_events"("customer_id", "seq");
CREATE INDEX "audit_events_action_seq_idx" ON "audit_events"("action", "seq");
CREATE INDEX "audit_events_actor_seq_idx" ON "audit_events"("actor_client_id", "seq");
CREATE INDEX "audit_events_resource_seq_idx" ON "audit_events"("resource_id", "seq");
CREATE INDEX "audit_events_occurred_at_idx" ON "audit_events"("occurred_at");

-- The audit trail is append-only. (The hash-chain sealer of a later issue appends its seals to a
-- table of its own, so this stays true.)
CREATE FUNCTION "deputy_refuse_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END
$$;
CREATE TRIGGER "audit_events_append_only" BEFORE UPDATE OR DELETE ON "audit_events"
    FOR EACH ROW EXECUTE FUNCTION "deputy_refuse_change"();
CREATE TRIGGER "audit_events_no_truncate" BEFORE TRUNCATE ON "audit_events"
    FOR EACH STATEMENT EXECUTE FUNCTION "deputy_refuse_change"();
CREATE TRIGGER "external_ids_no_truncate" BEFORE TRUNCATE ON "external_ids"
    FOR EACH STATEMENT EXECUTE FUNCTION "deputy_refuse_change"();

CREATE TABLE "idempotency_keys" (
    "client_id"    UUID NOT NULL,
    "key"          TEXT NOT NULL,
    "request_hash" TEXT NOT NULL,
    "state"        TEXT NOT NULL,
    "status_code"  INTEGER,
    "response"     JSONB,
    "created_at"   TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at"   TIMESTAMPTZ(6) NOT NULL,
    CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("client_id", "key"),
    CONSTRAINT "idempotency_keys_state_check" CHECK ("state" IN ('pending', 'completed'))
);
CREATE INDEX "idempotency_keys_expires_at_idx" ON "idempotency_keys"("expires_at");
