// The one-row issuance_freeze table: the emergency stop every replica reads.
import type { PrismaClient } from '../../db/database.js'
import type { IssuanceFreeze } from '../../generated/prisma/client.js'

type Db = Pick<PrismaClient, 'issuanceFreeze'>
type SqlDb = Pick<PrismaClient, '$queryRaw'>

export type IssuanceFreezeRow = IssuanceFreeze

export function createIssuanceFreezeRepository () {
  return {
    /** The state as committed now (no lock): the check before STS is asked, and /readyz. */
    async read (db: Db): Promise<IssuanceFreezeRow> {
      return db.issuanceFreeze.findUniqueOrThrow({ where: { id: true } })
    },
    /**
     * Locks the row FOR UPDATE: issuance reads it FOR SHARE in the transaction that commits its
     * audit event, so a freeze either commits first (and is seen) or waits for that issuance.
     */
    async lock (db: SqlDb): Promise<boolean> {
      const rows = await db.$queryRaw<Array<{ frozen: boolean }>>`SELECT "frozen" FROM "issuance_freeze" WHERE "id" FOR UPDATE`
      return rows[0]?.frozen ?? false
    },
    async set (db: Db, state: { frozen: boolean, reason: string | null, changedBy: string | null, at: Date }): Promise<IssuanceFreezeRow> {
      return db.issuanceFreeze.update({ where: { id: true }, data: { frozen: state.frozen, reason: state.reason, changedBy: state.changedBy, changedAt: state.at } })
    }
  }
}

export type IssuanceFreezeRepository = ReturnType<typeof createIssuanceFreezeRepository>
