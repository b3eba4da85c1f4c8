// Shapes of the onboarding kit route.
import { Type, type Static } from 'typebox'
import { AwsAccountIdSchema, ExternalIdSchema } from '../external-ids/external-ids.schemas.js'

const ExternalIdValue = Type.String({ format: 'uuid' })
const StringOrList = Type.Union([Type.String(), Type.Array(Type.String())])
const ConditionValue = Type.Union([Type.String(), Type.Number(), Type.Boolean()])

export const TrustPolicySchema = Type.Object({
  Version: Type.Literal('2012-10-17'),
  Statement: Type.Array(Type.Object({
    Effect: Type.Literal('Allow'),
    Principal: Type.Object({ AWS: Type.String({ description: 'The vendor principal: one IAM role or user, never an account root.' }) }, { additionalProperties: false }),
    Action: Type.Array(Type.String(), { description: '`sts:AssumeRole`, `sts:SetSourceIdentity` when deputy sets a source identity on sessions, and `sts:TagSession` when it tags them (SESSION_TAGS).' }),
    Condition: Type.Object({
      StringEquals: Type.Object({
        'sts:ExternalId': Type.Union([ExternalIdValue, Type.Array(ExternalIdValue, { minItems: 2, maxItems: 2 })], { description: 'Exactly this external ID (both IDs only during a rotation).' })
      }, { additionalProperties: false })
    }, { additionalProperties: false })
  }, { additionalProperties: false }), { minItems: 1, maxItems: 1 })
}, { additionalProperties: false, description: 'The role\'s trust policy (AssumeRolePolicyDocument), exactly as every other document of the kit embeds it.' })

const IdentityStatementSchema = Type.Object({
  Sid: Type.Optional(Type.String()),
  Effect: Type.Union([Type.Literal('Allow'), Type.Literal('Deny')]),
  Action: Type.Optional(StringOrList),
  NotAction: Type.Optional(StringOrList),
  Resource: Type.Optional(StringOrList),
  NotResource: Type.Optional(StringOrList),
  Condition: Type.Optional(Type.Record(Type.String(), Type.Record(Type.String(), Type.Union([ConditionValue, Type.Array(ConditionValue)]))))
}, { additionalProperties: false })

export const OnboardingPermissionsSchema = Type.Object({
  managedPolicyArns: Type.Array(Type.String(), { description: 'Managed policies attached to the role.' }),
  inlinePolicy: Type.Union([Type.Object({
    name: Type.String(),
    document: Type.Object({ Version: Type.Literal('2012-10-17'), Statement: Type.Array(IdentityStatementSchema) }, { additionalProperties: false })
  }, { additionalProperties: false }), Type.Null()], { description: 'The role\'s one inline policy; null when the permission set has no statements.' }),
  permissionsBoundaryArn: Type.Union([Type.String(), Type.Null()])
}, { additionalProperties: false, description: 'What the role grants the vendor (ONBOARDING_PERMISSIONS_FILE); both lists empty: nothing.' })

export const OnboardingKitSchema = Type.Object({
  externalIdId: Type.String({ format: 'uuid' }),
  customerId: Type.String({ format: 'uuid' }),
  externalId: ExternalIdValue,
  awsAccountId: AwsAccountIdSchema,
  vendorPrincipalArn: Type.String(),
  roleName: Type.String(),
  roleArn: Type.String({ description: 'The ARN the role will have in the customer\'s account: what to register with POST /v1/customers/{id}/connections once it is deployed.' }),
  maxSessionDuration: Type.Integer(),
  rotation: Type.Union([Type.Object({
    predecessorExternalIdId: Type.String({ format: 'uuid' }),
    successorExternalIdId: Type.String({ format: 'uuid' })
  }, { additionalProperties: false }), Type.Null()], { description: 'Set while the account rotates its external ID: the kit then accepts both IDs, so the role keeps working for the predecessor until the connection moves to the successor.' }),
  trustPolicy: TrustPolicySchema,
  permissions: OnboardingPermissionsSchema,
  cloudFormation: Type.Object({
    template: Type.String({ description: 'YAML template for this account: ExternalId defaults to this ID and is constrained (AllowedPattern, MinLength, MaxLength).' }),
    quickCreateUrl: Type.Union([Type.String(), Type.Null()], { description: 'Console quick-create link to the generic template at ONBOARDING_TEMPLATE_URL with this ID filled in; null when it is not configured.' })
  }, { additionalProperties: false }),
  terraform: Type.String({ description: 'HCL: aws_iam_role with the external ID as a literal, attachments, inline policy, output role_arn.' }),
  awsCli: Type.String({ description: 'POSIX-shell AWS CLI commands (create-role, attach-role-policy, put-role-policy), arguments single-quoted.' }),
  warnings: Type.Array(Type.String(), { description: 'What the vendor should know about its configuration (for instance: the role grants no permissions).' })
}, { additionalProperties: false })

export type OnboardingKitView = Static<typeof OnboardingKitSchema>

export const RotationStartedSchema = Type.Object({
  predecessor: ExternalIdSchema,
  successor: ExternalIdSchema,
  onboarding: OnboardingKitSchema
}, { additionalProperties: false })
