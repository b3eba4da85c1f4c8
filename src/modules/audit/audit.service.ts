// Querying the audit trail: pages, the NDJSON export with each event's seal, and the integrity
// check of the seal chain. A client bound to a customer sees only that customer's events; the
// integrity check covers every customer's events, so it needs admin.
//
// seq values commit out of order, so a reader that moves forward by seq could pass an event
// that commits later with a lower seq. The oldest-first reads (the export, `order=asc`) stop at
// the sealed horizon, the last seal's through_seq: the sealer seals only the contiguous prefix
// of events that have committed or never will, so nothing can appear at or below it later, and
// a client that resumes from its last seq misses nothing. Newest-first pages promise no more
// than what had committed when each page was read.
import { Readable } from 'node:stream'
import type { PrismaClient } from '../../db/database.js'
import { tenantOf, type Caller } from '../../lib/caller.js'
import { AppError, badRequest, notFound } from '../../lib/errors.js'
import { decodeCursor, encodeCursor, toPage, type Page } from '../../lib/pagination.js'
import type { AuditRecorder } from './audit.recorder.js'
import type { AuditEventRow, AuditRepository } from './audit.repository.js'
import type { AuditEventView, AuditExportLine, AuditExportQuery, AuditIntegrityQuery, AuditIntegrityView, AuditQuery } from './audit.schemas.js'
import type { AuditIntegrity } from './integrity.js'
import type { AuditExportFilter, AuditSealRow, SealRepository } from './seal.repository.js'

const MAX_SEQ = 9223372036854775807n

