// Shapes of the container-credentials route: what the AWS SDKs' container credential provider
// (AWS_CONTAINER_CREDENTIALS_FULL_URI) sends and reads. botocore reads AccessKeyId,
// SecretAccessKey, Token, Expiration and AccountId; the JavaScript SDK v3 the first four.
import { Type, type Static } from 'typebox'

export const ContainerCredentialsQuerySchema = Type.Object({
  purpose: Type.String({ minLength: 3, maxLength: 256, description: 'Why the credentials are needed; kept in the audit trail (as the POST route\'s `purpose`).' }),
  durationSeconds: Type.Optional(Type.Integer({ minimum: 900, maximum: 3600, default: 900, description: 'Lifetime, 900-3600 s (and no more than the configured cap). botocore refreshes credentials with less than 15 minutes left, so with 900 s it fetches again before every call.' }))
}, { additionalProperties: false })

export const ContainerCredentialsSchema = Type.Object({
  AccessKeyId: Type.String(),
  SecretAccessKey: Type.String(),
  Token: Type.String({ description: 'The session token.' }),
  Expiration: Type.String({ format: 'date-time', description: 'When the session ends (RFC 3339, UTC); the SDKs fetch again before it.' }),
  AccountId: Type.String({ pattern: '^[0-9]{12}$', description: 'The customer\'s AWS account (botocore uses it for account-based endpoints).' })
}, { additionalProperties: false })

/** The error the SDKs print (botocore: "Received non 200 response 401 from container metadata: <body>"). */
export const ContainerErrorSchema = Type.Object({
  code: Type.String({ description: 'deputy\'s stable error code (the `code` of the POST route\'s problem).' }),
  message: Type.String({ description: 'What went wrong and what to do (the problem\'s `detail`).' }),
  requestId: Type.String({ description: 'The request id, as in X-Request-Id and on the audit event.' })
}, { additionalProperties: false })

export type ContainerCredentialsQuery = Static<typeof ContainerCredentialsQuerySchema>
export type ContainerCredentials = Static<typeof ContainerCredentialsSchema>
export type ContainerError = Static<typeof ContainerErrorSchema>

const DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid query (`validation_failed`, `duration_exceeds_cap`, ...).',
  401: 'Missing, unknown or revoked API token.',
  403: 'The API token lacks `credentials:issue`.',
  404: 'No such connection visible to this API token.',
  409: 'The connection, its external ID or its customer is not active (`connection_not_active`).',
  414: 'A path parameter longer than 100 characters.',
  422: 'AWS STS rejected the request (`sts_rejected`).',
  424: 'AWS refused AssumeRole (`role_access_denied`).',
  429: 'Too many requests (`rate_limited`, `auth_throttled`); see Retry-After.',
  500: 'Unexpected error (`internal_error`).',
  503: 'Temporarily unavailable (`issuance_frozen`, `sts_unavailable`, `audit_unavailable`, `database_unavailable`, ...; see Retry-After), or the server is shutting down (Fastify\'s own answer).'
}

/** Every error status of the route, each `{code, message, requestId}` as application/json. */
export function containerErrorResponses (...statuses: number[]): Record<number, unknown> {
  return Object.fromEntries(statuses.map((status) => [status, {
    description: DESCRIPTIONS[status] ?? 'Error.',
    content: { 'application/json': { schema: status === 503 ? Type.Union([ContainerErrorSchema, Type.Ref('ServerClosing')]) : ContainerErrorSchema } }
  }]))
}
