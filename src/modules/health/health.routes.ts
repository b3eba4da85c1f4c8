// Liveness and readiness probes; no token needed, not rate limited. /readyz also tells an operator
// (a token with metrics:read) whether deputy's own AWS credentials are long-term keys.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { problemResponses } from '../../lib/problem.js'
import { AppError } from '../../lib/errors.js'
import { bearerToken } from '../../plugins/auth.js'

const StatusSchema = Type.Object({ status: Type.Literal('ok') })

// Frozen issuance is not unreadiness: deputy is healthy and refuses to issue on purpose, so
// /readyz stays 200 and says so (only while frozen, so the usual answer is unchanged). It says
// only that: the reason is an operator's incident text, for authenticated callers (the freeze's
// audit event, the 503 issuance_frozen an issuing client receives), not for anyone who can reach
// a health probe.
const ReadySchema = Type.Object({
  status: Type.Literal('ok'),
  issuanceFrozen: Type.Optional(Type.Literal(true, { description: 'Present while an operator has frozen issuance (POST /v1/admin/freeze).' })),
  awsCredentials: Type.Optional(Type.Union([Type.Literal('long_term'), Type.Literal('temporary')], { description: 'Only for a caller that sends an API token with `metrics:read`: whether deputy\'s own AWS credentials are long-term access keys (AKIA...) or temporary credentials of a role.' })),
  auditSealing: Type.Optional(Type.Literal('conservative', { description: 'Present when deputy\'s database role cannot see other roles\' transactions (grant it pg_read_all_stats): the audit sealer passes no gap in seq while such a session is connected, so sealing may lag.' })),
  aws: Type.Optional(Type.Literal('emulated', { description: 'Present in the sandbox only: AWS is the STS emulator inside deputy; no call reaches AWS.' })),
  sandbox: Type.Optional(Type.Object({
    vendorPrincipalArn: Type.String({ description: 'The emulated vendor identity deputy runs as.' }),
    customerAwsAccountId: Type.String({ description: 'The emulated customer account to try (any 12-digit account is emulated).' })
  }, { additionalProperties: false, description: 'Present in the sandbox only (no DATABASE_URL, no VENDOR_PRINCIPAL_ARN).' }))
}, { additionalProperties: false })

export interface HealthOptions {
  ping: () => Promise<void>
  issuanceFreeze: () => Promise<{ frozen: boolean }>
  /** Whether the audit sealer sees every session's transaction (`conservative` when not): /readyz says so. */
  auditSealing?: () => Promise<'exact' | 'conservative'>
  /** Set in the sandbox, where AWS is emulated: /readyz says so. */
  sandbox?: { vendorPrincipalArn: string, customerAwsAccountId: string } | undefined
  /** The kind of deputy's own AWS credentials (none without AWS or in the sandbox). */
  awsCredentials?: 'long_term' | 'temporary' | undefined
}

export const healthRoutes: FastifyPluginAsyncTypebox<HealthOptions> = async (app, { ping, issuanceFreeze, sandbox, auditSealing, awsCredentials }) => {
  // Who deputy is to AWS is for operators: told to a bearer token with metrics:read, checked
  // (throttled, audited) like any other; probes without one get the plain answer.
  const operatorCheck = app.authorize('metrics:read')
  const emulated = sandbox === undefined ? {} : { aws: 'emulated' as const, sandbox: { vendorPrincipalArn: sandbox.vendorPrincipalArn, customerAwsAccountId: sandbox.customerAwsAccountId } }
  app.get('/healthz', {
    config: { rateLimit: false },
    schema: { tags: ['health'], operationId: 'healthz', summary: 'The process is alive', security: [], response: { 200: StatusSchema } }
  }, async () => ({ status: 'ok' as const }))

  app.get('/readyz', {
    config: { rateLimit: false },
    schema: { tags: ['health'], operationId: 'readyz', summary: 'The database answers (and whether issuance is frozen, or AWS emulated)', description: 'No token needed. With a bearer token (`metrics:read`) it also says what kind of AWS credentials deputy runs on (`awsCredentials`); a token that is not valid, or lacks the scope, is refused (401, 403) and audited.', security: [{}, { bearerAuth: [] }], response: { 200: ReadySchema, ...problemResponses(401, 403, 429, 503) } }
  }, async (request, reply) => {
    const operator = bearerToken(request) !== undefined
    if (operator) await operatorCheck.call(app, request, reply)
    const identity = operator && awsCredentials !== undefined ? { awsCredentials } : {}
    let freeze
    let sealing
    try {
      await ping()
      freeze = await issuanceFreeze()
      sealing = await auditSealing?.()
    } catch (error) {
      request.log.warn({ err: error }, 'readiness check failed')
      throw new AppError({ status: 503, code: 'database_unavailable', title: 'Service unavailable', detail: 'the database does not answer', headers: { 'retry-after': '5' } })
    }
    return {
      status: 'ok' as const,
      ...(freeze.frozen ? { issuanceFrozen: true as const } : {}),
      ...(sealing === 'conservative' ? { auditSealing: sealing } : {}),
      ...identity,
      ...emulated
    }
  })
}
