// RFC 9457 problem details: the one shape of every error response, and its OpenAPI schema.
import { Type } from 'typebox'

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

export const problemType = (code: string): string => `urn:deputy:problem:${code}`

export const ProblemSchema = Type.Object({
  type: Type.String({ description: 'urn:deputy:problem:<code>' }),
  title: Type.String(),
  status: Type.Integer(),
  detail: Type.String(),
  code: Type.String({ description: 'Stable, machine-readable error code.' }),
  instance: Type.Optional(Type.String({ description: 'The request path.' })),
  requestId: Type.Optional(Type.String()),
  errors: Type.Optional(Type.Array(Type.Object({
    in: Type.String({ description: 'body, querystring, params or headers' }),
    pointer: Type.String({ description: 'JSON Pointer to the offending value.' }),
    detail: Type.String()
  }), { description: 'Every validation problem found, for 400 validation_failed.' }))
}, { $id: 'Problem', additionalProperties: true, description: 'RFC 9457 problem details.' })

/**
 * What a closing server answers (Fastify's `return503OnClosing`): written by Fastify before any
 * hook or error handler runs, so it is plain JSON, not a problem, and carries no X-Request-Id.
 */
export const ServerClosingSchema = Type.Object({
  error: Type.String(),
  message: Type.String(),
  statusCode: Type.Integer()
}, { $id: 'ServerClosing', description: 'The answer of a server that is shutting down (sent by Fastify itself, not a problem).' })

const DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request: `validation_failed` (with `errors`, every problem at once), `malformed_json`, or another `code`.',
  401: 'Missing, unknown or revoked API token.',
  403: 'The API token lacks the required scope.',
  404: 'No such resource visible to this API token.',
  405: 'Method not allowed.',
  409: 'Conflict with the current state.',
  413: 'Request body over 64 KiB (`body_too_large`).',
  414: 'A path parameter longer than 100 characters.',
  415: 'Request body that is not `application/json` (`unsupported_media_type`).',
  422: 'Request understood but refused.',
  424: 'A dependency refused the request.',
  429: 'Too many requests (`rate_limited`; `auth_throttled` after repeated failed authentication; `probe_cooldown` or `probe_budget_exhausted` for probes); see Retry-After.',
  500: 'Unexpected error (`internal_error`); the details are only in the log, under the request id.',
  503: 'Temporarily unavailable (a problem; see Retry-After), or the server is shutting down (`application/json`, `ServerClosing`).'
}

/** Response schemas for the given error statuses, all problem+json (503 also the closing answer). */
export function problemResponses (...statuses: number[]): Record<number, unknown> {
  return Object.fromEntries(statuses.map((status) => [status, {
    description: DESCRIPTIONS[status] ?? 'Error.',
    content: {
      [PROBLEM_CONTENT_TYPE]: { schema: Type.Ref('Problem') },
      ...(status === 503 ? { 'application/json': { schema: Type.Ref('ServerClosing') } } : {})
    }
  }]))
}
