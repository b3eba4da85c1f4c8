// OpenAPI from the route schemas (@fastify/swagger), Swagger UI at /docs, the document at
// /openapi.json. scripts/openapi.ts writes the same document to openapi.yaml.
// Routes list only their domain statuses (409, 422, 424, ...); the statuses that come from the
// cross-cutting plugins and from Fastify itself are added here, to every route they apply to.
import swagger, { type SwaggerTransformObject } from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { ProblemSchema, ServerClosingSchema, problemResponses } from '../lib/problem.js'
import { requiredScopeOf } from './auth.js'

export const API_VERSION = '0.1.0'

const DOCS_PREFIX = '/docs'

// Fastify parses a body for these methods, whatever the route's schema says: a POST without a
// body schema still answers 413 to 70 KB and 415 to text/plain.
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

type RouteShape = Pick<RouteOptions, 'method' | 'url' | 'schema' | 'config' | 'onRequest'>

/** Routes that are not part of the API document: Swagger UI, /openapi.json, the 405 answers. */
export function isHiddenRoute (route: Pick<RouteOptions, 'url' | 'schema'>): boolean {
  return (route.schema as { hide?: boolean } | undefined)?.hide === true || route.url.startsWith(DOCS_PREFIX)
}

/**
 * The statuses a route can answer because of the plugins every route goes through, not because
 * of its handler:
 * - 400 the validator (any params, querystring, body or headers schema) and the JSON parser
 *   (any method with a body), and invalid_idempotency_key;
 * - 401 and 403 auth (any route with an authorize() hook);
 * - 404 any route with path parameters (the resource, or another customer's, is not there), and
 *   414 from the router when one of them is longer than its limit (maxParamLength, 100);
 * - 409 and 422 idempotency (routes with `config.idempotency`);
 * - 413 and 415 the body parser (any method with a body);
 * - 429 the rate limit (unless `config.rateLimit` is false) and the auth throttle (authorize());
 * - 500 the error handler masks anything unexpected;
 * - 503 every route: Fastify answers it itself while the server closes (return503OnClosing).
 */
export function crossCuttingStatuses (route: RouteShape): number[] {
  const schema = (route.schema ?? {}) as Record<string, unknown>
  const config = (route.config ?? {}) as { rateLimit?: unknown, idempotency?: unknown }
  const takesBody = [route.method].flat().some((method) => BODY_METHODS.has(method))
  const statuses = new Set([500, 503])
  if (takesBody || ['params', 'querystring', 'query', 'body', 'headers'].some((part) => schema[part] !== undefined)) statuses.add(400)
  const authorized = requiredScopeOf(route) !== undefined
  if (authorized) { statuses.add(401); statuses.add(403) }
  if (schema.params !== undefined || route.url.includes(':')) { statuses.add(404); statuses.add(414) }
  if (config.idempotency !== undefined) { statuses.add(400); statuses.add(409); statuses.add(422) }
  if (takesBody) { statuses.add(413); statuses.add(415) }
  if (config.rateLimit !== false || authorized) statuses.add(429)
  return [...statuses].sort((a, b) => a - b)
}

/** onRoute: adds to `schema.response` every cross-cutting status the route does not list. */
function addCrossCuttingResponses (route: RouteOptions): void {
  if (isHiddenRoute(route)) return
  const response = { ...(route.schema?.response as Record<string, unknown> | undefined) }
  const missing = crossCuttingStatuses(route).filter((status) => response[status] === undefined)
  if (missing.length === 0) return
  route.schema = { ...route.schema, response: { ...response, ...problemResponses(...missing) } }
}

interface HeaderRef { $ref: string }
interface OperationObject { operationId?: string, responses?: Record<string, { headers?: Record<string, HeaderRef> }> }

const header = (name: string): HeaderRef => ({ $ref: `#/components/headers/${name}` })

// Responses that hold secrets say so (the routes set the header; this documents it).
const NO_STORE: Record<string, { status: string, header: string }> = {
  issueCredentials: { status: '201', header: 'NoStore' },
  containerCredentials: { status: '200', header: 'NoStore' },
  // Not on a replay, which omits the token.
  createApiClient: { status: '201', header: 'NoStoreUnlessReplayed' }
}

/** transformObject: the headers every response carries, and Retry-After where it applies. */
const documentResponseHeaders: SwaggerTransformObject = (document) => {
  if (!('openapiObject' in document)) return document.swaggerObject
  const { openapiObject } = document
  const paths = (openapiObject as { paths?: Record<string, Record<string, OperationObject>> }).paths ?? {}
  for (const operation of Object.values(paths).flatMap((item) => Object.values(item))) {
    for (const [status, response] of Object.entries(operation.responses ?? {})) {
      const closing = status === '503'
      response.headers = {
        ...response.headers,
        'X-Request-Id': header(closing ? 'RequestIdUnlessClosing' : 'RequestId'),
        ...(status === '429' ? { 'Retry-After': header('RetryAfter') } : {}),
        ...(closing ? { 'Retry-After': header('RetryAfterWhenKnown') } : {})
      }
      const noStore = NO_STORE[operation.operationId ?? '']
      if (noStore?.status === status) response.headers['Cache-Control'] = header(noStore.header)
    }
  }
  return openapiObject
}

const requestIdDescription = 'The request id: the caller\'s `X-Request-Id` if it is 1-128 of `A-Za-z0-9._:-`, else a new UUID. It is in the log line and on the audit events of the request.'

export default fp(async function swaggerPlugin (app: FastifyInstance) {
  app.addSchema(ProblemSchema)
  app.addSchema(ServerClosingSchema)
  // Before @fastify/swagger's own onRoute hook, and before any route is registered.
  app.addHook('onRoute', addCrossCuttingResponses)
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
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API token (dpt_...).' } },
        headers: {
          RequestId: { description: requestIdDescription, required: true, schema: { type: 'string' } },
          RequestIdUnlessClosing: { description: `${requestIdDescription} Absent from the answer of a server that is shutting down.`, schema: { type: 'string' } },
          RetryAfter: { description: 'Seconds to wait before retrying.', required: true, schema: { type: 'integer', minimum: 0 } },
          RetryAfterWhenKnown: { description: 'Seconds to wait before retrying, when deputy can tell.', schema: { type: 'integer', minimum: 0 } },
          NoStore: { description: 'The response holds secrets: never cache it.', required: true, schema: { type: 'string', enum: ['no-store'] } },
          NoStoreUnlessReplayed: { description: 'The response holds the token: never cache it. (An Idempotency-Key replay omits the token and this header.)', schema: { type: 'string', enum: ['no-store'] } }
        }
      },
      security: [{ bearerAuth: [] }]
    },
    transformObject: documentResponseHeaders,
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}`
    }
  })
  await app.register(swaggerUi, { routePrefix: DOCS_PREFIX, uiConfig: { deepLinking: false } })
  app.get('/openapi.json', { schema: { hide: true }, config: { rateLimit: false } }, async () => app.swagger())
}, { name: 'swagger' })
