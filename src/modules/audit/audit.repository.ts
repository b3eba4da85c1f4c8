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
    }
  }
}

export type AuditRepository = ReturnType<typeof createAuditRepository>
