-- deputy: controls a tenant cannot undo. A suspension records who imposed it (the vendor, or a
-- client bound to the customer), so a tenant lifts only its own; offboarding, being final, gets
-- a scope of its own instead of riding on customers:write.

CREATE TYPE "suspension_origin" AS ENUM ('vendor', 'tenant');
ALTER TABLE "customers" ADD COLUMN "suspended_by" "suspension_origin";
-- Suspensions imposed before this migration cannot be told apart: the vendor's, so no tenant
-- can lift one it may not have imposed.
UPDATE "customers" SET "suspended_by" = 'vendor' WHERE "status" = 'suspended';

ALTER TABLE "api_clients" DROP CONSTRAINT "api_clients_scopes_check";
ALTER TABLE "api_clients" ADD CONSTRAINT "api_clients_scopes_check" CHECK (
    cardinality("scopes") >= 1
    AND "scopes" <@ ARRAY['admin', 'customers:read', 'customers:write', 'customers:offboard',
                          'external-ids:read', 'external-ids:write', 'audit:read', 'connections:read',
                          'connections:write', 'credentials:issue', 'metrics:read']::TEXT[]);
