// Shapes of the connection routes and of the probe report.
import { Type, type Static } from 'typebox'
import { ROLE_ARN_PATTERN } from '../../aws/arn.js'
import { CursorSchema, LimitSchema, PageOf } from '../../lib/pagination.js'
import { AwsAccountIdSchema } from '../external-ids/external-ids.schemas.js'
import { OnboardingKitSchema } from '../onboarding/onboarding.schemas.js'

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()])

export const ProbeCallSchema = Type.Object({
  step: Type.Union([Type.Literal('with_external_id'), Type.Literal('caller_identity'), Type.Literal('without_external_id'), Type.Literal('wrong_external_id'), Type.Literal('read_trust_policy'), Type.Literal('replay_witness')], { description: 'read_trust_policy is IAM GetRole (stsRequestId is then the IAM request id); replay_witness is AssumeRole with the static check\'s witness.' }),
  outcome: Type.Union([Type.Literal('allowed'), Type.Literal('denied'), Type.Literal('error'), Type.Literal('mismatch')]),
  errorCode: Nullable(Type.String()),
  errorMessage: Nullable(Type.String()),
  stsRequestId: Nullable(Type.String()),
  at: Type.String({ format: 'date-time' }),
  attempts: Type.Integer()
}, { additionalProperties: false })

export const ProbeFindingSchema = Type.Object({
  code: Type.String({ description: 'Stable. Every finding blocks (insecure or not_assumable) except trust_policy_admits_retired_external_id, which asks the customer to remove a retired ID of this account and leaves a passing probe passing.' }),
  message: Type.String({ description: 'What is wrong and what the customer must change.' })
}, { additionalProperties: false })

export const StaticCheckSchema = Type.Object({
  status: Type.Union([Type.Literal('proved'), Type.Literal('violation'), Type.Literal('unknown'), Type.Literal('unavailable')], {
    description: 'proved: the trust policy admits the vendor principal with this account\'s external ID(s) only (its retired ones count as its own: deputy never presents them again; admitted, they are the non-blocking finding trust_policy_admits_retired_external_id). violation: it admits another ID, or none (the probe is then insecure). unknown: it uses something the analysis cannot decide (does not block). unavailable: the policy could not be read (the role does not grant iam:GetRole on itself, or IAM did not answer); the probe alone decides.'
  }),
  detail: Type.String(),
  statement: Nullable(Type.String({ description: 'The statement responsible ("Sid X" or "statement N").' })),
  witness: Nullable(Type.Object({
    externalId: Nullable(Type.String({ description: 'null: the policy admits a request without an external ID.' })),
    roleSessionName: Type.String(),
    sourceIdentity: Nullable(Type.String())
  }, { additionalProperties: false, description: 'A request the policy admits although its external ID is not this account\'s.' })),
  confirmed: Nullable(Type.Boolean({ description: 'Whether AWS admitted the witness when deputy replayed it (replay_witness); null when it was not replayed.' }))
}, { additionalProperties: false, description: 'The static proof: deputy reads the trust policy (IAM GetRole) and decides which external IDs it admits for the vendor principal.' })

export const ProbeOutcomeSchema = Type.Union([Type.Literal('pass'), Type.Literal('insecure'), Type.Literal('not_assumable'), Type.Literal('error')])

export const ProbeReportSchema = Type.Object({
  outcome: ProbeOutcomeSchema,
  checkedAt: Type.String({ format: 'date-time' }),
  durationMs: Type.Integer(),
  vendorPrincipalArn: Type.String(),
  roleArn: Type.String(),
  calls: Type.Array(ProbeCallSchema),
  findings: Type.Array(ProbeFindingSchema),
  staticCheck: Type.Optional(StaticCheckSchema)
}, { additionalProperties: false, description: 'The confused-deputy probe: AssumeRole with the external ID must be allowed, without it or with a wrong one must be denied, and the trust policy, when deputy may read it, must admit no other external ID.' })

export const ConnectionStatusSchema = Type.Union([Type.Literal('active'), Type.Literal('insecure'), Type.Literal('failed'), Type.Literal('revoked')])

