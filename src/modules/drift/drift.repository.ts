// The drift scheduler's SQL: claiming due connections and counting what is due. Drift detection
// re-probes every connection that can still change: active, insecure and failed.
import type { PrismaClient } from '../../db/database.js'
import { advisoryXactLock } from '../../db/locks.js'

type SqlDb = Pick<PrismaClient, '$queryRaw' | '$executeRaw'>

export function createDriftRepository () {
  return {
    /**
     * Claims up to `max` due connections for this replica, within the shared rate: at most
     * `perMinute` claims in any 60 s, counted over every replica's claims (probe_claimed_at)
     * under one advisory lock, so two replicas never both spend the same minute's budget. Each
     * claimed row's next_probe_at moves past `leaseMs` in the same statement, so no other replica
     * takes it while it is probed; a replica that dies mid-probe leaves it due again when the
     * lease runs out. SKIP LOCKED passes over rows an issuance or a revocation holds right now:
     * they stay due and are claimed at the next tick. Only customers that are active are probed.
     */
    async claimDue (db: SqlDb, options: { max: number, perMinute: number, leaseMs: number }): Promise<Array<{ id: string, claimedAt: Date }>> {
      await advisoryXactLock(db, 'deputy.drift-claim')
      // clock_timestamp(), not now(): the transaction may have waited for the lock.
      const [spent] = await db.$queryRaw<Array<{ claims: number }>>`
        SELECT count(*)::int AS "claims" FROM "connections" WHERE "probe_claimed_at" > clock_timestamp() - interval '60 seconds'`
      const room = Math.min(options.max, options.perMinute - (spent?.claims ?? 0))
      if (room <= 0) return []
      // The claim time is the claim's token (to the millisecond, as JavaScript holds it): a probe
      // is stored only while the row still carries it (see recordProbe).
      return db.$queryRaw<Array<{ id: string, claimedAt: Date }>>`
        WITH "due" AS (
          SELECT c."id"
            FROM "connections" c
            JOIN "customers" cu ON cu."id" = c."customer_id"
           WHERE c."status" IN ('active', 'insecure', 'failed')
             AND cu."status" = 'active'
             AND (c."next_probe_at" IS NULL OR c."next_probe_at" <= clock_timestamp())
           ORDER BY c."next_probe_at" ASC NULLS FIRST
           LIMIT ${room}
             FOR UPDATE OF c SKIP LOCKED),
        "at" AS (SELECT date_trunc('milliseconds', clock_timestamp()) AS "t")
        UPDATE "connections" c
           SET "next_probe_at" = "at"."t" + ${options.leaseMs} * interval '1 millisecond', "probe_claimed_at" = "at"."t"
          FROM "due", "at"
         WHERE c."id" = "due"."id"
        RETURNING c."id", c."probe_claimed_at" AS "claimedAt"`
    },

    /** How many connections are due and not claimed: the scheduler's backlog. */
    async countDue (db: SqlDb): Promise<number> {
      const [row] = await db.$queryRaw<Array<{ due: number }>>`
        SELECT count(*)::int AS "due"
          FROM "connections" c
          JOIN "customers" cu ON cu."id" = c."customer_id"
         WHERE c."status" IN ('active', 'insecure', 'failed')
           AND cu."status" = 'active'
           AND (c."next_probe_at" IS NULL OR c."next_probe_at" <= now())`
      return row?.due ?? 0
    }
  }
}

export type DriftRepository = ReturnType<typeof createDriftRepository>
