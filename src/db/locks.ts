// Transaction-scoped advisory locks: serialise work on one logical key (e.g. one customer's probe
// budget, the webhook relay) across every replica, released by COMMIT or ROLLBACK.
import type { PrismaClient } from './database.js'

export async function advisoryXactLock (db: Pick<PrismaClient, '$executeRaw'>, key: string): Promise<void> {
  await db.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${key}, 0))`
}

/** Takes the lock if no other transaction holds it; never waits. */
export async function tryAdvisoryXactLock (db: Pick<PrismaClient, '$queryRaw'>, key: string): Promise<boolean> {
  const [row] = await db.$queryRaw<Array<{ locked: boolean }>>`SELECT pg_try_advisory_xact_lock(hashtextextended(${key}, 0)) AS locked`
  return row?.locked === true
}
