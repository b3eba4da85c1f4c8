// The probe's fourth step: read the role's trust policy (IAM GetRole, with the session of call 1)
// and prove with the analysis in src/iam/trust-policy-analysis that it admits the vendor principal
// with this account's external ID(s) only. It catches what three AssumeRole calls cannot (an ID
// as a prefix, a list with another customer's ID). The role grants iam:GetRole on itself only if
// the customer deployed the kit's grant; without it the check is `unavailable` and the probe
// alone decides, as before.
import type { StsOutcome } from '../../aws/sts-gateway.js'
import type { RoleDocument } from '../../aws/iam-get-role.js'
import { evaluateTrustPolicy, MalformedPolicyError } from '../../iam/trust-policy-evaluator.js'
import { EXTERNAL_ID_KEY } from '../../iam/trust-policy-analysis/analyse.js'
import { vendorRequestInput } from '../../iam/trust-policy-analysis/vendor-request.js'
import type { StaticAnalyser } from './static-analysis.js'
import type { ProbeFinding, StaticCheck } from './connections.schemas.js'
import type { IssuedTo } from './issued-ids.js'

/** A finding that asks for a change but does not block: the role stays usable. */
export const RETIRED_ID_FINDING = 'trust_policy_admits_retired_external_id'

/**
 * The session policy of the probe's first call: its credentials may read the role itself and
 * nothing else (AWS intersects it with the role's own permissions, so without the kit's grant
 * they can do nothing at all).
 */
export const readOwnRoleSessionPolicy = (roleArn: string): string => JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: 'iam:GetRole', Resource: roleArn }]
})

export interface StaticInput {
  roleArn: string
  vendorPrincipalArn: string
  /** The account's active external IDs: the one probed first. */
  ours: string[]
  /**
   * This account's retired IDs that the policy names: admitting them is no confused deputy (deputy
   * never presents a retired ID again, and no other customer holds it), so the proof treats them
   * as the account's own and retiredFinding() reports them without blocking.
   */
  retired?: string[] | undefined
  sessionName: string
  sourceIdentity: string | undefined
}

/** What the trust policy read (or the failure to read it) says. */
export async function judge (read: StsOutcome<RoleDocument>, input: StaticInput, analyser: Pick<StaticAnalyser, 'analyse'>): Promise<StaticCheck> {
  if (!read.ok) {
    const detail = read.failure.kind === 'denied'
      ? `the role does not let deputy read its trust policy (grant iam:GetRole on ${input.roleArn} to the role itself, as the onboarding kit does); the behavioural checks alone decide`
      : `IAM GetRole failed (${read.failure.code}); the behavioural checks alone decide`
    return { status: 'unavailable', detail, statement: null, witness: null, confirmed: null }
  }
  // In a worker thread, with a deadline: the policy is the tenant's, the event loop everyone's.
  // This account's retired IDs count as its own (deputy never presents them again).
  const retired = input.retired ?? []
  const verdict = await analyser.analyse(read.value.trustPolicy, { vendorPrincipalArn: input.vendorPrincipalArn, ours: [...input.ours, ...retired], sessionName: input.sessionName, sourceIdentity: input.sourceIdentity })
  if (verdict.verdict === 'proved') {
    const detail = retired.length === 0 ? verdict.detail : `${verdict.detail}; this account's retired IDs count as its own here (deputy never presents them again)`
    return { status: 'proved', detail, statement: null, witness: null, confirmed: null }
  }
  if (verdict.verdict === 'unknown') return { status: 'unknown', detail: verdict.detail, statement: verdict.statement, witness: null, confirmed: null }
  const values = verdict.witness.values
  return {
    status: 'violation',
    detail: verdict.detail,
    statement: verdict.statement,
    witness: { externalId: values[EXTERNAL_ID_KEY] ?? null, roleSessionName: values['sts:RoleSessionName'] ?? input.sessionName, sourceIdentity: values['sts:SourceIdentity'] ?? null },
    confirmed: null
  }
}

/**
 * The non-blocking finding for this account's retired IDs the policy still admits (for deputy's
 * request as the probe sends it), or null. Admitting them opens nothing: a retired ID is never
 * reactivated nor presented again, and IDs are unique, so no other customer can hold it.
 */
