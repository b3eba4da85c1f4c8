// The route table as the app itself declares it (an onRoute hook on the app built for the
// OpenAPI document, so nothing is listed by hand): method, URL, the scope its authorize() hook
// demands and its schemas. The authorization matrix and the fuzz tests are generated from it.
import type { RouteOptions } from 'fastify'
import type { Scope } from '../../src/modules/api-clients/scopes.js'
import { buildAppForSpec } from '../../src/openapi.js'
import { requiredScopeOf } from '../../src/plugins/auth.js'

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

/** The subset of JSON Schema the route schemas (TypeBox) use. */
export interface JsonSchema {
  type?: string | string[]
  properties?: Record<string, JsonSchema>
  required?: string[]
  additionalProperties?: boolean | JsonSchema
  patternProperties?: Record<string, JsonSchema>
  items?: JsonSchema
  minItems?: number
  maxItems?: number
  uniqueItems?: boolean
  minLength?: number
  maxLength?: number
  pattern?: string
  format?: string
  minimum?: number
  maximum?: number
  enum?: unknown[]
  const?: unknown
  anyOf?: JsonSchema[]
}

export interface ServedRoute {
  method: HttpMethod
  /** Fastify's form: /v1/customers/:customerId */
  url: string
  /** `METHOD url`, the key of the tests' expectation tables. */
  key: string
  /** What authorize() demands; undefined for a route anyone may call. */
  scope: Scope | undefined
  /** Hidden from the OpenAPI document (schema.hide). */
  hidden: boolean
  /** Path parameter names, in order. */
  params: string[]
  body: JsonSchema | undefined
  querystring: JsonSchema | undefined
  /** Opted in to Idempotency-Key (config.idempotency). */
  idempotent: boolean
}

/** Swagger UI's and the browser console's static files, and the JSON document: not part of the API. */
export const isDocumentationRoute = (url: string): boolean => url === '/openapi.json' || url === '/docs' || url.startsWith('/docs/') || url === '/console' || url.startsWith('/console/')

/** Every route the app serves (HEAD included), documentation routes excluded. */
export async function collectRoutes (): Promise<ServedRoute[]> {
  const routes: ServedRoute[] = []
  const app = await buildAppForSpec((route: RouteOptions) => {
    if (isDocumentationRoute(route.url)) return
    const schema = (route.schema ?? {}) as { hide?: boolean, body?: JsonSchema, querystring?: JsonSchema }
    for (const method of [route.method].flat() as HttpMethod[]) {
      routes.push({
        method,
        url: route.url,
        key: `${method} ${route.url}`,
        scope: requiredScopeOf(route),
        hidden: schema.hide === true,
        params: [...route.url.matchAll(/:(\w+)/g)].map((m) => m[1] ?? ''),
        body: schema.body,
        querystring: schema.querystring,
        idempotent: (route.config as { idempotency?: unknown } | undefined)?.idempotency !== undefined
      })
    }
  })
  await app.close()
  return routes
}

/** A route's URL with its parameters replaced (values are URL-encoded unless `raw`). */
export function pathOf (route: Pick<ServedRoute, 'url'>, values: Record<string, string>, raw = false): string {
  return route.url.replace(/:(\w+)/g, (_, name: string) => {
    const value = values[name]
    if (value === undefined) throw new Error(`no value for :${name} of ${route.url}`)
    return raw ? value : encodeURIComponent(value)
  })
}
