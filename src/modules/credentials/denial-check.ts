// What an AccessDenied at issuance means. One refusal does not fail a customer's connection: it
// is confirmed with a deny-all probe of the same role (counted in the customer's probe budget).
// A confirmed refusal is then told apart from a fault of deputy's own identity (a missing
// sts:AssumeRole grant, a service control policy on the vendor account), which would otherwise
// fail every tenant at once:
// - with a control role configured (a role in the vendor's own account that always trusts
//   deputy), deputy assumes it: refused too means deputy's identity is at fault;
// - without one, a circuit breaker: when connections of other customers were failed recently,
//   deputy stops failing more and reports its own identity instead.
// deputy never uses another customer's role as a control: that would act in their account, and
// show in their CloudTrail, on someone else's behalf.
import type { AwsAccess } from '../connections/aws-access.js'
import { DENY_ALL_SESSION_POLICY } from '../connections/probe.js'
import { probeSessionName } from '../connections/session-names.js'

export type DenialVerdict =
  /** The confirming call was allowed, STS did not answer, or the probe budget is spent: nothing changes. */
  | { cause: 'unconfirmed', why: 'confirmed_allowed' | 'sts_unavailable' | 'probe_budget_exhausted' }
  /** The role refuses deputy, and deputy's identity is fine (or cannot be suspected). */
  | { cause: 'role', control: 'control_role' | 'none' }
  /** deputy's own identity is refused. */
  | { cause: 'vendor_identity', control: 'control_role' | 'circuit_breaker' | 'recent_verdict' }

export interface DenialTarget {
  roleArn: string
  externalId: string
  /** The refused request's session tags, so the confirmation asks for what it asked for. */
  tags?: ReadonlyArray<{ key: string, value: string }> | undefined
}

export interface DenialCheckDeps {
  aws: AwsAccess
  /** Spends one probe of the customer's budget; false when it is spent. */
  claimProbe: () => Promise<boolean>
  /** How many other customers had a connection failed in the breaker window. */
  otherCustomersFailedRecently: () => Promise<number>
  now?: () => number
}

/** Customers whose connections failed within the window that make deputy suspect itself. */
export const BREAKER_CUSTOMERS = 2
export const BREAKER_WINDOW_MS = 10 * 60 * 1000
/** A vendor-identity verdict is reused this long (or until an AssumeRole succeeds), so an outage costs no extra STS calls. */
const VERDICT_TTL_MS = 30_000

async function refused (aws: AwsAccess, target: { roleArn: string, externalId?: string | undefined, tags?: DenialTarget['tags'] }, probeId: string, sourceIdentity: string | undefined): Promise<boolean | null> {
  const outcome = await aws.sts.assumeRole({
    roleArn: target.roleArn,
    sessionName: probeSessionName(probeId),
    externalId: target.externalId,
    durationSeconds: 900,
    policy: DENY_ALL_SESSION_POLICY,
    sourceIdentity,
    tags: target.tags
  }, { retryBudgetMs: aws.settings.stsRetryBudgetMs })
  if (outcome.ok) return false
  return outcome.failure.kind === 'denied' ? true : null
}

export function createDenialCheck (deps: Pick<DenialCheckDeps, 'now'> = {}) {
  const now = deps.now ?? Date.now
  let vendorFaultUntil = 0

  async function checkDenial (check: Omit<DenialCheckDeps, 'now'>, target: DenialTarget, probeId: string, sourceIdentity: string | undefined): Promise<DenialVerdict> {
    const { aws } = check
    if (now() < vendorFaultUntil) return { cause: 'vendor_identity', control: 'recent_verdict' }
    if (!await check.claimProbe()) return { cause: 'unconfirmed', why: 'probe_budget_exhausted' }
    const confirmed = await refused(aws, target, probeId, sourceIdentity)
    if (confirmed !== true) return { cause: 'unconfirmed', why: confirmed === false ? 'confirmed_allowed' : 'sts_unavailable' }
    let verdict: DenialVerdict
    if (aws.settings.controlRoleArn !== undefined) {
      // Same source identity, so a refusal of SetSourceIdentity on deputy's side shows here too.
      const controlRefused = await refused(aws, { roleArn: aws.settings.controlRoleArn }, `${probeId}.control`, sourceIdentity)
      verdict = controlRefused === true ? { cause: 'vendor_identity', control: 'control_role' } : { cause: 'role', control: 'control_role' }
    } else {
      verdict = await check.otherCustomersFailedRecently() >= BREAKER_CUSTOMERS ? { cause: 'vendor_identity', control: 'circuit_breaker' } : { cause: 'role', control: 'none' }
    }
    if (verdict.cause === 'vendor_identity') vendorFaultUntil = now() + VERDICT_TTL_MS
    return verdict
  }

  return {
    check: checkDenial,
    /** An AssumeRole just succeeded: deputy's identity works, forget any verdict against it. */
    identityWorks (): void { vendorFaultUntil = 0 }
  }
}

export type DenialCheck = ReturnType<typeof createDenialCheck>
