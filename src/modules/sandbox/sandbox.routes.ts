// HTTP for the sandbox's emulated AWS accounts. Registered only in the sandbox (app.ts), so a
// deployment answers 404 here; the committed openapi.yaml leaves it out, a sandbox's own
// /openapi.json and /docs show it.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { problemResponses } from '../../lib/problem.js'
import { AppliedStackSchema, ApplyStackSchema, StackAccountParamsSchema } from './sandbox.schemas.js'
import type { SandboxService } from './sandbox.service.js'

export const sandboxRoutes: FastifyPluginAsyncTypebox<{ sandbox: SandboxService }> = async (app, { sandbox }) => {
  // admin: the route acts as the customer would in their own AWS account, for any account, so it
  // is no customer's to call (a bound client cannot hold admin).
  app.post('/v1/sandbox/accounts/:awsAccountId/stacks', {
    onRequest: app.authorize('admin'),
    schema: {
      tags: ['sandbox'],
      security: [{ bearerAuth: [] }],
      operationId: 'applySandboxStack',
      summary: 'Sandbox only: deploy a CloudFormation template in an emulated customer account',
      description: 'Creates (or updates) the template\'s AWS::IAM::Role in the emulated account as CloudFormation would: parameters take their defaults and must meet their constraints (an empty or malformed ExternalId is refused), Ref and Fn::If are resolved, the policies must be valid IAM. Answers the role ARN (the stack output) to register. 422 `template_invalid` with CloudFormation\'s reason. Served only by the sandbox; a deployment answers 404.',
      params: StackAccountParamsSchema,
      body: ApplyStackSchema,
      response: { 201: AppliedStackSchema, ...problemResponses(400, 401, 403, 422, 429) }
    }
  }, async (request, reply) => reply.code(201).send(sandbox.applyStack(request.params.awsAccountId, request.body)))
}
