// OpenAPI from the route schemas (@fastify/swagger), Swagger UI at /docs, the document at
// /openapi.json. scripts/openapi.ts writes the same document to openapi.yaml.
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { ProblemSchema } from '../lib/problem.js'

export const API_VERSION = '0.1.0'

export default fp(async function swaggerPlugin (app: FastifyInstance) {
  app.addSchema(ProblemSchema)
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'deputy',
        version: API_VERSION,
        description: 'Cross-account access to customer AWS accounts, held the way AWS SEC03-BP09 says: one random, immutable external ID per customer account, roles verified by a confused-deputy probe, audited short-lived credentials.',
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' }
      },
      servers: [{ url: 'http://127.0.0.1:3000', description: 'Local deputy' }],
      tags: [
        { name: 'api-clients', description: 'Who may call deputy (admin only).' },
        { name: 'customers', description: "The vendor's customers." },
        { name: 'external-ids', description: 'One random, immutable external ID per customer AWS account.' },
        { name: 'connections', description: 'Customer roles, recorded only after the confused-deputy probe passes.' },
        { name: 'credentials', description: 'Short-lived, scoped-down, audited AssumeRole credentials.' },
        { name: 'audit', description: 'The append-only audit trail.' },
        { name: 'health', description: 'Liveness and readiness.' }
      ],
      components: {
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API token (dpt_...).' } }
      },
      security: [{ bearerAuth: [] }]
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}`
    }
  })
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { deepLinking: false } })
  app.get('/openapi.json', { schema: { hide: true }, config: { rateLimit: false } }, async () => app.swagger())
}, { name: 'swagger' })
