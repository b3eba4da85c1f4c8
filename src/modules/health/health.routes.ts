// Liveness and readiness probes; no token needed, not rate limited.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { problemResponses } from '../../lib/problem.js'
import { AppError } from '../../lib/errors.js'

const StatusSchema = Type.Object({ status: Type.Literal('ok') })

export const healthRoutes: FastifyPluginAsyncTypebox<{ ping: () => Promise<void> }> = async (app, { ping }) => {
  app.get('/healthz', {
    config: { rateLimit: false },
    schema: { tags: ['health'], operationId: 'healthz', summary: 'The process is alive', security: [], response: { 200: StatusSchema } }
  }, async () => ({ status: 'ok' as const }))

  app.get('/readyz', {
    config: { rateLimit: false },
    schema: { tags: ['health'], operationId: 'readyz', summary: 'The database answers', security: [], response: { 200: StatusSchema, ...problemResponses(503) } }
  }, async (request) => {
    try {
      await ping()
    } catch (error) {
      request.log.warn({ err: error }, 'readiness check failed')
      throw new AppError({ status: 503, code: 'database_unavailable', title: 'Service unavailable', detail: 'the database does not answer', headers: { 'retry-after': '5' } })
    }
    return { status: 'ok' as const }
  })
}
