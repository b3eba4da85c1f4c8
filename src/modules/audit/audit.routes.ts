// HTTP for the audit trail.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { problemResponses } from '../../lib/problem.js'
import { callerOf } from '../../plugins/auth.js'
import { AuditPageSchema, AuditQuerySchema } from './audit.schemas.js'
import type { AuditService } from './audit.service.js'

export const auditRoutes: FastifyPluginAsyncTypebox<{ auditQuery: AuditService }> = async (app, { auditQuery }) => {
  app.get('/v1/audit-events', {
    onRequest: app.authorize('audit:read'),
    schema: {
      tags: ['audit'],
      security: [{ bearerAuth: [] }],
      operationId: 'listAuditEvents',
      summary: 'Query the audit trail, newest first',
      description: 'Keyset-paginated: pass `nextCursor` back as `cursor`. A token bound to a customer sees only that customer\'s events.',
      querystring: AuditQuerySchema,
      response: { 200: AuditPageSchema, ...problemResponses(400, 401, 403, 404, 429) }
    }
  }, async (request) => auditQuery.list(callerOf(request), request.query))
}
