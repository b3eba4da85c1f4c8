// Prisma queries for connections; every read takes the caller's tenant scope.
import type { PrismaClient } from '../../db/database.js'
import type { Connection, Prisma } from '../../generated/prisma/client.js'
import type { TenantScope } from '../../lib/caller.js'
import type { ConnectionStatus, ProbeReport } from './connections.schemas.js'
import { CREATED_ORDER, createdAfter, type CreatedKey } from '../../db/keyset.js'

type Db = Pick<PrismaClient, 'connection'>

export type ConnectionRow = Connection

const tenant = (scope: TenantScope) => (scope.customerId === null ? {} : { customerId: scope.customerId })

export function createConnectionsRepository () {
  return {
    /** Inserts an active connection, or returns null when the external ID already has a live one. */
    async insertActive (db: Db, data: { customerId: string, externalIdId: string, awsAccountId: string, roleArn: string, verification: ProbeReport, verifiedAt: Date }): Promise<ConnectionRow | null> {
      const [created] = await db.connection.createManyAndReturn({
        data: [{ ...data, verification: data.verification as unknown as Prisma.InputJsonObject }],
        skipDuplicates: true
      })
      return created ?? null
    },
    findById (db: Db, scope: TenantScope, id: string) {
      return db.connection.findFirst({ where: { id, ...tenant(scope) } })
    },
    /** The connection with what issuance needs of its customer and external ID, in one query. */
    findForIssuance (db: Db, scope: TenantScope, id: string) {
      return db.connection.findFirst({
        where: { id, ...tenant(scope) },
        include: { customer: { select: { status: true } }, externalId: { select: { value: true } } }
      })
    },
    findLiveForExternalId (db: Db, scope: TenantScope, externalIdId: string) {
      return db.connection.findFirst({ where: { externalIdId, status: { not: 'revoked' }, ...tenant(scope) } })
    },
    list (db: Db, scope: TenantScope, customerId: string, filter: { awsAccountId?: string | undefined, status?: ConnectionStatus | undefined }, page: { limit: number, after?: CreatedKey | undefined }) {
      if (scope.customerId !== null && scope.customerId !== customerId) return Promise.resolve([])
      const { after } = page
      return db.connection.findMany({
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
    /** Records a probe; moves the status only if the connection is still in `from` (not revoked meanwhile). */
    async recordProbe (db: Db, id: string, from: ConnectionStatus, to: ConnectionStatus, report: ProbeReport, at: Date): Promise<boolean> {
      const { count } = await db.connection.updateMany({
        where: { id, status: from },
        data: { status: to, verification: report as unknown as Prisma.InputJsonObject, verifiedAt: at, ...(from === to ? {} : { statusChangedAt: at }) }
      })
      return count === 1
    },
    async setStatus (db: Db, id: string, from: ConnectionStatus, to: ConnectionStatus, at: Date): Promise<boolean> {
      const { count } = await db.connection.updateMany({ where: { id, status: from }, data: { status: to, statusChangedAt: at } })
      return count === 1
    },
    /** Revokes the live connection of an external ID, if any; returns it. */
    async revokeLiveForExternalId (db: Db, externalIdId: string, reason: string, at: Date): Promise<ConnectionRow | null> {
      const live = await db.connection.findFirst({ where: { externalIdId, status: { not: 'revoked' } } })
      if (live === null) return null
      await db.connection.updateMany({ where: { id: live.id, status: live.status }, data: { status: 'revoked', revokedAt: at, revokeReason: reason, statusChangedAt: at } })
      return live
    }
  }
}

export type ConnectionsRepository = ReturnType<typeof createConnectionsRepository>
