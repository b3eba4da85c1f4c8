// HTTP for the onboarding kit of an external ID.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { problemResponses } from '../../lib/problem.js'
import { callerOf } from '../../plugins/auth.js'
import { ExternalIdParamsSchema } from '../external-ids/external-ids.schemas.js'
import { OnboardingKitSchema, RotationStartedSchema } from './onboarding.schemas.js'
import type { OnboardingService } from './onboarding.service.js'

const tags = ['external-ids']
const security = [{ bearerAuth: [] }]

export const onboardingRoutes: FastifyPluginAsyncTypebox<{ onboarding: OnboardingService }> = async (app, { onboarding }) => {
  app.get('/v1/external-ids/:externalIdId/onboarding', {
    onRequest: app.authorize('external-ids:read'),
    schema: {
      tags,
      security,
      operationId: 'getOnboardingKit',
      summary: 'What the customer deploys to create the role for this external ID',
      description: 'The trust policy (the vendor principal, `sts:ExternalId` StringEquals this ID, nothing optional), the role as a CloudFormation template, a console quick-create link (null without ONBOARDING_TEMPLATE_URL), Terraform and AWS CLI commands, all with the same trust policy and the configured permissions. Only for an active external ID (409 `external_id_not_active`) of an active customer (409 `customer_not_active`); 503 `aws_not_configured` when deputy runs without AWS.',
      params: ExternalIdParamsSchema,
      response: { 200: OnboardingKitSchema, ...problemResponses(400, 401, 403, 404, 409, 429, 503) }
    }
  }, async (request) => onboarding.kit(callerOf(request), request.params.externalIdId))

  app.post('/v1/external-ids/:externalIdId/rotate', {
    onRequest: app.authorize('external-ids:write'),
    // A retried rotation (the answer was lost) gets the same successor back, not a 409.
    config: { idempotency: {} },
    schema: {
      tags,
      security,
      operationId: 'rotateExternalId',
      summary: 'Start a two-step rotation: mint a successor and get the kit that accepts both IDs',
      description: 'Mints a successor external ID for the same customer and account (active, linked to this one) and returns it with the onboarding kit whose trust policy accepts both IDs. This ID keeps issuing. Once the customer has deployed the kit, `POST /v1/connections/{id}/verify` probes the role with the successor; when that passes, the connection moves to the successor and this ID is retired, in one transaction. Retiring the successor abandons the rotation. 409 `rotation_in_progress` when the account is already rotating, `external_id_not_active` for a retired ID.',
      params: ExternalIdParamsSchema,
      response: { 201: RotationStartedSchema, ...problemResponses(400, 401, 403, 404, 409, 429, 503) }
    }
  }, async (request, reply) => reply.code(201).send(await onboarding.rotate(callerOf(request), request.params.externalIdId)))
}