export const ConnectionSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  customerId: Type.String({ format: 'uuid' }),
  externalIdId: Type.String({ format: 'uuid' }),
  awsAccountId: AwsAccountIdSchema,
  roleArn: Type.String(),
  status: ConnectionStatusSchema,
  verification: ProbeReportSchema,
  verifiedAt: Type.String({ format: 'date-time' }),
  createdAt: Type.String({ format: 'date-time' }),
  revokedAt: Nullable(Type.String({ format: 'date-time' })),
  nextProbeAt: Nullable(Type.String({ format: 'date-time', description: 'When drift detection next re-runs the probe on this connection (null once revoked). The scheduler may run up to a tick later, or later still when the STS call rate is spent.' }))
}, { additionalProperties: false })

export const VerifiedConnectionSchema = Type.Object({
  ...ConnectionSchema.properties,
  onboarding: Type.Optional(Type.Union([OnboardingKitSchema, Type.Null()], { description: 'Only when this verify completed a rotation: the kit to deploy next, whose trust policy names the successor alone (the retired predecessor leaves it). null when deputy hands out no kit (VENDOR_PRINCIPAL_ARN is a role session).' }))
}, { additionalProperties: false })

export const CreateConnectionSchema = Type.Object({
  externalIdId: Type.String({ format: 'uuid', description: 'The external ID (deputy id) the role trusts.' }),
  roleArn: Type.String({ pattern: ROLE_ARN_PATTERN, maxLength: 2048, description: 'The IAM role the customer created, e.g. arn:aws:iam::123456789012:role/VendorAccess. Partitions aws, aws-cn, aws-us-gov; paths allowed.' })
}, { additionalProperties: false })

export const ConnectionParamsSchema = Type.Object({ connectionId: Type.String({ format: 'uuid' }) })

export const ListConnectionsQuerySchema = Type.Object({
  awsAccountId: Type.Optional(AwsAccountIdSchema),
  status: Type.Optional(ConnectionStatusSchema),
  limit: Type.Optional(LimitSchema),
  cursor: Type.Optional(CursorSchema)
}, { additionalProperties: false })

export const ConnectionPageSchema = PageOf(ConnectionSchema)

export const RevokeConnectionSchema = Type.Object({
  reason: Type.String({ minLength: 3, maxLength: 500, description: 'Why the connection is revoked; kept on the record and in the audit trail.' })
}, { additionalProperties: false })

export const DenyPolicySchema = Type.Object({
  Version: Type.Literal('2012-10-17'),
  Statement: Type.Array(Type.Object({
    Effect: Type.Literal('Deny'),
    Action: Type.Literal('*'),
    Resource: Type.Literal('*'),
    Condition: Type.Object({
      DateLessThan: Type.Object({ 'aws:TokenIssueTime': Type.String({ format: 'date-time' }) }, { additionalProperties: false })
    }, { additionalProperties: false })
  }, { additionalProperties: false }))
}, { additionalProperties: false, description: 'An IAM policy the customer can attach to the role: it denies everything to sessions issued before the revocation, which ends them at once.' })

export const RevocationImpactSchema = Type.Object({
  outstandingCredentialsExpireAt: Nullable(Type.String({ format: 'date-time', description: 'The latest expiration among credentials deputy issued that are still valid: STS sessions cannot be recalled, so they work until then unless the customer attaches `customerDenyPolicy`. Null: none outstanding.' })),
  customerDenyPolicy: DenyPolicySchema,
  tookMs: Type.Integer({ description: 'How long the revocation took inside deputy, lock waits included.' })
}, { additionalProperties: false })

export const RevokedConnectionSchema = Type.Object({
  ...ConnectionSchema.properties,
  impact: RevocationImpactSchema
}, { additionalProperties: false, description: 'The revoked connection, with what the revocation leaves behind.' })

export type ProbeCall = Static<typeof ProbeCallSchema>
export type ProbeFinding = Static<typeof ProbeFindingSchema>
export type ProbeReport = Static<typeof ProbeReportSchema>
export type StaticCheck = Static<typeof StaticCheckSchema>
export type ConnectionView = Static<typeof ConnectionSchema>
export type ConnectionStatus = Static<typeof ConnectionStatusSchema>
export type ListConnectionsQuery = Static<typeof ListConnectionsQuerySchema>
export type VerifiedConnectionView = Static<typeof VerifiedConnectionSchema>
export type RevokedConnectionView = Static<typeof RevokedConnectionSchema>
