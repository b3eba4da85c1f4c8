// HTTP for the emergency stop (admin only).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { problemResponses } from '../../lib/problem.js'
import { callerOf } from '../../plugins/auth.js'
import { FreezeSchema, IssuanceFreezeSchema, UnfreezeSchema } from './issuance-freeze.schemas.js'
import type { IssuanceFreezeService } from './issuance-freeze.service.js'

const tags = ['admin']
const security = [{ bearerAuth: [] }]

export const issuanceFreezeRoutes: FastifyPluginAsyncTypebox<{ issuanceFreeze: IssuanceFreezeService }> = async (app, { issuanceFreeze }) => {
  app.post('/v1/admin/freeze', {
    onRequest: app.authorize('admin'),
    schema: {
      tags,
      security,
      operationId: 'freezeIssuance',
      summary: 'Emergency stop: no credentials leave deputy, on any replica',
      description: 'Takes effect for every replica at once (the state is in the database): issuance answers 503 `issuance_frozen`, including issuances whose STS call was under way. Already frozen: 409 `issuance_already_frozen`.',
      body: FreezeSchema,
      response: { 200: IssuanceFreezeSchema, ...problemResponses(400, 401, 403, 409, 429) }
    }
  }, async (request) => issuanceFreeze.freeze(callerOf(request), request.body.reason))

  app.post('/v1/admin/unfreeze', {
    onRequest: app.authorize('admin'),
    schema: {
      tags,
      security,
      operationId: 'unfreezeIssuance',
      summary: 'Lift the emergency stop',
      description: 'Not frozen: 409 `issuance_not_frozen`.',
      body: UnfreezeSchema,
      response: { 200: IssuanceFreezeSchema, ...problemResponses(400, 401, 403, 409, 429) }
    }
  }, async (request) => issuanceFreeze.unfreeze(callerOf(request)))
}
