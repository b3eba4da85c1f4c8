// Prisma queries for external IDs. There is deliberately no method that changes a value: the
// only write after insert is retire(), and the database trigger refuses anything else.
import type { PrismaClient } from '../../db/database.js'
import type { ExternalId } from '../../generated/prisma/client.js'
import type { TenantScope } from '../../lib/caller.js'
import { CREATED_ORDER, createdAfter, type CreatedKey } from '../../db/keyset.js'
import { advisoryXactLock } from '../../db/locks.js'

type Db = Pick<PrismaClient, 'externalId'>
type SqlDb = Pick<PrismaClient, '$executeRaw'>

export type ExternalIdRow = ExternalId

export function createExternalIdsRepository () {
  return {
    /**
     * Takes the (customer, account) lock the database's one-active-ID trigger takes (see the
     * rotation migration), so a mint or a rotation can read what is active and then insert
     * without a concurrent one slipping in between. Held until the transaction ends.
     */
    async lockAccount (db: SqlDb, customerId: string, awsAccountId: string): Promise<void> {
      await advisoryXactLock(db, `deputy.external-ids:${customerId}:${awsAccountId}`)
    },
    /** Every active ID of a (customer, account): one, or a predecessor and its successor. */
    listActiveForAccount (db: Db, customerId: string, awsAccountId: string) {
      return db.externalId.findMany({ where: { customerId, awsAccountId, status: 'active' }, orderBy: { createdAt: 'asc' } })
    },
    /** Inserts an active external ID (a successor when predecessorId is set); call under lockAccount. */
    insertActive (db: Db, data: { customerId: string, awsAccountId: string, value: string, predecessorId?: string }): Promise<ExternalIdRow> {
      return db.externalId.create({ data })
    },
    /**
     * The id of the active successor of an external ID, share-locked so that it cannot be retired
     * (the rotation abandoned) until this transaction ends; null when there is none.
     */
    async lockActiveSuccessor (db: Pick<PrismaClient, '$queryRaw'>, predecessorId: string): Promise<string | null> {
      const rows = await db.$queryRaw<Array<{ id: string }>>`SELECT "id" FROM "external_ids" WHERE "predecessor_id" = ${predecessorId}::uuid AND "status" = 'active' FOR SHARE`
      return rows[0]?.id ?? null
    },
    /** The active successor of an external ID (a rotation under way), if any. */
    findActiveSuccessor (db: Db, predecessorId: string) {
      return db.externalId.findFirst({ where: { predecessorId, status: 'active' } })
    },
    findById (db: Db, scope: TenantScope, id: string) {
      return db.externalId.findFirst({ where: { id, customerId: scope.customerId ?? undefined } })
    },
    list (db: Db, scope: TenantScope, customerId: string, filter: { awsAccountId?: string | undefined, status?: 'active' | 'retired' | undefined }, page: { limit: number, after?: CreatedKey | undefined }) {
      if (scope.customerId !== null && scope.customerId !== customerId) return Promise.resolve([])
      const { after } = page
      return db.externalId.findMany({
        where: {
          customerId,
          awsAccountId: filter.awsAccountId,
          status: filter.status,
          ...createdAfter(after)
        },
        orderBy: CREATED_ORDER,
        take: page.limit + 1
      })
    },
    /** Retires every active ID of a customer (offboarding); returns them as they are now. */
    retireActiveForCustomer (db: Db, customerId: string, reason: string, at: Date): Promise<ExternalIdRow[]> {
      return db.externalId.updateManyAndReturn({
        where: { customerId, status: 'active' },
        data: { status: 'retired', retiredAt: at, retireReason: reason }
      })
    },
    /** Moves an active ID to retired; returns false when it was not active any more. */
    async retire (db: Db, scope: TenantScope, id: string, reason: string, at: Date): Promise<boolean> {
      const { count } = await db.externalId.updateMany({
        where: { id, status: 'active', customerId: scope.customerId ?? undefined },
        data: { status: 'retired', retiredAt: at, retireReason: reason }
      })
      return count === 1
    }
  }
}

export type ExternalIdsRepository = ReturnType<typeof createExternalIdsRepository>
