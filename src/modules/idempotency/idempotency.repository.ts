// Storage of Idempotency-Key records (one per API client and key).
import type { PrismaClient } from '../../db/database.js'
import type { Prisma } from '../../generated/prisma/client.js'

type Db = Pick<PrismaClient, 'idempotencyKey'>

/**
 * One claim of a key. A retaken claim (after the first went stale or expired) is a new row with a
 * later `createdAt`, so (client, key, createdAt) names a claim without a column of its own.
 */
export interface Claim {
  clientId: string
  key: string
  createdAt: Date
}

export function createIdempotencyRepository () {
  return {
    /**
     * Claims the key; false when a record for it already exists. `createdAt` is set here, in
     * milliseconds (it round-trips exactly), because it identifies the claim afterwards.
     */
    async claim (db: Db, data: { clientId: string, key: string, requestHash: string, createdAt: Date, expiresAt: Date }): Promise<boolean> {
      const { count } = await db.idempotencyKey.createMany({ data: [{ ...data, state: 'pending' }], skipDuplicates: true })
      return count === 1
    },
    find (db: Db, clientId: string, key: string) {
      return db.idempotencyKey.findUnique({ where: { clientId_key: { clientId, key } } })
    },
    /** Completes this claim (and no later one of the same key); count 0 when it was taken over. */
    complete (db: Db, claim: Claim, statusCode: number, response: Prisma.InputJsonValue) {
      return db.idempotencyKey.updateMany({ where: { clientId: claim.clientId, key: claim.key, state: 'pending', createdAt: claim.createdAt }, data: { state: 'completed', statusCode, response } })
    },
    /** Deletes up to `limit` expired records; returns how many. */
    async purgeExpired (db: Db, before: Date, limit: number): Promise<number> {
      const expired = await db.idempotencyKey.findMany({ where: { expiresAt: { lt: before } }, select: { clientId: true, key: true }, take: limit })
      if (expired.length === 0) return 0
      const { count } = await db.idempotencyKey.deleteMany({ where: { OR: expired, expiresAt: { lt: before } } })
      return count
    },
    /** Deletes this pending claim, if it is still the key's record: a release or a stale takeover. */
    removeClaim (db: Db, claim: Claim) {
      return db.idempotencyKey.deleteMany({ where: { clientId: claim.clientId, key: claim.key, state: 'pending', createdAt: claim.createdAt } })
    },
    /** Deletes the key's record if it has expired. */
    removeExpired (db: Db, clientId: string, key: string, before: Date) {
      return db.idempotencyKey.deleteMany({ where: { clientId, key, expiresAt: { lt: before } } })
    }
  }
}

export type IdempotencyRepository = ReturnType<typeof createIdempotencyRepository>
