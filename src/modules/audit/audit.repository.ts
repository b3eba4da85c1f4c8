// Reads of the audit trail, newest first, by keyset on seq.
import type { PrismaClient } from '../../db/database.js'
import type { AuditEvent, Prisma } from '../../generated/prisma/client.js'
import type { TenantScope } from '../../lib/caller.js'
import type { AuditOutcome } from './audit.recorder.js'

type Db = Pick<PrismaClient, 'auditEvent'>

export type AuditEventRow = AuditEvent

export interface AuditFilter {
  customerId?: string
  action?: string
  outcome?: AuditOutcome
  actorClientId?: string
  resourceId?: string
  since?: Date
  until?: Date
  beforeSeq?: bigint
}

export function createAuditRepository () {
  return {
    list (db: Db, scope: TenantScope, filter: AuditFilter, limit: number) {
      const where: Prisma.AuditEventWhereInput = {
        customerId: scope.customerId ?? filter.customerId,
        action: filter.action,
        outcome: filter.outcome,
        actorClientId: filter.actorClientId,
        resourceId: filter.resourceId,
        occurredAt: { gte: filter.since, lt: filter.until },
        seq: filter.beforeSeq === undefined ? undefined : { lt: filter.beforeSeq }
      }
      return db.auditEvent.findMany({ where, orderBy: { seq: 'desc' }, take: limit + 1 })
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
