// Storage of Idempotency-Key records (one per API client and key).
import type { PrismaClient } from '../../db/database.js'
import type { Prisma } from '../../generated/prisma/client.js'

type Db = Pick<PrismaClient, 'idempotencyKey'>

export function createIdempotencyRepository () {
  return {
    /** Claims the key; false when a record for it already exists. */
    async claim (db: Db, data: { clientId: string, key: string, requestHash: string, expiresAt: Date }): Promise<boolean> {
      const { count } = await db.idempotencyKey.createMany({ data: [{ ...data, state: 'pending' }], skipDuplicates: true })
      return count === 1
    },
    find (db: Db, clientId: string, key: string) {
      return db.idempotencyKey.findUnique({ where: { clientId_key: { clientId, key } } })
    },
    complete (db: Db, clientId: string, key: string, statusCode: number, response: Prisma.InputJsonValue) {
      return db.idempotencyKey.updateMany({ where: { clientId, key, state: 'pending' }, data: { state: 'completed', statusCode, response } })
    },
    /** Deletes up to `limit` expired records; returns how many. */
    async purgeExpired (db: Db, before: Date, limit: number): Promise<number> {
      const expired = await db.idempotencyKey.findMany({ where: { expiresAt: { lt: before } }, select: { clientId: true, key: true }, take: limit })
      if (expired.length === 0) return 0
      const { count } = await db.idempotencyKey.deleteMany({ where: { OR: expired, expiresAt: { lt: before } } })
      return count
    },
    /** Deletes the record if it matches; used to release a claim and to clear stale ones. */
    remove (db: Db, where: { clientId: string, key: string, state?: string, createdBefore?: Date, expiredBefore?: Date }) {
      return db.idempotencyKey.deleteMany({
        where: { clientId: where.clientId, key: where.key, state: where.state, createdAt: { lt: where.createdBefore }, expiresAt: { lt: where.expiredBefore } }
      })
    }
  }
}

export type IdempotencyRepository = ReturnType<typeof createIdempotencyRepository>
