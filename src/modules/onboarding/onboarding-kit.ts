// The customer onboarding kit: everything a customer needs to create the role deputy's vendor
// principal assumes, in four equivalent forms built from one trust policy. Pure: no I/O, no
// configuration read here; callers pass everything in.
//
// For other features (rotation, the sandbox):
// - buildOnboardingKit(input): the whole kit. `externalIds` is [current] or, during a rotation,
//   [new, previous]: the trust policy then accepts both (StringEquals on a list of two), the
//   per-customer template has ExternalId and PreviousExternalId parameters, and the quick-create
//   link fills both.
// - renderRoleTemplate(role, externalIds) / renderGenericTemplate(role) (cloudformation.ts): the
//   per-customer and the generic CloudFormation templates alone.
// - instantiateRoleTemplate(yaml, parameters) (cloudformation.ts): the role a template creates,
//   as CloudFormation would (parameter constraints enforced, Ref / Fn::If resolved): what an
//   emulated account applies.
import type { PolicyDocument } from '../../iam/policy-document.js'
import { renderAwsCli } from './aws-cli.js'
import { renderRoleTemplate, type RoleSpec } from './cloudformation.js'
import { INLINE_POLICY_NAME, inlinePolicyDocument, type PermissionSet } from './permission-set.js'
import { quickCreateUrl, stackNameFor } from './quick-create.js'
import { renderTerraform } from './terraform.js'
import { buildTrustPolicy, checkExternalIds, checkVendorPrincipal, OnboardingInputError, type TrustPolicy } from './trust-policy.js'

export { renderGenericTemplate, renderRoleTemplate, instantiateRoleTemplate, parseCloudFormationYaml } from './cloudformation.js'
export { OnboardingInputError } from './trust-policy.js'

export interface OnboardingKitInput {
  vendorPrincipalArn: string
  /** [current] or, during a rotation, [new, previous]; lowercase UUID v4 each. */
  externalIds: readonly string[]
  /** deputy sets a source identity on sessions: the role must also trust sts:SetSourceIdentity. */
  sourceIdentity: boolean
  /** deputy tags sessions (SESSION_TAGS): the role must also trust sts:TagSession. */
  tagSession?: boolean | undefined
  roleName: string
  maxSessionDuration: number
  permissions: PermissionSet
  permissionsBoundaryArn?: string | undefined
  /** The generic template published in S3; without it there is no quick-create link. */
  templateUrl?: string | undefined
  /** The console region of the quick-create link. */
  region: string
  /** The customer's account, when known: the AWS CLI's read grant names the role's exact ARN. */
  awsAccountId?: string | undefined
}

export interface OnboardingPermissions {
  managedPolicyArns: string[]
  inlinePolicy: { name: string, document: PolicyDocument } | null
  permissionsBoundaryArn: string | null
}

export interface OnboardingKit {
  trustPolicy: TrustPolicy
  permissions: OnboardingPermissions
  cloudFormation: { template: string, quickCreateUrl: string | null }
  terraform: string
  awsCli: string
}

const ROLE_NAME = /^[\w+=,.@-]{1,64}$/

export function buildOnboardingKit (input: OnboardingKitInput): OnboardingKit {
  const { externalIds } = input
  checkExternalIds(externalIds)
  if (!ROLE_NAME.test(input.roleName)) throw new OnboardingInputError(`${JSON.stringify(input.roleName)} is not an IAM role name`)
  if (!Number.isInteger(input.maxSessionDuration) || input.maxSessionDuration < 3600 || input.maxSessionDuration > 43_200) {
    throw new OnboardingInputError(`MaxSessionDuration must be 3600-43200 seconds, not ${input.maxSessionDuration}`)
  }
  const trustPolicy = buildTrustPolicy(input)
  const role: RoleSpec = {
    vendorPrincipalArn: input.vendorPrincipalArn,
    sourceIdentity: input.sourceIdentity,
    tagSession: input.tagSession,
    roleName: input.roleName,
    maxSessionDuration: input.maxSessionDuration,
    permissions: input.permissions,
    permissionsBoundaryArn: input.permissionsBoundaryArn
  }
  const inline = inlinePolicyDocument(input.permissions)
  const comment = [
    `deputy onboarding kit: the IAM role ${input.roleName}, assumable by ${input.vendorPrincipalArn} only,`,
    `and only with the external ID ${externalIds.join(' or ')} (AWS Well-Architected SEC03-BP09).`,
    'The external ID is written out on purpose: a variable could be left empty.'
  ].join('\n')
  const { partition } = checkVendorPrincipal(input.vendorPrincipalArn)
  return {
    trustPolicy,
    permissions: {
      managedPolicyArns: [...input.permissions.managedPolicyArns],
      inlinePolicy: inline === null ? null : { name: INLINE_POLICY_NAME, document: inline },
      permissionsBoundaryArn: input.permissionsBoundaryArn ?? null
    },
    cloudFormation: {
      template: renderRoleTemplate(role, externalIds),
      // A quick-create link creates a new stack; during a rotation the stack exists and is
      // updated with the template instead (the kit's `template`), so there is no link.
      quickCreateUrl: input.templateUrl === undefined || externalIds.length > 1
        ? null
        : quickCreateUrl({ templateUrl: input.templateUrl, region: input.region, partition, stackName: stackNameFor(input.roleName), externalIds })
    },
    terraform: renderTerraform(role, trustPolicy, comment),
    awsCli: renderAwsCli(role, trustPolicy, comment, {
      rotation: externalIds.length > 1,
      ...(input.awsAccountId === undefined ? {} : { ownArn: `arn:${partition}:iam::${input.awsAccountId}:role/${input.roleName}` })
    })
  }
}
