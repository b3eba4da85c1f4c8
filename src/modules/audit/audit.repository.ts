// Reads of the audit trail by keyset on seq: newest first, or oldest first up to the sealed horizon.
import type { PrismaClient } from '../../db/database.js'
import type { AuditEvent, Prisma } from '../../generated/prisma/client.js'
import type { TenantScope } from '../../lib/caller.js'
import type { AuditOutcome } from './audit.recorder.js'

type Db = Pick<PrismaClient, 'auditEvent'>

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

export function createAuditRepository () {
  return {
    list (db: Db, scope: TenantScope, filter: AuditFilter, limit: number, order: 'asc' | 'desc' = 'desc') {
      const where: Prisma.AuditEventWhereInput = {
        customerId: scope.customerId ?? filter.customerId,
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
