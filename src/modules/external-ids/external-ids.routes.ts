// HTTP for external IDs. There is no update route: PUT, PATCH and DELETE answer 405.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { AppError } from '../../lib/errors.js'
import { problemResponses } from '../../lib/problem.js'
import { callerOf } from '../../plugins/auth.js'
import { CustomerParamsSchema } from '../customers/customers.schemas.js'
import { ExternalIdPageSchema, ExternalIdParamsSchema, ExternalIdSchema, ListExternalIdsQuerySchema, MintExternalIdSchema, RetireExternalIdSchema } from './external-ids.schemas.js'
import type { ExternalIdsService } from './external-ids.service.js'

const tags = ['external-ids']
const security = [{ bearerAuth: [] }]

export const externalIdsRoutes: FastifyPluginAsyncTypebox<{ externalIds: ExternalIdsService }> = async (app, { externalIds }) => {
  app.post('/v1/customers/:customerId/external-ids', {
    onRequest: app.authorize('external-ids:write'),
    config: { idempotency: {} },
    schema: {
      tags,
      security,
      operationId: 'mintExternalId',
      summary: 'Mint the external ID for one of the customer\'s AWS accounts',
      description: 'At most one active external ID per customer and AWS account; a second mint answers 409 `external_id_exists` naming the existing one.',
      params: CustomerParamsSchema,
      body: MintExternalIdSchema,
      response: { 201: ExternalIdSchema, ...problemResponses(400, 401, 403, 404, 409, 422, 429) }
    }
  }, async (request, reply) =>
    reply.code(201).send(await externalIds.mint(callerOf(request), request.params.customerId, request.body.awsAccountId)))

  app.get('/v1/customers/:customerId/external-ids', {
    onRequest: app.authorize('external-ids:read'),
    schema: {
      tags,
      security,
      operationId: 'listExternalIds',
      summary: 'List a customer\'s external IDs, oldest first',
      params: CustomerParamsSchema,
      querystring: ListExternalIdsQuerySchema,
      response: { 200: ExternalIdPageSchema, ...problemResponses(400, 401, 403, 404, 429) }
    }
  }, async (request) => externalIds.list(callerOf(request), request.params.customerId, request.query))

  app.get('/v1/external-ids/:externalIdId', {
    onRequest: app.authorize('external-ids:read'),
    schema: {
      tags,
      security,
      operationId: 'getExternalId',
      summary: 'Get an external ID',
      params: ExternalIdParamsSchema,
      response: { 200: ExternalIdSchema, ...problemResponses(400, 401, 403, 404, 429) }
    }
  }, async (request) => externalIds.get(callerOf(request), request.params.externalIdId))

  app.post('/v1/external-ids/:externalIdId/retire', {
    onRequest: app.authorize('external-ids:write'),
    schema: {
      tags,
      security,
      operationId: 'retireExternalId',
      summary: 'Retire an external ID for good',
      description: 'A retired value is never issued again; minting for the same account afterwards gives a new value.',
      params: ExternalIdParamsSchema,
      body: RetireExternalIdSchema,
      response: { 200: ExternalIdSchema, ...problemResponses(400, 401, 403, 404, 409, 429) }
    }
  }, async (request) => externalIds.retire(callerOf(request), request.params.externalIdId, request.body.reason))

  // External IDs are immutable: say so explicitly instead of a generic 404.
  app.route({
    method: ['PUT', 'PATCH', 'DELETE'],
    url: '/v1/external-ids/:externalIdId',
    schema: { hide: true },
    handler: async () => {
      throw new AppError({
        status: 405,
        code: 'external_id_immutable',
        title: 'Method not allowed',
        detail: 'external IDs cannot be changed or deleted; retire one with POST /v1/external-ids/{id}/retire',
        headers: { allow: 'GET' }
      })
    }
  })
}
