// HTTP for the audit trail.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { problemResponses } from '../../lib/problem.js'
import { callerOf } from '../../plugins/auth.js'
import { AuditExportLineSchema, AuditExportQuerySchema, AuditIntegrityQuerySchema, AuditIntegritySchema, AuditPageSchema, AuditQuerySchema } from './audit.schemas.js'
import type { AuditService } from './audit.service.js'

export const auditRoutes: FastifyPluginAsyncTypebox<{ auditQuery: AuditService }> = async (app, { auditQuery }) => {
  app.get('/v1/audit-events', {
    onRequest: app.authorize('audit:read'),
    schema: {
      tags: ['audit'],
      security: [{ bearerAuth: [] }],
      operationId: 'listAuditEvents',
      summary: 'Query the audit trail, newest first (or oldest first up to the sealed horizon)',
      description: 'Keyset-paginated on `seq`: pass `nextCursor` back as `cursor`. Newest first by default; `order=asc` pages oldest first through the sealed horizon only, so a client that keeps following `nextCursor` sees every event exactly once, even one that committed after a later seq. A token bound to a customer sees only that customer\'s events.',
      querystring: AuditQuerySchema,
      response: { 200: AuditPageSchema, ...problemResponses(400, 401, 403, 404, 429) }
    }
  }, async (request) => auditQuery.list(callerOf(request), request.query))

  app.get('/v1/audit-events/export', {
    onRequest: app.authorize('audit:read'),
    schema: {
      tags: ['audit'],
      security: [{ bearerAuth: [] }],
      operationId: 'exportAuditEvents',
      summary: 'Export the audit trail as NDJSON, oldest first, with each event\'s seal',
      description: 'Streams one JSON object per line (`{event, seal}`) in seq order, whatever the range, read from the database a page at a time. It stops at the sealed horizon as of the request (events committed in the last few seconds come with a later export), so every line carries its seal, and resuming with `afterSeq` set to the last line\'s `seq` never misses an event that committed late. A token bound to a customer gets only that customer\'s events.',
      querystring: AuditExportQuerySchema,
      response: {
        200: { description: 'NDJSON: one `AuditExportLine` per line (no line when nothing matches).', content: { 'application/x-ndjson': { schema: AuditExportLineSchema } } },
        ...problemResponses(400, 401, 403, 404, 429)
      }
    }
  }, async (request, reply) => {
    const lines = await auditQuery.export(callerOf(request), request.query)
    // The type provider expects one line object; the body is the stream of all of them.
    return reply.type('application/x-ndjson').send(lines as never)
  })

  app.get('/v1/audit-events/integrity', {
    onRequest: app.authorize('audit:read'),
    schema: {
      tags: ['audit'],
      security: [{ bearerAuth: [] }],
      operationId: 'checkAuditIntegrity',
      summary: 'Verify the audit trail against its hash chain of seals',
      description: 'Needs `audit:read` and `admin` (the seals cover every customer\'s events: anyone else gets 403 `admin_required`). By default only the seals after the last one this process verified are checked; `full=true` rechecks the whole chain. A broken chain or an event altered, deleted or inserted behind deputy\'s back is named by the seq of the first event that no longer matches.',
      querystring: AuditIntegrityQuerySchema,
      response: { 200: AuditIntegritySchema, ...problemResponses(400, 401, 403, 429) }
    }
  }, async (request) => auditQuery.integrity(callerOf(request), request.query))
}
