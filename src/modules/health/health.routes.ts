// Liveness and readiness probes; no token needed, not rate limited.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { problemResponses } from '../../lib/problem.js'
import { AppError } from '../../lib/errors.js'

const StatusSchema = Type.Object({ status: Type.Literal('ok') })

// Frozen issuance is not unreadiness: deputy is healthy and refuses to issue on purpose, so
// /readyz stays 200 and says so (only while frozen, so the usual answer is unchanged).
const ReadySchema = Type.Object({
  status: Type.Literal('ok'),
  issuanceFrozen: Type.Optional(Type.Literal(true, { description: 'Present while an operator has frozen issuance (POST /v1/admin/freeze).' })),
  issuanceFreezeReason: Type.Optional(Type.Union([Type.String(), Type.Null()]))
}, { additionalProperties: false })

export interface HealthOptions {
  ping: () => Promise<void>
  issuanceFreeze: () => Promise<{ frozen: boolean, reason: string | null }>
}

export const healthRoutes: FastifyPluginAsyncTypebox<HealthOptions> = async (app, { ping, issuanceFreeze }) => {
  app.get('/healthz', {
    config: { rateLimit: false },
    schema: { tags: ['health'], operationId: 'healthz', summary: 'The process is alive', security: [], response: { 200: StatusSchema } }
  }, async () => ({ status: 'ok' as const }))

  app.get('/readyz', {
    config: { rateLimit: false },
    schema: { tags: ['health'], operationId: 'readyz', summary: 'The database answers (and whether issuance is frozen)', security: [], response: { 200: ReadySchema, ...problemResponses(503) } }
  }, async (request) => {
    let freeze
    try {
      await ping()
      freeze = await issuanceFreeze()
    } catch (error) {
      request.log.warn({ err: error }, 'readiness check failed')
      throw new AppError({ status: 503, code: 'database_unavailable', title: 'Service unavailable', detail: 'the database does not answer', headers: { 'retry-after': '5' } })
    }
    return freeze.frozen ? { status: 'ok' as const, issuanceFrozen: true as const, issuanceFreezeReason: freeze.reason } : { status: 'ok' as const }
  })
}
