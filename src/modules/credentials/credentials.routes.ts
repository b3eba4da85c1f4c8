// HTTP for credential issuance. Responses carry Cache-Control: no-store.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { problemResponses } from '../../lib/problem.js'
import { callerOf } from '../../plugins/auth.js'
import { ConnectionParamsSchema } from '../connections/connections.schemas.js'
import { IssueCredentialsSchema, IssuedCredentialsSchema } from './credentials.schemas.js'
import type { CredentialsService } from './credentials.service.js'

export const credentialsRoutes: FastifyPluginAsyncTypebox<{ credentials: CredentialsService }> = async (app, { credentials }) => {
  app.post('/v1/connections/:connectionId/credentials', {
    onRequest: app.authorize('credentials:issue'),
    schema: {
      tags: ['credentials'],
      security: [{ bearerAuth: [] }],
      operationId: 'issueCredentials',
      summary: 'Assume the customer\'s role: short-lived, scoped-down, audited credentials',
      description: 'The `credentials.issued` audit event is committed before the response is sent; if it cannot be written, no credentials are returned (503 `audit_unavailable`). AccessDenied marks the connection failed (424 `role_access_denied`).',
      params: ConnectionParamsSchema,
      body: IssueCredentialsSchema,
      response: { 201: IssuedCredentialsSchema, ...problemResponses(400, 401, 403, 404, 409, 422, 424, 429, 503) }
    }
  }, async (request, reply) => {
    // Set first so that errors, too, are never cached.
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
    const issued = await credentials.issue(callerOf(request), request.params.connectionId, request.body)
    return reply.code(201).send(issued)
  })
}
