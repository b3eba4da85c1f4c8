// The probe's fourth step: read the role's trust policy (IAM GetRole, with the session of call 1)
// and prove with the analysis in src/iam/trust-policy-analysis that it admits the vendor principal
// with this account's external ID(s) only. It catches what three AssumeRole calls cannot (an ID
// as a prefix, a list with another customer's ID). The role grants iam:GetRole on itself only if
// the customer deployed the kit's grant; without it the check is `unavailable` and the probe
// alone decides, as before.
import type { StsOutcome } from '../../aws/sts-gateway.js'
import type { RoleDocument } from '../../aws/iam-get-role.js'
import { EXTERNAL_ID_KEY } from '../../iam/trust-policy-analysis/analyse.js'
import type { StaticAnalyser } from './static-analysis.js'
import type { ProbeFinding, StaticCheck } from './connections.schemas.js'

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
  ours: string[]
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
  const verdict = await analyser.analyse(read.value.trustPolicy, { vendorPrincipalArn: input.vendorPrincipalArn, ours: input.ours, sessionName: input.sessionName, sourceIdentity: input.sourceIdentity })
  if (verdict.verdict === 'proved') return { status: 'proved', detail: verdict.detail, statement: null, witness: null, confirmed: null }
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

/** The finding a violation adds (it makes the probe insecure, as a failed behavioural check does). */
export function violationFinding (check: StaticCheck, input: StaticInput): ProbeFinding {
  const id = check.witness?.externalId ?? null
  const where = check.statement === null ? 'The trust policy' : `The trust policy's ${check.statement}`
  // A refused replay is reported as such: the policy text still admits the ID (deputy stays on the
  // safe side), but the person fixing it should know AWS did not, in case deputy's model is wrong.
  const confirmed = check.confirmed === true
    ? ' AWS confirmed it: deputy replayed the request and it was allowed.'
    : check.confirmed === false ? ' When deputy replayed the request, AWS refused it (an SCP, a boundary, or a difference between IAM and deputy\'s reading of the policy); deputy still does not use a role whose trust policy reads this way.' : ''
  return id === null
    ? { code: 'trust_policy_admits_missing_external_id', message: `${where} admits ${input.vendorPrincipalArn} without any external ID (session name ${JSON.stringify(check.witness?.roleSessionName)}).${confirmed} Require {"StringEquals": {"sts:ExternalId": "${input.ours[0] ?? ''}"}} in every statement that can match it.` }
    : { code: 'trust_policy_admits_other_external_id', message: `${where} admits ${input.vendorPrincipalArn} with the external ID ${JSON.stringify(id)}, which is not this account's: another customer of the vendor could use it (the confused deputy).${confirmed} Use {"StringEquals": {"sts:ExternalId": "${input.ours[0] ?? ''}"}}: exactly this value, no wildcards, no other IDs.` }
}
