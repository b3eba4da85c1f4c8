// HTTP for role connections.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { problemResponses } from '../../lib/problem.js'
import { callerOf } from '../../plugins/auth.js'
import { CustomerParamsSchema } from '../customers/customers.schemas.js'
import { ConnectionPageSchema, ConnectionParamsSchema, ConnectionSchema, CreateConnectionSchema, ListConnectionsQuerySchema, RevokeConnectionSchema, RevokedConnectionSchema, VerifiedConnectionSchema } from './connections.schemas.js'
import type { ConnectionsService } from './connections.service.js'

const tags = ['connections']
const security = [{ bearerAuth: [] }]

export const connectionsRoutes: FastifyPluginAsyncTypebox<{ connections: ConnectionsService }> = async (app, { connections }) => {
  app.post('/v1/customers/:customerId/connections', {
    onRequest: app.authorize('connections:write'),
    config: { idempotency: {} },
    schema: {
      tags,
      security,
      operationId: 'registerConnection',
      summary: 'Register the role a customer created, after the confused-deputy probe passes',
      description: 'Runs the probe first and stores the role ARN only if it passes: AssumeRole with the external ID allowed, without it or with a wrong one denied. A failing probe answers 422 with the full report (`probe`) and what to change; only the audit trail remembers the attempt.',
      params: CustomerParamsSchema,
      body: CreateConnectionSchema,
      response: { 201: ConnectionSchema, ...problemResponses(400, 401, 403, 404, 409, 422, 429, 503) }
    }
  }, async (request, reply) => reply.code(201).send(await connections.register(callerOf(request), request.params.customerId, request.body)))

  app.get('/v1/customers/:customerId/connections', {
    onRequest: app.authorize('connections:read'),
    schema: {
      tags,
      security,
      operationId: 'listConnections',
      summary: 'List a customer\'s connections, oldest first',
      params: CustomerParamsSchema,
      querystring: ListConnectionsQuerySchema,
      response: { 200: ConnectionPageSchema, ...problemResponses(400, 401, 403, 404, 429) }
    }
  }, async (request) => connections.list(callerOf(request), request.params.customerId, request.query))

  app.get('/v1/connections/:connectionId', {
    onRequest: app.authorize('connections:read'),
    schema: {
      tags,
      security,
      operationId: 'getConnection',
      summary: 'Get a connection with its last probe report',
      params: ConnectionParamsSchema,
      response: { 200: ConnectionSchema, ...problemResponses(400, 401, 403, 404, 429) }
    }
  }, async (request) => connections.get(callerOf(request), request.params.connectionId))

  app.post('/v1/connections/:connectionId/verify', {
    onRequest: app.authorize('connections:write'),
    schema: {
      tags,
      security,
      operationId: 'verifyConnection',
      summary: 'Run the probe again',
      description: 'pass: active; insecure: insecure; not assumable: failed; STS unavailable: unchanged. Only active connections issue credentials. During a rotation the probe uses the successor first; when it passes, the connection moves to the successor, the predecessor is retired, and the answer carries `onboarding`: the kit whose trust policy names the successor alone. A trust policy that still admits this account\'s retired IDs passes with the finding `trust_policy_admits_retired_external_id` (remove them); any other admitted ID makes the connection insecure.',
      params: ConnectionParamsSchema,
      response: { 200: VerifiedConnectionSchema, ...problemResponses(400, 401, 403, 404, 409, 429, 503) }
    }
  }, async (request) => connections.verify(callerOf(request), request.params.connectionId))

  app.post('/v1/connections/:connectionId/revoke', {
    onRequest: app.authorize('connections:write'),
    schema: {
      tags,
      security,
      operationId: 'revokeConnection',
      summary: 'Revoke a connection for good',
      description: 'No credentials are issued on it afterwards; an issuance racing the revocation either committed its audit event before or is refused. STS sessions already issued cannot be recalled: `impact.outstandingCredentialsExpireAt` says until when they stay valid, and `impact.customerDenyPolicy` is the policy the customer can attach to the role to end them now. Already revoked: 409 `connection_revoked`.',
      params: ConnectionParamsSchema,
      body: RevokeConnectionSchema,
      response: { 200: RevokedConnectionSchema, ...problemResponses(400, 401, 403, 404, 409, 429) }
    }
  }, async (request) => connections.revoke(callerOf(request), request.params.connectionId, request.body.reason))
}
