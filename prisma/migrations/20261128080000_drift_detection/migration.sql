-- deputy: drift detection. Every connection that can change under deputy's feet (active,
-- insecure, failed) carries when it is next due for a confused-deputy probe; replicas claim due
-- connections with FOR UPDATE SKIP LOCKED and push next_probe_at past a lease while they probe.
-- probe_claimed_at records each claim, so the STS call rate is counted across every replica.

ALTER TABLE "connections" ADD COLUMN "next_probe_at" TIMESTAMPTZ(6);
ALTER TABLE "connections" ADD COLUMN "probe_claimed_at" TIMESTAMPTZ(6);

-- Connections that exist before this migration are due at once (NULL sorts first); the rate
-- limit spreads them, and each then settles into its own slot of the interval.
CREATE INDEX "connections_drift_due_idx" ON "connections" ("next_probe_at" ASC NULLS FIRST)
    WHERE "status" IN ('active', 'insecure', 'failed');
CREATE INDEX "connections_probe_claimed_idx" ON "connections" ("probe_claimed_at")
    WHERE "probe_claimed_at" IS NOT NULL;
