// HTTP for /v1/api-clients (admin only).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { problemResponses } from '../../lib/problem.js'
import { callerOf } from '../../plugins/auth.js'
import { ApiClientPageSchema, ApiClientParamsSchema, ApiClientSchema, CreateApiClientSchema, CreatedApiClientSchema, ListApiClientsQuerySchema } from './api-clients.schemas.js'
import type { ApiClientsService } from './api-clients.service.js'

const tags = ['api-clients']
const security = [{ bearerAuth: [] }]

export const apiClientsRoutes: FastifyPluginAsyncTypebox<{ apiClients: ApiClientsService }> = async (app, { apiClients }) => {
  app.post('/v1/api-clients', {
    onRequest: app.authorize('admin'),
    config: { idempotency: { omit: ['token'] } },
    schema: {
      tags,
      security,
      operationId: 'createApiClient',
      summary: 'Create an API client and its token',
      description: 'The token is returned once and stored only as a SHA-256 hash.',
      body: CreateApiClientSchema,
      response: { 201: CreatedApiClientSchema, ...problemResponses(400, 401, 403, 404, 409, 422, 429) }
    }
  }, async (request, reply) => {
    const created = await apiClients.create(callerOf(request), request.body)
    return reply.code(201).header('cache-control', 'no-store').send(created)
  })

  app.get('/v1/api-clients', {
    onRequest: app.authorize('admin'),
    schema: {
      tags,
      security,
      operationId: 'listApiClients',
      summary: 'List API clients (never their tokens)',
      querystring: ListApiClientsQuerySchema,
      response: { 200: ApiClientPageSchema, ...problemResponses(400, 401, 403, 429) }
    }
  }, async (request) => apiClients.list(request.query))

  app.post('/v1/api-clients/:apiClientId/revoke', {
    onRequest: app.authorize('admin'),
    schema: {
      tags,
      security,
      operationId: 'revokeApiClient',
      summary: 'Revoke an API client; its token is refused from the next request on',
      params: ApiClientParamsSchema,
      response: { 200: ApiClientSchema, ...problemResponses(400, 401, 403, 404, 429) }
    }
  }, async (request) => apiClients.revoke(callerOf(request), request.params.apiClientId))
}
