// GET /metrics: Prometheus text format for a scraper holding a token with the metrics:read scope
// (no separate listener to secure; the same TLS, tokens and audit as the API).
import type { FastifyPluginAsync } from 'fastify'
import type { Registry } from 'prom-client'
import { Type } from 'typebox'

export const metricsRoutes: FastifyPluginAsync<{ registry: Registry }> = async (app, { registry }) => {
  app.get('/metrics', {
    onRequest: app.authorize('metrics:read'),
    schema: {
      tags: ['health'],
      security: [{ bearerAuth: [] }],
      operationId: 'getMetrics',
      summary: 'Prometheus metrics (text exposition format)',
      querystring: Type.Object({}, { additionalProperties: false }),
      description: 'HTTP latency by route and status, credentials issued and denied by reason, probe outcomes, STS call latency by action and result, unaudited sessions, audit sealer lag, issuance freeze.',
      response: {
        200: { description: 'Prometheus text format 0.0.4.', content: { 'text/plain': { schema: { type: 'string' } } } }
      }
    }
  }, async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()))
}
