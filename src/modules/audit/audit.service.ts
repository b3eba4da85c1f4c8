// Querying the audit trail. A client bound to a customer sees only that customer's events.
import type { PrismaClient } from '../../db/database.js'
import { tenantOf, type Caller } from '../../lib/caller.js'
import { badRequest, notFound } from '../../lib/errors.js'
import { decodeCursor, toPage, type Page } from '../../lib/pagination.js'
import type { AuditEventRow, AuditRepository } from './audit.repository.js'
import type { AuditEventView, AuditQuery } from './audit.schemas.js'

function seqFromCursor (cursor: string): bigint {
  const { seq } = decodeCursor(cursor, ['seq'])
  if (!/^\d{1,19}$/.test(seq)) throw badRequest('invalid_cursor', 'cursor is not one this API returned')
  return BigInt(seq)
}

export function toAuditEventView (row: AuditEventRow): AuditEventView {
  return {
    seq: row.seq.toString(),
    id: row.id,
    occurredAt: row.occurredAt.toISOString(),
    actorClientId: row.actorClientId,
    action: row.action,
    outcome: row.outcome,
    customerId: row.customerId,
    resourceType: row.resourceType,
    resourceId: row.resourceId,
    requestId: row.requestId,
    sourceIp: row.sourceIp,
    userAgent: row.userAgent,
    details: row.details as Record<string, unknown>
  }
}

export function createAuditService (deps: { prisma: PrismaClient, auditRepository: AuditRepository }) {
  const { prisma, auditRepository } = deps
  return {
    async list (caller: Caller, query: AuditQuery): Promise<Page<AuditEventView>> {
      const scope = tenantOf(caller.actor)
      if (scope.customerId !== null && query.customerId !== undefined && query.customerId !== scope.customerId) {
        throw notFound('customer', query.customerId)
      }
      const limit = query.limit ?? 50
      const rows = await auditRepository.list(prisma, scope, {
        customerId: query.customerId,
        action: query.action,
        outcome: query.outcome,
        actorClientId: query.actorClientId,
        resourceId: query.resourceId,
        since: query.since === undefined ? undefined : new Date(query.since),
        until: query.until === undefined ? undefined : new Date(query.until),
        beforeSeq: query.cursor === undefined ? undefined : seqFromCursor(query.cursor)
      }, limit)
      return toPage(rows, limit, toAuditEventView, (row) => ({ seq: row.seq.toString() }))
    }
  }
}

export type AuditService = ReturnType<typeof createAuditService>
