// Prisma queries for API clients.
import type { PrismaClient } from '../../db/database.js'
import { violatedUniqueIndex } from '../../db/errors.js'
import type { ApiClient } from '../../generated/prisma/client.js'
import type { Scope } from './scopes.js'
import { CREATED_ORDER, createdAfter } from '../../db/keyset.js'

type Db = Pick<PrismaClient, 'apiClient'>

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
    }
  }
}

export type ApiClientsRepository = ReturnType<typeof createApiClientsRepository>
