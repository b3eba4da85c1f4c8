// The typed client for deputy's public API, generated from openapi.yaml (schema.d.ts), so the
// console cannot call a route or read a field the API does not have. Every call carries the
// session's token; a non-2xx answer becomes an ApiProblem the pages show as it is.
import createClient, { type Middleware } from 'openapi-fetch'
import { session } from '../session'
import { ApiProblem, type ProblemDocument } from './problem'
import type { paths } from './schema'

const authorization: Middleware = {
  onRequest ({ request, schemaPath }) {
    const token = session.token()
    // The health probes need none, and a token sent to /readyz is checked for metrics:read
    // (refused and audited without it), so the banner's polling would fill the audit trail.
    const health = schemaPath === '/readyz' || schemaPath === '/healthz'
    if (token !== null && !health) request.headers.set('authorization', `Bearer ${token}`)
    return request
  }
}

export const api = createClient<paths>({ baseUrl: '' })
api.use(authorization)

async function problemOf (response: Response, body: unknown): Promise<ApiProblem> {
  const requestId = response.headers.get('x-request-id')
  const document = (typeof body === 'object' && body !== null ? body : { title: response.statusText }) as ProblemDocument
  const retryAfter = Number.parseInt(response.headers.get('retry-after') ?? '', 10)
  return new ApiProblem(response.status, document, requestId, Number.isFinite(retryAfter) ? retryAfter : null)
}

/** Unwraps an openapi-fetch result: the data, or throws the problem deputy answered. */
export async function unwrap<T> (result: Promise<{ data?: T, error?: unknown, response: Response }>): Promise<T> {
  const { data, error, response } = await result
  if (!response.ok || data === undefined) throw await problemOf(response, error)
  return data
}

/** For the few requests outside openapi.yaml (the sandbox route) or that stream (the export). */
export async function rawFetch (path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers)
  const token = session.token()
  if (token !== null) headers.set('authorization', `Bearer ${token}`)
  const response = await fetch(path, { ...init, headers })
  if (!response.ok) {
    const body: unknown = await response.json().catch(() => undefined)
    throw await problemOf(response, body)
  }
  return response
}
