// The trust policy of the role a customer deploys: the vendor's one principal (never an account
// root, which would let every identity of the vendor's account in), the actions deputy uses, and
// the exact external ID (StringEquals, no wildcard), with nothing optional. Every other document of
// the onboarding kit embeds this one. Pure: no I/O.
import { parsePrincipalArn, type PrincipalArn } from '../../aws/arn.js'
import { POLICY_VERSION } from '../../iam/policy-document.js'

/** deputy's external IDs: lowercase UUID v4 (crypto.randomUUID). */
export const EXTERNAL_ID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'
const EXTERNAL_ID = new RegExp(EXTERNAL_ID_PATTERN)

export interface TrustStatement {
  Effect: 'Allow'
  Principal: { AWS: string }
  Action: string[]
  Condition: { StringEquals: { 'sts:ExternalId': string | string[] } }
}

export interface TrustPolicy {
  Version: typeof POLICY_VERSION
  Statement: [TrustStatement]
}

/** The current external ID, then (only during a rotation) the other one still in use. */
export type ExternalIds = readonly [string] | readonly [string, string]

/** A caller passed the generator something it must never render (a bug, not a user error). */
export class OnboardingInputError extends Error {
  override name = 'OnboardingInputError'
}

/**
 * The principal customers trust must be one IAM user or role. An account root (or a bare account
 * ID, which IAM turns into the root) would trust every identity in the vendor's account; a role
 * session ARN matches one session name only, and loses the role's path.
 */
export function checkVendorPrincipal (arn: string): PrincipalArn {
  const principal = parsePrincipalArn(arn)
  if (principal === undefined || principal.kind === 'assumed-role') {
    throw new OnboardingInputError(`the vendor principal must be an IAM role or user ARN (arn:aws:iam::123456789012:role/name), not ${JSON.stringify(arn)}: customers would trust ${principal === undefined ? 'something else' : 'one role session'}`)
  }
  return principal
}

export function checkExternalIds (externalIds: readonly string[]): asserts externalIds is ExternalIds {
  if (externalIds.length < 1 || externalIds.length > 2) throw new OnboardingInputError(`one or two external IDs, not ${externalIds.length}`)
  for (const id of externalIds) {
    if (!EXTERNAL_ID.test(id)) throw new OnboardingInputError(`${JSON.stringify(id)} is not a lowercase UUID v4 external ID`)
  }
  if (externalIds[0] === externalIds[1]) throw new OnboardingInputError('the two external IDs are the same')
}

/**
 * sts:AssumeRole, sts:SetSourceIdentity when deputy sets a source identity on sessions, and
 * sts:TagSession only when deputy tags sessions (SESSION_TAGS): a role grants no more than is used.
 */
export const trustedActions = (sourceIdentity: boolean, tagSession = false): string[] => [
  'sts:AssumeRole',
  ...(sourceIdentity ? ['sts:SetSourceIdentity'] : []),
  ...(tagSession ? ['sts:TagSession'] : [])
]

/** The condition value: the ID itself, or both IDs during a rotation. */
export const externalIdCondition = (externalIds: ExternalIds): string | string[] =>
  externalIds.length === 1 ? externalIds[0] : [...externalIds]

export function buildTrustPolicy (input: { vendorPrincipalArn: string, externalIds: readonly string[], sourceIdentity: boolean, tagSession?: boolean | undefined }): TrustPolicy {
  checkVendorPrincipal(input.vendorPrincipalArn)
  const { externalIds } = input
  checkExternalIds(externalIds)
  return {
    Version: POLICY_VERSION,
    Statement: [{
      Effect: 'Allow',
      Principal: { AWS: input.vendorPrincipalArn },
      Action: trustedActions(input.sourceIdentity, input.tagSession),
      Condition: { StringEquals: { 'sts:ExternalId': externalIdCondition(externalIds) } }
    }]
  }
}
