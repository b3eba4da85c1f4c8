// Transaction-scoped advisory locks: serialise work on one logical key (e.g. one customer's probe
// budget) across every replica, released by COMMIT or ROLLBACK.
import type { PrismaClient } from './database.js'

export async function advisoryXactLock (db: Pick<PrismaClient, '$executeRaw'>, key: string): Promise<void> {
  await db.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${key}, 0))`
}
