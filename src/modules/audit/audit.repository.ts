// Reads of the audit trail by keyset on seq: newest first, or oldest first up to the sealed horizon.
import type { PrismaClient } from '../../db/database.js'
import { Prisma, type AuditEvent } from '../../generated/prisma/client.js'
import type { TenantScope } from '../../lib/caller.js'
import type { AuditOutcome } from './audit.recorder.js'

type Db = Pick<PrismaClient, 'auditEvent'>
type ListDb = Pick<PrismaClient, 'auditEvent' | '$queryRaw'>

export type AuditEventRow = AuditEvent

export interface AuditFilter {
  customerId?: string
  action?: string
  /** Any of these actions (the webhook relay's notified events); with `action`, both must hold. */
  actions?: readonly string[]
  outcome?: AuditOutcome
  actorClientId?: string
  resourceId?: string
  since?: Date
  until?: Date
  beforeSeq?: bigint
  /** Ascending reads: only events after this seq... */
  afterSeq?: bigint
  /** ...and through this one (the sealed horizon). */
  throughSeq?: bigint
}

/**
 * One customer's events before `until` (and from `since`), one page in seq order. Asked as
 * `ORDER BY seq LIMIT n`, PostgreSQL walks the trail by seq from the newest and filters on the
 * time, expecting the window's events anywhere; they all sit behind every later event, so an old
 * window read millions of rows (6.5 s for a 7-day window over 5 million events, 98 s for `until`
 * alone: `npm run bench`, goal 3, bench/RESULTS.md). Sorting on `seq + 0`, which no index is in
 * the order of, leaves PostgreSQL one plan: read the window from audit_events_customer_time_idx
 * (customer, time, seq) alone, keep the page's seqs, then fetch those rows. The cost follows the
 * customer's events inside the window, whatever its age.
 */
function windowPage (db: ListDb, customerId: string, filter: AuditFilter & { until: Date }, limit: number, order: 'asc' | 'desc'): Promise<AuditEventRow[]> {
  const conditions = [
    Prisma.sql`"customer_id" = ${customerId}::uuid`,
    ...(filter.since === undefined ? [] : [Prisma.sql`"occurred_at" >= ${filter.since}::timestamptz`]),
    Prisma.sql`"occurred_at" < ${filter.until}::timestamptz`,
    ...(filter.action === undefined ? [] : [Prisma.sql`"action" = ${filter.action}`]),
    ...(filter.actions === undefined ? [] : [Prisma.sql`"action" = ANY(${[...filter.actions]}::text[])`]),
    ...(filter.outcome === undefined ? [] : [Prisma.sql`"outcome" = ${filter.outcome}::"audit_outcome"`]),
    ...(filter.actorClientId === undefined ? [] : [Prisma.sql`"actor_client_id" = ${filter.actorClientId}::uuid`]),
    ...(filter.resourceId === undefined ? [] : [Prisma.sql`"resource_id" = ${filter.resourceId}`]),
    ...(filter.beforeSeq === undefined ? [] : [Prisma.sql`"seq" < ${filter.beforeSeq}::bigint`]),
    ...(filter.afterSeq === undefined ? [] : [Prisma.sql`"seq" > ${filter.afterSeq}::bigint`]),
    ...(filter.throughSeq === undefined ? [] : [Prisma.sql`"seq" <= ${filter.throughSeq}::bigint`])
  ]
  const direction = order === 'asc' ? Prisma.sql`ASC` : Prisma.sql`DESC`
  return db.$queryRaw<AuditEventRow[]>`
    SELECT "seq", "id", "occurred_at" AS "occurredAt", "actor_client_id" AS "actorClientId", "action", "outcome"::text AS "outcome",
           "customer_id" AS "customerId", "resource_type" AS "resourceType", "resource_id" AS "resourceId", "request_id" AS "requestId",
           "source_ip" AS "sourceIp", "user_agent" AS "userAgent", "details"
      FROM "audit_events"
     WHERE "seq" IN (SELECT "seq" FROM "audit_events" WHERE ${Prisma.join(conditions, ' AND ')} ORDER BY "seq" + 0 ${direction} LIMIT ${limit + 1})
     ORDER BY "seq" ${direction}`
}

export function createAuditRepository () {
  return {
    /** The names of the API clients that acted (a page's actors). */
    clientNames (db: ListDb, ids: readonly string[]): Promise<Array<{ id: string, name: string }>> {
      if (ids.length === 0) return Promise.resolve([])
      return db.$queryRaw<Array<{ id: string, name: string }>>`SELECT "id"::text AS "id", "name" FROM "api_clients" WHERE "id" = ANY(${[...ids]}::uuid[])`
    },
    list (db: ListDb, scope: TenantScope, filter: AuditFilter, limit: number, order: 'asc' | 'desc' = 'desc'): Promise<AuditEventRow[]> {
      const customerId = scope.customerId ?? filter.customerId
      if (customerId !== undefined && filter.until !== undefined) return windowPage(db, customerId, { ...filter, until: filter.until }, limit, order)
      const where: Prisma.AuditEventWhereInput = {
        customerId,
        action: filter.actions === undefined ? filter.action : { in: [...filter.actions], equals: filter.action },
        outcome: filter.outcome,
        actorClientId: filter.actorClientId,
        resourceId: filter.resourceId,
        occurredAt: { gte: filter.since, lt: filter.until },
        seq: { lt: filter.beforeSeq, gt: filter.afterSeq, lte: filter.throughSeq }
      }
      return db.auditEvent.findMany({ where, orderBy: { seq: order }, take: limit + 1 })
    },
    /**
     * When the customer's n-th latest event of this action since `since` happened, or null when
     * there are fewer than n: a budget check ("n per hour") in one indexed query.
     */
    async nthLatest (db: Db, filter: { customerId: string, action: string, since: Date }, n: number): Promise<Date | null> {
      const row = await db.auditEvent.findFirst({
        where: { customerId: filter.customerId, action: filter.action, occurredAt: { gte: filter.since } },
        orderBy: { occurredAt: 'desc' },
        skip: n - 1,
        select: { occurredAt: true }
      })
      return row?.occurredAt ?? null
    },
    /** When the latest event of this action about this resource happened, or null. */
    async latestFor (db: Db, filter: { resourceId: string, action: string }): Promise<Date | null> {
      const row = await db.auditEvent.findFirst({ where: filter, orderBy: { seq: 'desc' }, select: { occurredAt: true } })
      return row?.occurredAt ?? null
    }
  }
}

export type AuditRepository = ReturnType<typeof createAuditRepository>
