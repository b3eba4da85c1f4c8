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

const DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request (problem+json, with `errors` for validation failures).',
  401: 'Missing, unknown or revoked API token.',
  403: 'The API token lacks the required scope.',
  404: 'No such resource visible to this API token.',
  405: 'Method not allowed.',
  409: 'Conflict with the current state.',
  413: 'Request body over 64 KiB.',
  415: 'Unsupported media type.',
  422: 'Request understood but refused.',
  424: 'A dependency refused the request.',
  429: 'Rate limit exceeded; see Retry-After.',
  503: 'Temporarily unavailable; see Retry-After.'
}

/** Response schemas for the given error statuses, all problem+json. */
export function problemResponses (...statuses: number[]): Record<number, unknown> {
  return Object.fromEntries(statuses.map((status) => [status, {
    description: DESCRIPTIONS[status] ?? 'Error.',
    content: { [PROBLEM_CONTENT_TYPE]: { schema: Type.Ref('Problem') } }
  }]))
}
