// The AWS SDKs' container credential provider, served per connection: a vendor service runs
// with AWS_CONTAINER_CREDENTIALS_FULL_URI set to this route (purpose and duration in the query)
// and AWS_CONTAINER_AUTHORIZATION_TOKEN (or _FILE) set to "Bearer dpt_...", which the SDK sends
// verbatim as Authorization, and its unchanged SDK fetches and refreshes credentials by itself.
// Thin: the same scope, tenant binding, checks and audit event as POST .../credentials (the same
// service call); only the shapes differ, errors included ({code, message}, which the SDKs print).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { callerOf } from '../../plugins/auth.js'
import { problemOf } from '../../plugins/error-handler.js'
import { ConnectionParamsSchema } from '../connections/connections.schemas.js'
import { ContainerCredentialsQuerySchema, ContainerCredentialsSchema, containerErrorResponses, type ContainerCredentials, type ContainerError } from './container-credentials.schemas.js'
import type { CredentialsService } from './credentials.service.js'

/** The account of an assumed-role ARN (arn:aws:sts::123456789012:assumed-role/...). */
const accountOf = (assumedRoleArn: string): string => assumedRoleArn.split(':')[4] ?? ''

function sendContainerError (error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const problem = problemOf(error, request, reply)
  const body: ContainerError = { code: problem.code, message: problem.detail, requestId: request.id }
  // Refusals before the handler (auth, rate limit) are not cached either.
  reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
  return reply.code(problem.status).type('application/json').send(body)
}

export const containerCredentialsRoutes: FastifyPluginAsyncTypebox<{ credentials: CredentialsService }> = async (app, { credentials }) => {
  app.get('/v1/connections/:connectionId/container-credentials', {
    onRequest: app.authorize('credentials:issue'),
    // A HEAD would issue (and audit) credentials only to drop them.
    exposeHeadRoute: false,
    // Every error of this route, from any hook (auth, rate limit, load shedding) or the service,
    // mapped as on every other route, then written in the container provider's dialect.
    errorHandler: sendContainerError,
    schema: {
      tags: ['credentials'],
      security: [{ bearerAuth: [] }],
      operationId: 'containerCredentials',
      summary: 'Credentials in the format of the AWS SDKs\' container credential provider',
      description: 'Set `AWS_CONTAINER_CREDENTIALS_FULL_URI` to this URL (with `purpose`, and `durationSeconds` if not 900) and `AWS_CONTAINER_AUTHORIZATION_TOKEN` to `Bearer dpt_...` (or `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` to a file holding exactly that, without a trailing newline): the SDK sends it as `Authorization`. Issues exactly as `POST /v1/connections/{connectionId}/credentials` does (scope, tenant binding, checks, the `credentials.issued` audit event committed first, `Cache-Control: no-store`). Errors are `{code, message, requestId}` in `application/json`, not problem+json, because that is what the SDKs print. The SDKs refuse plain http except to loopback and the ECS/EKS agent addresses: outside loopback this URL must be https.',
      params: ConnectionParamsSchema,
      querystring: ContainerCredentialsQuerySchema,
      response: { 200: ContainerCredentialsSchema, ...containerErrorResponses(400, 401, 403, 404, 409, 414, 422, 424, 429, 500, 503) }
    }
  }, async (request, reply) => {
    // Set first so that errors, too, are never cached.
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
    const issued = await credentials.issue(callerOf(request), request.params.connectionId, { purpose: request.query.purpose, durationSeconds: request.query.durationSeconds })
    const answer: ContainerCredentials = {
      AccessKeyId: issued.credentials.accessKeyId,
      SecretAccessKey: issued.credentials.secretAccessKey,
      Token: issued.credentials.sessionToken,
      Expiration: issued.credentials.expiration,
      AccountId: accountOf(issued.assumedRoleArn)
    }
    return answer
  })
}