export function retiredFinding (document: string, input: StaticInput): ProbeFinding | null {
  const request = vendorRequestInput({ vendorPrincipalArn: input.vendorPrincipalArn, ours: input.ours, sessionName: input.sessionName, sourceIdentity: input.sourceIdentity })
  const actions = input.sourceIdentity === undefined ? request.actions : [...request.actions, 'sts:SetSourceIdentity']
  const keys = { ...request.constants, 'sts:RoleSessionName': input.sessionName, ...(input.sourceIdentity === undefined ? {} : { 'sts:SourceIdentity': input.sourceIdentity }) }
  const ctx = { principalArn: request.principal.arn, principalRoleArn: request.principal.roleArn, principalAccount: request.principal.account }
  let admitted: string[]
  try {
    admitted = (input.retired ?? []).filter((id) => evaluateTrustPolicy(document, actions, { ...ctx, keys: { ...keys, [EXTERNAL_ID_KEY]: id } }).allowed)
  } catch (error) {
    if (error instanceof MalformedPolicyError) return null
    throw error
  }
  if (admitted.length === 0) return null
  const listed = admitted.map((id) => JSON.stringify(id)).join(', ')
  const plural = admitted.length > 1
  return {
    code: RETIRED_ID_FINDING,
    message: `The trust policy still admits ${input.vendorPrincipalArn} with ${plural ? 'external IDs' : 'the external ID'} ${listed}, which deputy retired for this account (a completed rotation). The role stays usable: deputy never presents a retired ID again and no other customer can hold it. Remove ${plural ? 'them' : 'it'}: deploy the onboarding kit of the current external ID, whose trust policy is {"StringEquals": {"sts:ExternalId": "${input.ours[0] ?? ''}"}}.`
  }
}

/** Whose an admitted external ID is, in the words of the finding (never naming another customer). */
function whose (issued: IssuedTo | undefined): string {
  if (issued === undefined) return 'which deputy never issued: the condition accepts values other than this account\'s external ID, so it does not pin the role to this account (the confused deputy).'
  if (issued.kind === 'other_customer') return 'which deputy issued to another customer of the vendor: deputy presents it when acting for that customer, so this role would accept deputy acting for them (the confused deputy).'
  if (issued.kind === 'this_customer') return `which deputy issued for another AWS account of this customer (${issued.awsAccountId}), not for this one: each account's role must accept its own external ID only.`
  // Only when the policy names more IDs than deputy looks up: then it cannot be told apart.
  return 'which is not this account\'s current external ID, among more IDs than deputy checks in one trust policy.'
}

/** The finding a violation adds (it makes the probe insecure, as a failed behavioural check does). */
export function violationFinding (check: StaticCheck, input: StaticInput, issued?: IssuedTo): ProbeFinding {
  const id = check.witness?.externalId ?? null
  const where = check.statement === null ? 'The trust policy' : `The trust policy's ${check.statement}`
  // A refused replay is reported as such: the policy text still admits the ID (deputy stays on the
  // safe side), but the person fixing it should know AWS did not, in case deputy's model is wrong.
  const confirmed = check.confirmed === true
    ? ' AWS confirmed it: deputy replayed the request and it was allowed.'
    : check.confirmed === false ? ' When deputy replayed the request, AWS refused it (an SCP, a boundary, or a difference between IAM and deputy\'s reading of the policy); deputy still does not use a role whose trust policy reads this way.' : ''
  return id === null
    ? { code: 'trust_policy_admits_missing_external_id', message: `${where} admits ${input.vendorPrincipalArn} without any external ID (session name ${JSON.stringify(check.witness?.roleSessionName)}).${confirmed} Require {"StringEquals": {"sts:ExternalId": "${input.ours[0] ?? ''}"}} in every statement that can match it.` }
    : { code: 'trust_policy_admits_other_external_id', message: `${where} admits ${input.vendorPrincipalArn} with the external ID ${JSON.stringify(id)}, ${whose(issued)}${confirmed} Use {"StringEquals": {"sts:ExternalId": "${input.ours[0] ?? ''}"}}: exactly this value, no wildcards, no other IDs.` }
}
