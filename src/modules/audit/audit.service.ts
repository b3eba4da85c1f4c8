// Querying the audit trail. A client bound to a customer sees only that customer's events.
import type { PrismaClient } from '../../db/database.js'
import { tenantOf, type Caller } from '../../lib/caller.js'
import { badRequest, notFound } from '../../lib/errors.js'
import { decodeCursor, toPage, type Page } from '../../lib/pagination.js'
import type { AuditEventRow, AuditRepository } from './audit.repository.js'
import type { AuditEventView, AuditQuery } from './audit.schemas.js'

const MAX_SEQ = 9223372036854775807n

function seqFromCursor (cursor: string): bigint {
  const { seq } = decodeCursor(cursor, ['seq'])
  if (!/^\d{1,19}$/.test(seq) || BigInt(seq) > MAX_SEQ) throw badRequest('invalid_cursor', 'cursor is not one this API returned')
  return BigInt(seq)
}

/** A query instant PostgreSQL can compare with: RFC 3339 allows a leap second and year 0000. */
function instant (name: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined
  const at = new Date(value)
  const year = at.getUTCFullYear()
  if (Number.isNaN(at.getTime()) || year < 1 || year > 9999) throw badRequest('invalid_instant', `${name} is not an instant deputy can search by (years 0001-9999, no leap second)`)
  return at
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
        since: instant('since', query.since),
        until: instant('until', query.until),
        beforeSeq: query.cursor === undefined ? undefined : seqFromCursor(query.cursor)
      }, limit)
      return toPage(rows, limit, toAuditEventView, (row) => ({ seq: row.seq.toString() }))
    }
  }
}

export type AuditService = ReturnType<typeof createAuditService>
