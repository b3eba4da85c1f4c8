-- deputy: role connections (a customer role verified by the confused-deputy probe) and the
-- scopes that use them.

ALTER TABLE "api_clients" DROP CONSTRAINT "api_clients_scopes_check";
ALTER TABLE "api_clients" ADD CONSTRAINT "api_clients_scopes_check" CHECK (
    cardinality("scopes") >= 1
    AND "scopes" <@ ARRAY['admin', 'customers:read', 'customers:write', 'external-ids:read',
                          'external-ids:write', 'audit:read', 'connections:read',
                          'connections:write', 'credentials:issue']::TEXT[]);

CREATE TYPE "connection_status" AS ENUM ('active', 'insecure', 'failed', 'revoked');

CREATE TABLE "connections" (
    "id"                UUID NOT NULL DEFAULT gen_random_uuid(),
    "customer_id"       UUID NOT NULL,
    "external_id_id"    UUID NOT NULL,
    "aws_account_id"    TEXT NOT NULL,
    "role_arn"          TEXT NOT NULL,
    "status"            "connection_status" NOT NULL DEFAULT 'active',
    "verification"      JSONB NOT NULL,
    "verified_at"       TIMESTAMPTZ(6) NOT NULL,
    "status_changed_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "created_at"        TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revoked_at"        TIMESTAMPTZ(6),
    "revoke_reason"     TEXT,
    CONSTRAINT "connections_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "connections_aws_account_id_check" CHECK ("aws_account_id" ~ '^[0-9]{12}$'),
    -- The role must live in the account its external ID was minted for.
    CONSTRAINT "connections_role_arn_check" CHECK (
        "role_arn" ~ ('^arn:(aws|aws-cn|aws-us-gov):iam::' || "aws_account_id" || ':role/')),
    CONSTRAINT "connections_revoked_check" CHECK (("status" = 'revoked') = ("revoked_at" IS NOT NULL))
);
-- One live connection per external ID; revoked ones stay on record.
CREATE UNIQUE INDEX "connections_one_live_per_external_id"
    ON "connections"("external_id_id") WHERE "status" <> 'revoked';
CREATE INDEX "connections_customer_created_idx" ON "connections"("customer_id", "created_at", "id");
CREATE INDEX "connections_status_verified_idx" ON "connections"("status", "verified_at");
ALTER TABLE "connections" ADD CONSTRAINT "connections_customer_id_fkey"
    FOREIGN KEY ("customer_id") REFERENCES "customers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "connections" ADD CONSTRAINT "connections_external_id_id_fkey"
    FOREIGN KEY ("external_id_id") REFERENCES "external_ids"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- What a connection points at never changes (a new role is a new connection), it is never
-- deleted, and revoked is final.
CREATE FUNCTION "connections_guard"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'connections are never deleted: revoke connection % instead', OLD."id";
    END IF;
    IF NEW."id" IS DISTINCT FROM OLD."id" OR NEW."customer_id" IS DISTINCT FROM OLD."customer_id"
        OR NEW."external_id_id" IS DISTINCT FROM OLD."external_id_id"
        OR NEW."aws_account_id" IS DISTINCT FROM OLD."aws_account_id"
        OR NEW."role_arn" IS DISTINCT FROM OLD."role_arn"
        OR NEW."created_at" IS DISTINCT FROM OLD."created_at" THEN
        RAISE EXCEPTION 'connection % is immutable: customer, external ID, account and role ARN never change', OLD."id";
    END IF;
    IF OLD."status" = 'revoked' THEN
        RAISE EXCEPTION 'connection % is revoked; revocation is final', OLD."id";
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER "connections_guard" BEFORE UPDATE OR DELETE ON "connections"
    FOR EACH ROW EXECUTE FUNCTION "connections_guard"();
