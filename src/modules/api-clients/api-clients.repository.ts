// Prisma queries for API clients.
import type { PrismaClient } from '../../db/database.js'
import { violatedUniqueIndex } from '../../db/errors.js'
import type { ApiClient } from '../../generated/prisma/client.js'
import type { Scope } from './scopes.js'
import { CREATED_ORDER, createdAfter } from '../../db/keyset.js'

type Db = Pick<PrismaClient, 'apiClient'>
type SqlDb = Pick<PrismaClient, '$queryRaw'>

export type ApiClientRow = ApiClient

export function createApiClientsRepository () {
  return {
    insert (db: Db, data: { name: string, tokenHash: string, scopes: Scope[], customerId: string | null, createdBy: string | null }) {
      return db.apiClient.create({ data })
    },
    findByTokenHash (db: Db, tokenHash: string) {
      return db.apiClient.findUnique({ where: { tokenHash } })
    },
    findById (db: Db, id: string) {
      return db.apiClient.findUnique({ where: { id } })
    },
    /**
     * Locks a client's row for revocation (FOR UPDATE): an issuance holding its share lock
     * commits first, and one that reaches it later waits and then reads the revocation.
     */
    async lockForRevoke (db: SqlDb, id: string): Promise<boolean> {
      const rows = await db.$queryRaw<Array<{ id: string }>>`SELECT "id"::text AS "id" FROM "api_clients" WHERE "id" = ${id}::uuid FOR UPDATE`
      return rows.length === 1
    },
    /**
     * Whether a client is revoked, under a share lock held until the transaction ends (an
     * issuance's audited commit): a revocation either committed first or waits. Null: no such client.
     */
    async lockRevokedForIssuance (db: SqlDb, id: string): Promise<boolean | null> {
      const rows = await db.$queryRaw<Array<{ revoked: boolean }>>`SELECT "revoked_at" IS NOT NULL AS "revoked" FROM "api_clients" WHERE "id" = ${id}::uuid FOR SHARE`
      return rows[0]?.revoked ?? null
    },
    countActiveAdmins (db: Db) {
      return db.apiClient.count({ where: { revokedAt: null, scopes: { has: 'admin' } } })
    },
    list (db: Db, page: { limit: number, after?: { createdAt: Date, id: string } | undefined }) {
      const { after } = page
      return db.apiClient.findMany({
        where: createdAfter(after),
        orderBy: CREATED_ORDER,
        take: page.limit + 1
      })
    },
    isTokenHashConflict (error: unknown): boolean {
      return violatedUniqueIndex(error) === 'api_clients_token_hash_key'
    },
    revoke (db: Db, id: string, at: Date) {
      return db.apiClient.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: at } })
    },
    /** Revokes every live client bound to a customer (offboarding); returns them as they are now. */
    revokeBoundToCustomer (db: Db, customerId: string, at: Date): Promise<ApiClientRow[]> {
      return db.apiClient.updateManyAndReturn({ where: { customerId, revokedAt: null }, data: { revokedAt: at } })
    }
  }
}

export type ApiClientsRepository = ReturnType<typeof createApiClientsRepository>