function seqFromCursor (cursor: string, key: 'seq' | 'after'): bigint {
  const seq = decodeCursor(cursor, [key])[key]
  if (!/^\d{1,19}$/.test(seq) || BigInt(seq) > MAX_SEQ) throw badRequest('invalid_cursor', `cursor is not one this API returned${key === 'after' ? ' for order=asc' : ''}`)
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

export interface AuditServiceDeps {
  prisma: PrismaClient
  auditRepository: AuditRepository
  sealRepository: SealRepository
  integrity: AuditIntegrity
  audit: AuditRecorder
  /** Events per database read of the export (memory stays at one page whatever the range). */
  exportPageSize?: number
}

export function createAuditService (deps: AuditServiceDeps) {
  const { prisma, auditRepository, sealRepository, integrity, audit } = deps
  const pageSize = deps.exportPageSize ?? 500

  /** The sealed horizon: every event at or below it has committed or never will (0 when nothing is sealed). */
  async function sealedThrough (): Promise<bigint> {
    return (await sealRepository.lastSeal(prisma))?.throughSeq ?? 0n
  }

  /** The export's lines in (afterSeq, throughSeq], one page of events (and the seals covering them) at a time. */
  async function * exportLines (scope: { customerId: string | null }, filter: AuditExportFilter, from: bigint, throughSeq: bigint): AsyncGenerator<string> {
    let afterSeq = from
    for (;;) {
      const rows = await sealRepository.exportPage(prisma, scope, filter, afterSeq, throughSeq, pageSize)
      const first = rows[0]
      const last = rows.at(-1)
      if (first === undefined || last === undefined) return
      const seals = await sealRepository.sealsCovering(prisma, first.seq, last.seq)
      let s = 0
      // One chunk per page: memory stays at one page, and the stream is not thousands of writes.
      let chunk = ''
      for (const row of rows) {
        while (seals[s] !== undefined && (seals[s] as AuditSealRow).throughSeq < row.seq) s++
        const seal = seals[s]
        const line: AuditExportLine = {
          event: toAuditEventView(row),
          seal: seal !== undefined && seal.fromSeq < row.seq ? { id: seal.id.toString(), fromSeq: seal.fromSeq.toString(), throughSeq: seal.throughSeq.toString(), hash: seal.hash } : null
        }
        chunk += JSON.stringify(line) + '\n'
      }
      yield chunk
      if (rows.length < pageSize) return
      afterSeq = last.seq
    }
  }

  return {
    /**
     * NDJSON lines in seq order through the sealed horizon as it stands when the export starts,
     * read lazily: the stream pulls the next page only when drained.
     */
    async export (caller: Caller, query: AuditExportQuery): Promise<Readable> {
      const scope = tenantOf(caller.actor)
      if (scope.customerId !== null && query.customerId !== undefined && query.customerId !== scope.customerId) {
        throw notFound('customer', query.customerId)
      }
      const filter = { customerId: query.customerId, action: query.action, outcome: query.outcome, actorClientId: query.actorClientId, resourceId: query.resourceId, since: instant('since', query.since), until: instant('until', query.until) }
      const afterSeq = query.afterSeq === undefined ? 0n : BigInt(query.afterSeq)
      if (afterSeq > MAX_SEQ) throw badRequest('invalid_cursor', 'afterSeq is larger than any seq')
      return Readable.from(exportLines(scope, filter, afterSeq, await sealedThrough()), { objectMode: false })
    },
    async integrity (caller: Caller, query: AuditIntegrityQuery): Promise<AuditIntegrityView> {
      if (!caller.actor.scopes.includes('admin')) {
        await audit.record(prisma, {
          action: 'access.denied',
          outcome: 'denied',
          actorClientId: caller.actor.clientId,
          request: caller.request,
          customerId: caller.actor.customerId,
          details: { reason: 'admin_required', operation: 'audit.integrity' }
        })
        throw new AppError({ status: 403, code: 'admin_required', title: 'Forbidden', detail: 'the integrity check covers every customer\'s events: it needs an admin token', audited: true })
      }
      const report = await integrity.check({ full: query.full === true })
      return {
        ok: report.ok,
        sealedThroughSeq: report.sealedThroughSeq?.toString() ?? null,
        checkedEvents: report.checkedEvents,
        firstInvalidSeq: report.firstInvalidSeq?.toString() ?? null,
        reason: report.reason,
        detail: report.detail,
        sealing: report.sealing
      }
    },
    async list (caller: Caller, query: AuditQuery): Promise<Page<AuditEventView> & { actorNames: Record<string, string> }> {
      const page = await listPage(caller, query)
      // Who acted, by name, for a person reading the page; kept beside the events, not in them,
      // so an event reads (and hashes) the same here as in the export and the seals.
      const ids = [...new Set(page.items.flatMap((event) => event.actorClientId === null ? [] : [event.actorClientId]))]
      return { ...page, actorNames: Object.fromEntries((await auditRepository.clientNames(prisma, ids)).map((client) => [client.id, client.name])) }
    }
  }

  async function listPage (caller: Caller, query: AuditQuery): Promise<Page<AuditEventView>> {
    const scope = tenantOf(caller.actor)
    if (scope.customerId !== null && query.customerId !== undefined && query.customerId !== scope.customerId) {
      throw notFound('customer', query.customerId)
    }
    const limit = query.limit ?? 50
    const filter = {
      customerId: query.customerId,
      action: query.action,
      outcome: query.outcome,
      actorClientId: query.actorClientId,
      resourceId: query.resourceId,
      since: instant('since', query.since),
      until: instant('until', query.until)
    }
    if (query.order !== 'asc') {
      const rows = await auditRepository.list(prisma, scope, { ...filter, beforeSeq: query.cursor === undefined ? undefined : seqFromCursor(query.cursor, 'seq') }, limit)
      return toPage(rows, limit, toAuditEventView, (row) => ({ seq: row.seq.toString() }))
    }
    const afterSeq = query.cursor === undefined ? 0n : seqFromCursor(query.cursor, 'after')
    const throughSeq = await sealedThrough()
    const rows = await auditRepository.list(prisma, scope, { ...filter, afterSeq, throughSeq }, limit, 'asc')
    const items = rows.slice(0, limit)
    // A full page resumes after its last event; a short one has read everything through the
    // horizon, so the next call starts there (the cursor never moves back).
    const last = items.at(-1)?.seq ?? afterSeq
    const resumeAt = rows.length > limit ? last : [last, throughSeq, afterSeq].reduce((a, b) => (b > a ? b : a))
    return { items: items.map(toAuditEventView), nextCursor: encodeCursor({ after: resumeAt.toString() }) }
  }
}

export type AuditService = ReturnType<typeof createAuditService>
