// Prisma queries for connections; every read takes the caller's tenant scope.
import type { PrismaClient } from '../../db/database.js'
import type { Connection, Prisma } from '../../generated/prisma/client.js'
import type { TenantScope } from '../../lib/caller.js'
import type { ConnectionStatus, ProbeReport } from './connections.schemas.js'
import { CREATED_ORDER, createdAfter, type CreatedKey } from '../../db/keyset.js'
import { databaseMessage } from '../../db/errors.js'

type Db = Pick<PrismaClient, 'connection'>
type SqlDb = Pick<PrismaClient, '$queryRaw'>

/** What issuance re-reads, under a share lock, in the transaction that commits its audit event. */
export interface IssuanceLock {
  connectionStatus: ConnectionStatus
  externalIdStatus: 'active' | 'retired'
  customerStatus: string
  /** The emergency stop (issuance_freeze), read under a share lock in the same statement. */
  issuanceFrozen: boolean
}

export type ConnectionRow = Connection

const tenant = (scope: TenantScope) => (scope.customerId === null ? {} : { customerId: scope.customerId })

export function createConnectionsRepository () {
  return {
    /**
     * Inserts an active connection; null when the external ID already has a live one, and
     * 'external_id_not_active' when the database refused it because the ID is retired.
     */
    async insertActive (db: Db, data: { id: string, customerId: string, externalIdId: string, awsAccountId: string, roleArn: string, verification: ProbeReport, verifiedAt: Date, nextProbeAt: Date }): Promise<ConnectionRow | null | 'external_id_not_active'> {
      try {
        const [created] = await db.connection.createManyAndReturn({
          data: [{ ...data, verification: data.verification as unknown as Prisma.InputJsonObject }],
          skipDuplicates: true
        })
        return created ?? null
      } catch (error) {
        if (databaseMessage(error).includes('no new connection may use it')) return 'external_id_not_active'
        throw error
      }
    },
    findById (db: Db, scope: TenantScope, id: string) {
      return db.connection.findFirst({ where: { id, ...tenant(scope) } })
    },
    /** The connection with what issuance needs of its customer and external ID, in one query. */
    /**
     * Re-reads the statuses issuance depends on and takes a share lock on the connection row:
     * every change that must stop issuance (revocation, retiring the external ID, suspending or
     * offboarding the customer) updates or locks that row in its own transaction, so it either
     * committed before this read (and is seen here) or waits until the issuing transaction has
     * committed its audit event. The freeze row is share-locked too: a freeze takes it FOR
     * UPDATE, so it either committed before this read or waits for this issuance to commit.
     */
    async lockForIssuance (db: SqlDb, id: string): Promise<IssuanceLock | null> {
      // Two statements on purpose: a suspension only locks the connection row (it updates the
      // customer), and a statement that waited for a lock still reads the other tables as of its
      // own start. Reading after the lock is granted sees everything committed before it.
      await db.$queryRaw`SELECT 1 FROM "connections" c CROSS JOIN "issuance_freeze" f WHERE c."id" = ${id}::uuid FOR SHARE OF c, f`
      const rows = await db.$queryRaw<IssuanceLock[]>`
        SELECT c."status"::text AS "connectionStatus", e."status"::text AS "externalIdStatus", cu."status"::text AS "customerStatus",
               f."frozen" AS "issuanceFrozen"
          FROM "connections" c
          JOIN "external_ids" e ON e."id" = c."external_id_id"
          JOIN "customers" cu ON cu."id" = c."customer_id"
         CROSS JOIN "issuance_freeze" f
         WHERE c."id" = ${id}::uuid`
      return rows[0] ?? null
    },
    /**
     * How many customers other than `customerId` had a connection move to failed since `since`
     * (at most `cap` counted): the circuit breaker that keeps a fault of deputy's own identity
     * from failing every tenant. Internal: it returns a count, never another tenant's data.
     */
    async countOtherCustomersFailedSince (db: Db, customerId: string, since: Date, cap: number): Promise<number> {
      const rows = await db.connection.findMany({
        where: { status: 'failed', statusChangedAt: { gte: since }, customerId: { not: customerId } },
        distinct: ['customerId'],
        select: { customerId: true },
        take: cap
      })
      return rows.length
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
    /**
     * Records a probe and when the next one is due; only if the connection is still in `from` (not
     * revoked meanwhile), was last probed before this probe started (a slow probe never overwrites
     * a newer one), and, for a drift probe, is still under the claim it was probed for.
     */
    async recordProbe (db: Db, id: string, change: { from: ConnectionStatus, externalIdId: string, to: ConnectionStatus, report: ProbeReport, at: Date, nextProbeAt: Date, claimedAt?: Date | undefined }): Promise<boolean> {
      const { from, to, report, at, nextProbeAt, claimedAt } = change
      const { count } = await db.connection.updateMany({
        // The external ID too: a probe made with an ID the connection moved away from (a rotation
        // completed meanwhile) says nothing about the connection now.
        where: { id, status: from, externalIdId: change.externalIdId, verifiedAt: { lt: at }, ...(claimedAt === undefined ? {} : { probeClaimedAt: claimedAt }) },
        data: { status: to, verification: report as unknown as Prisma.InputJsonObject, verifiedAt: at, nextProbeAt, ...(from === to ? {} : { statusChangedAt: at }) }
      })
      return count === 1
    },
    /**
     * Moves a connection to the successor of its external ID after a passing probe (the database
     * allows no other move); false when the connection changed since it was read.
     */
    async moveToSuccessor (db: Db, id: string, move: { from: string, fromStatus: ConnectionStatus, to: string, report: ProbeReport, at: Date, nextProbeAt: Date }): Promise<boolean> {
      const { count } = await db.connection.updateMany({
        where: { id, externalIdId: move.from, status: move.fromStatus },
        data: { externalIdId: move.to, status: 'active', verification: move.report as unknown as Prisma.InputJsonObject, verifiedAt: move.at, nextProbeAt: move.nextProbeAt, ...(move.fromStatus === 'active' ? {} : { statusChangedAt: move.at }) }
      })
      return count === 1
    },
    /** Moves the status if the connection is still in `from` and (when given) still on that external ID. */
    async setStatus (db: Db, id: string, from: ConnectionStatus, to: ConnectionStatus, at: Date, externalIdId?: string): Promise<boolean> {
      const { count } = await db.connection.updateMany({ where: { id, status: from, ...(externalIdId === undefined ? {} : { externalIdId }) }, data: { status: to, statusChangedAt: at } })
      return count === 1
    },
    /**
     * Revokes the live connection of an external ID, if any, and returns what was revoked, as it
     * was before (an empty list when nothing changed, so nothing is audited).
     */
    async revokeLiveForExternalId (db: Db, externalIdId: string, reason: string, at: Date): Promise<Array<Pick<ConnectionRow, 'id' | 'roleArn'>>> {
      return db.connection.updateManyAndReturn({
        where: { externalIdId, status: { not: 'revoked' } },
        data: { status: 'revoked', revokedAt: at, revokeReason: reason, statusChangedAt: at },
        select: { id: true, roleArn: true }
      })
    },
    /** Revokes one connection unless it is revoked already; null when nothing changed. */
    async revoke (db: Db, id: string, reason: string, at: Date): Promise<ConnectionRow | null> {
      const [row] = await db.connection.updateManyAndReturn({
        where: { id, status: { not: 'revoked' } },
        data: { status: 'revoked', revokedAt: at, revokeReason: reason, statusChangedAt: at }
      })
      return row ?? null
    },
    /** Revokes every live connection of a customer; returns them as they are now. */
    revokeLiveForCustomer (db: Db, customerId: string, reason: string, at: Date): Promise<ConnectionRow[]> {
      return db.connection.updateManyAndReturn({
        where: { customerId, status: { not: 'revoked' } },
        data: { status: 'revoked', revokedAt: at, revokeReason: reason, statusChangedAt: at }
      })
    },
    /**
     * Takes the row lock on one connection (the lock issuance's share lock waits on, and waits
     * for an issuance holding it); false when there is no such connection.
     */
    async lockById (db: SqlDb, id: string): Promise<boolean> {
      const rows = await db.$queryRaw<Array<{ id: string }>>`SELECT "id" FROM "connections" WHERE "id" = ${id}::uuid FOR UPDATE`
      return rows.length === 1
    },
    /**
     * Locks every connection of a customer, revoked ones included (cheap, and a revoked row
     * never issues), so that issuances in flight on them commit before a suspension or an
     * offboarding does, or see it.
     */
    async lockForCustomer (db: SqlDb, customerId: string): Promise<void> {
      await db.$queryRaw`SELECT "id" FROM "connections" WHERE "customer_id" = ${customerId}::uuid FOR UPDATE`
    },
    /**
     * The latest expiration among credentials deputy issued on these connections that is still in
     * the future (null if none): how long sessions outlive a revocation. Sessions last at most
     * 12 hours (STS's cap), so only events of the last 12 hours are read.
     */
    async latestOutstandingExpiration (db: SqlDb, connectionIds: string[], now: Date): Promise<Date | null> {
      if (connectionIds.length === 0) return null
      const rows = await db.$queryRaw<Array<{ expiresAt: Date | null }>>`
        WITH "issued" AS MATERIALIZED (
          SELECT ("details"->>'expiration')::timestamptz AS "expiration"
            FROM "audit_events"
           WHERE "resource_id" = ANY(${connectionIds}::text[])
             AND "action" = 'credentials.issued'
             AND "occurred_at" > ${now}::timestamptz - interval '12 hours')
        SELECT max("expiration") AS "expiresAt" FROM "issued" WHERE "expiration" > ${now}::timestamptz`
      return rows[0]?.expiresAt ?? null
    },
    /** The ids of every connection of a customer (internal: offboarding's impact). */
    async listIdsForCustomer (db: Db, customerId: string): Promise<string[]> {
      const rows = await db.connection.findMany({ where: { customerId }, select: { id: true } })
      return rows.map((r) => r.id)
    },
    /** Locks the live connections of an external ID, so issuances on them finish before it is retired. */
    async lockLiveForExternalId (db: SqlDb, externalIdId: string): Promise<void> {
      await db.$queryRaw`SELECT "id" FROM "connections" WHERE "external_id_id" = ${externalIdId}::uuid AND "status" <> 'revoked' FOR UPDATE`
    }
  }
}

export type ConnectionsRepository = ReturnType<typeof createConnectionsRepository>
