// Times every answered request into the Prometheus histogram, labelled by route pattern (never
// the raw URL, whose ids would make a series per resource).
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Metrics } from '../metrics.js'

export default fp<{ metrics: Metrics }>(async function metricsPlugin (app: FastifyInstance, { metrics }) {
  app.addHook('onResponse', async (request, reply) => {
    metrics.httpDuration.observe({ method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) }, reply.elapsedTime / 1000)
  })
}, { name: 'metrics' })
