// Shapes of credential issuance.
import { Type, type Static } from 'typebox'
import { POLICY_ARN_PATTERN } from '../../aws/arn.js'
import { MAX_POLICY_ARNS } from '../../aws/sts-limits.js'

const StringOrList = Type.Union([
  Type.String({ minLength: 1, maxLength: 2048 }),
  Type.Array(Type.String({ minLength: 1, maxLength: 2048 }), { minItems: 1, maxItems: 200 })
])

export const PolicyStatementSchema = Type.Object({
  Sid: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9]*$', maxLength: 128 })),
  Effect: Type.Union([Type.Literal('Allow'), Type.Literal('Deny')]),
  Action: Type.Optional(StringOrList),
  NotAction: Type.Optional(StringOrList),
  Resource: Type.Optional(StringOrList),
  NotResource: Type.Optional(StringOrList),
  Condition: Type.Optional(Type.Record(Type.String(), Type.Record(Type.String(), Type.Union([Type.String(), Type.Boolean(), Type.Number(), Type.Array(Type.String())]))))
}, { additionalProperties: false })

export const SessionPolicySchema = Type.Object({
  Version: Type.Literal('2012-10-17'),
  Id: Type.Optional(Type.String({ maxLength: 128 })),
  Statement: Type.Array(PolicyStatementSchema, { minItems: 1, maxItems: 50 })
}, { additionalProperties: false, description: 'An IAM policy that narrows the session below the role\'s permissions; at most 2048 characters once minified.' })

export const IssueCredentialsSchema = Type.Object({
  purpose: Type.String({ minLength: 3, maxLength: 256, description: 'Why the credentials are needed; kept in the audit trail.' }),
  durationSeconds: Type.Optional(Type.Integer({ minimum: 900, maximum: 3600, default: 900, description: 'Lifetime, 900-3600 s (and no more than the configured cap).' })),
  sessionPolicy: Type.Optional(SessionPolicySchema),
  policyArns: Type.Optional(Type.Array(Type.String({ pattern: POLICY_ARN_PATTERN }), { maxItems: MAX_POLICY_ARNS, uniqueItems: true, description: 'Managed policies that further narrow the session.' })),
  minRemainingSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 3600, description: 'With CREDENTIAL_REUSE=on: a session deputy already holds for an identical request is handed out only if it has at least this long left (default 300, at most durationSeconds). Without reuse every response is a fresh session.' }))
}, { additionalProperties: false })

export const IssuedCredentialsSchema = Type.Object({
  credentials: Type.Object({
    accessKeyId: Type.String(),
    secretAccessKey: Type.String(),
    sessionToken: Type.String(),
    expiration: Type.String({ format: 'date-time' })
  }, { additionalProperties: false }),
  ttlSeconds: Type.Integer(),
  assumedRoleArn: Type.String(),
  sessionName: Type.String({ description: 'Set by deputy; appears in the customer\'s CloudTrail.' }),
  sourceIdentity: Type.Union([Type.String(), Type.Null()], { description: 'Set by deputy when enabled; sticks to the session through role chaining.' }),
  auditEventId: Type.String({ format: 'uuid', description: 'The credentials.issued audit event, committed before this response was sent.' }),
  reusedAuditEventId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()], { description: 'Set when this is a session deputy already held (CREDENTIAL_REUSE=on): the credentials.issued event of the AssumeRole that made it. Its expiration is that session\'s own and ttlSeconds what is left of it.' })
}, { additionalProperties: false })

export type IssueCredentialsInput = Static<typeof IssueCredentialsSchema>
export type IssuedCredentials = Static<typeof IssuedCredentialsSchema>
export type SessionPolicy = Static<typeof SessionPolicySchema>
