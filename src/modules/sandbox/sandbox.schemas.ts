// Shapes of the sandbox-only route (mounted only in the sandbox, so absent from openapi.yaml).
import { Type, type Static } from 'typebox'
import { AwsAccountIdSchema } from '../external-ids/external-ids.schemas.js'

/** CloudFormation's own limit on a template passed in the request (TemplateBody). */
export const MAX_TEMPLATE_CHARS = 51_200

export const StackAccountParamsSchema = Type.Object({ awsAccountId: AwsAccountIdSchema }, { additionalProperties: false })

export const ApplyStackSchema = Type.Object({
  template: Type.String({ minLength: 1, maxLength: MAX_TEMPLATE_CHARS, description: 'A CloudFormation template (YAML or JSON) creating one AWS::IAM::Role, such as `cloudFormation.template` of an onboarding kit.' }),
  parameters: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z0-9]{1,255}$' }), Type.String({ maxLength: 4096 }), { maxProperties: 200, additionalProperties: false, description: 'Parameter values, as `aws cloudformation deploy --parameter-overrides` would give them; the rest take their defaults.' }))
}, { additionalProperties: false })

export const AppliedStackSchema = Type.Object({
  awsAccountId: AwsAccountIdSchema,
  roleName: Type.String(),
  roleArn: Type.String({ description: 'The role the stack created (or updated): what to register with POST /v1/customers/{id}/connections.' }),
  maxSessionDuration: Type.Integer(),
  outputs: Type.Object({ RoleArn: Type.String() }, { additionalProperties: false, description: "The stack's outputs." })
}, { additionalProperties: false })

export type ApplyStackInput = Static<typeof ApplyStackSchema>
export type AppliedStack = Static<typeof AppliedStackSchema>
