// The confused-deputy probe: proves a customer's role can be assumed by deputy only with the
// right external ID. Three AssumeRole calls, each for 900 s under a session policy that leaves
// the credentials nothing (call 1: reading the role itself; calls 2 and 3: nothing at all), each
// discarded at once:
//   1. with the external ID: must be allowed (retried while a new role propagates in IAM), and
//      GetCallerIdentity with the result must show the role in the registered account;
//   2. without an external ID: must be denied;
//   3. with a fresh random external ID: must be denied;
//   4. the static check (static-check.ts): with call 1's session, IAM GetRole reads the trust
//      policy, and the analysis must prove it admits no other external ID. A violation makes the
//      probe insecure (its witness ID is replayed through AssumeRole as a confirmation); unknown
//      and unavailable (no iam:GetRole grant) do not block. This account's retired IDs that the
//      policy names count as its own (issued-ids.ts says why): admitted, they are a finding that
//      does not block, and deputy never replays them.
import { randomUUID } from 'node:crypto'
import type { StsFailure, StsGateway, TemporaryCredentials } from '../../aws/sts-gateway.js'
import { backoffMs } from '../../aws/sts-gateway.js'
import { parseRoleArn } from '../../aws/arn.js'
import type { ProbeCall, ProbeFinding, ProbeReport, StaticCheck } from './connections.schemas.js'
import type { IssuedLookup, IssuedTo } from './issued-ids.js'
import { externalIdLiterals, isIssuable } from './issued-ids.js'
import type { StaticAnalyser } from './static-analysis.js'
import { judge, readOwnRoleSessionPolicy, RETIRED_ID_FINDING, retiredFinding, violationFinding, type StaticInput } from './static-check.js'

export const DENY_ALL_SESSION_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Deny', Action: '*', Resource: '*' }]
})

export interface ProbeTarget {
  roleArn: string
  awsAccountId: string
  externalId: string
  /** The account's other active external ID during a rotation: also deputy's, not a foreign one. */
  otherActiveExternalIds?: string[] | undefined
  /** Tells which IDs named in the trust policy deputy issued, and to whom; without it, none are known. */
  lookupIssued?: IssuedLookup | undefined
}

export interface ProbeSettings {
  vendorPrincipalArn: string
  propagationWindowMs: number
  retryBudgetMs: number
  /** Same SourceIdentity as issuance uses, so a pass means issuance will work. */
  sourceIdentity: string | undefined
  /**
   * The session tags' keys (SESSION_TAGS, every placeholder as "deputy-probe"), sent with call 1
   * only, so a pass means the role allows sts:TagSession. Calls 2 and 3 carry none: a refusal of
   * the tags must never pass for a refusal of the missing or wrong external ID.
   */
  tags?: ReadonlyArray<{ key: string, value: string }> | undefined
}

/** Findings that make the probe insecure: the behavioural ones and the static check's. */
const INSECURE_FINDINGS = new Set(['external_id_not_required', 'external_id_not_checked', 'trust_policy_admits_other_external_id', 'trust_policy_admits_missing_external_id'])
/** Findings that ask for a change but leave a passing probe passing. */
const ADVISORY_FINDINGS = new Set([RETIRED_ID_FINDING])

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

function failedCall (step: ProbeCall['step'], failure: StsFailure, at: Date, attempts: number): ProbeCall {
  return {
    step,
    outcome: failure.kind === 'denied' ? 'denied' : 'error',
    errorCode: failure.code,
    errorMessage: failure.message,
    stsRequestId: failure.requestId,
    at: at.toISOString(),
    attempts
  }
}

/** Names the likely reason AWS refused call 1, from its error. */
function whyNotAssumable (call: ProbeCall, settings: ProbeSettings, target: ProbeTarget): ProbeFinding[] {
  const message = call.errorMessage ?? ''
  if (/SetSourceIdentity/.test(message)) {
    return [{ code: 'source_identity_not_allowed', message: `The trust policy must also allow "sts:SetSourceIdentity" for ${settings.vendorPrincipalArn}: deputy sets a source identity on every session so your CloudTrail shows which vendor service acted.` }]
  }
  if (/TagSession/.test(message)) {
    return [{ code: 'tag_session_not_allowed', message: `The trust policy must also allow "sts:TagSession" for ${settings.vendorPrincipalArn}: deputy tags every session (${(settings.tags ?? []).map((tag) => tag.key).join(', ')}) so your CloudTrail and your policies (aws:PrincipalTag/...) see which customer, vendor service and purpose each session is for. The onboarding kit grants it.` }]
  }
  if (/explicit deny|service control policy/i.test(message)) {
    return [{ code: 'explicitly_denied', message: `An explicit Deny (in the trust policy, a permissions boundary or an SCP) refuses ${settings.vendorPrincipalArn}. Remove it for this principal.` }]
  }
  return [{
    code: 'role_not_assumable',
    message: `AWS refused AssumeRole on ${target.roleArn} with the correct external ID. Check that the role exists in account ${target.awsAccountId}, that its trust policy allows "sts:AssumeRole" for ${settings.vendorPrincipalArn} with Condition {"StringEquals": {"sts:ExternalId": "${target.externalId}"}}, and that no service control policy blocks it.`
  }]
}

export function createProbe (deps: { sts: Pick<StsGateway, 'assumeRole' | 'callerIdentity' | 'getRole'>, analyser: Pick<StaticAnalyser, 'analyse'>, settings: ProbeSettings, now?: () => Date }) {
  const { sts, analyser, settings } = deps
  const now = deps.now ?? (() => new Date())

  async function attempt (step: ProbeCall['step'], target: ProbeTarget, externalId: string | undefined, sessionName: string, retryBudgetMs: number, sourceIdentity = settings.sourceIdentity) {
    const at = now()
    const outcome = await sts.assumeRole({
      roleArn: target.roleArn,
      sessionName,
      externalId,
      durationSeconds: 900,
      policy: step === 'with_external_id' ? readOwnRoleSessionPolicy(target.roleArn) : DENY_ALL_SESSION_POLICY,
      sourceIdentity,
      tags: step === 'with_external_id' ? settings.tags : undefined
    }, { retryBudgetMs })
    return { at, outcome, step }
  }

  const okCall = (step: ProbeCall['step'], at: Date, requestId: string | null, attempts: number): ProbeCall =>
    ({ step, outcome: 'allowed', errorCode: null, errorMessage: null, stsRequestId: requestId, at: at.toISOString(), attempts })

  /** Who issued the IDs the policy names (and the witness), as far as deputy knows. */
  async function issuedIn (target: ProbeTarget, values: string[]): Promise<Map<string, IssuedTo>> {
    // Only exact values: deputy stores and presents its IDs in lowercase, never another spelling.
    const issuable = values.filter((v) => isIssuable(v) && v === v.toLowerCase())
    return target.lookupIssued === undefined || issuable.length === 0 ? new Map() : target.lookupIssued(issuable)
  }

  /**
   * Step 4: read the trust policy with call 1's session and judge it, with the account's retired
   * IDs it names counted as its own; replay a witness ID. Returns the check and its findings.
   */
  async function checkStatically (target: ProbeTarget, sessionName: string, credentials: TemporaryCredentials | undefined, retryBudgetMs: number, calls: ProbeCall[]): Promise<{ check: StaticCheck, findings: ProbeFinding[] }> {
    if (credentials === undefined) return { check: { status: 'unavailable', detail: 'the role could not be assumed with the external ID, so its trust policy could not be read', statement: null, witness: null, confirmed: null }, findings: [] }
    const input: StaticInput = { roleArn: target.roleArn, vendorPrincipalArn: settings.vendorPrincipalArn, ours: [target.externalId, ...(target.otherActiveExternalIds ?? [])], sessionName, sourceIdentity: settings.sourceIdentity }
    const at = now()
    const read = await sts.getRole(credentials, target.roleArn, { retryBudgetMs })
    calls.push(read.ok ? okCall('read_trust_policy', at, read.requestId, read.attempts) : failedCall('read_trust_policy', read.failure, at, read.attempts))
    const named = read.ok ? await issuedIn(target, externalIdLiterals(read.value.trustPolicy)) : new Map<string, IssuedTo>()
    const retired = [...named].filter(([, to]) => to.kind === 'this_account' && to.status === 'retired').map(([value]) => value)
    const judged = { ...input, retired }
    const findings: ProbeFinding[] = []
    const advisory = read.ok ? retiredFinding(read.value.trustPolicy, judged) : null
    let check = await judge(read, judged, analyser)
    const witness = check.witness
    if (check.status === 'violation' && witness?.externalId != null) {
      const replay = await attempt('replay_witness', target, witness.externalId, witness.roleSessionName, retryBudgetMs, witness.sourceIdentity ?? undefined)
      calls.push(replay.outcome.ok ? okCall('replay_witness', replay.at, replay.outcome.requestId, replay.outcome.attempts) : failedCall('replay_witness', replay.outcome.failure, replay.at, replay.outcome.attempts))
      check = { ...check, confirmed: replay.outcome.ok }
    }
    if (check.status === 'violation') {
      const id = check.witness?.externalId ?? null
      const issued = id === null ? undefined : named.get(id) ?? (await issuedIn(target, [id])).get(id)
      findings.push(violationFinding(check, { ...input, ours: [target.externalId] }, issued))
    }
    if (advisory !== null) findings.push(advisory)
    return { check, findings }
  }

  /**
   * `options` override the settings. A drift probe of a role that worked before has no new role to
   * wait for (propagationWindowMs 0), and makes exactly one attempt per call (retryBudgetMs 0), so
   * its STS calls stay within the scheduler's rate even while AWS throttles: an unanswered call
   * makes the probe inconclusive, and it is tried again later.
   */
  return async function probe (target: ProbeTarget, sessionName: string, options: { propagationWindowMs?: number, retryBudgetMs?: number } = {}): Promise<ProbeReport> {
    const retryBudgetMs = options.retryBudgetMs ?? settings.retryBudgetMs
    const started = now()
    const calls: ProbeCall[] = []
    const findings: ProbeFinding[] = []

    // Call 1, retried on AccessDenied while IAM may still be propagating a new role.
    const deadline = started.getTime() + (options.propagationWindowMs ?? settings.propagationWindowMs)
    let first = await attempt('with_external_id', target, target.externalId, sessionName, retryBudgetMs)
    let tries = first.outcome.attempts
    for (let retry = 0; !first.outcome.ok && first.outcome.failure.kind === 'denied' && now().getTime() < deadline; retry++) {
      await sleep(Math.min(backoffMs(retry + 3, 250, 5000), Math.max(0, deadline - now().getTime())))
      first = await attempt('with_external_id', target, target.externalId, sessionName, retryBudgetMs)
      tries += first.outcome.attempts
    }
    let firstAllowed = false
    let session: TemporaryCredentials | undefined
    if (first.outcome.ok) {
      session = first.outcome.value.credentials
      firstAllowed = true
      calls.push({ step: 'with_external_id', outcome: 'allowed', errorCode: null, errorMessage: null, stsRequestId: first.outcome.requestId, at: first.at.toISOString(), attempts: tries })
      const identityAt = now()
      const identity = await sts.callerIdentity({ credentials: first.outcome.value.credentials, retryBudgetMs })
      if (identity.ok) {
        const role = parseRoleArn(target.roleArn)
        const expected = `:sts::${target.awsAccountId}:assumed-role/${role?.name ?? ''}/`
        const matches = identity.value.account === target.awsAccountId && identity.value.arn.includes(expected)
        calls.push({ step: 'caller_identity', outcome: matches ? 'allowed' : 'mismatch', errorCode: null, errorMessage: matches ? null : `the session is ${identity.value.arn}, not the registered role in account ${target.awsAccountId}`, stsRequestId: identity.requestId, at: identityAt.toISOString(), attempts: identity.attempts })
        if (!matches) findings.push({ code: 'identity_mismatch', message: `Assuming ${target.roleArn} produced a session for ${identity.value.arn}; the role must be in account ${target.awsAccountId}.` })
      } else {
        calls.push(failedCall('caller_identity', identity.failure, identityAt, identity.attempts))
      }
    } else {
      calls.push(failedCall('with_external_id', first.outcome.failure, first.at, tries))
    }

    // Calls 2 and 3: the confused-deputy test proper.
    for (const [step, externalId] of [['without_external_id', undefined], ['wrong_external_id', randomUUID()]] as const) {
      const { at, outcome } = await attempt(step, target, externalId, sessionName, retryBudgetMs)
      if (outcome.ok) {
        calls.push({ step, outcome: 'allowed', errorCode: null, errorMessage: null, stsRequestId: outcome.requestId, at: at.toISOString(), attempts: outcome.attempts })
        findings.push({
          code: step === 'without_external_id' ? 'external_id_not_required' : 'external_id_not_checked',
          message: step === 'without_external_id'
            ? `${target.roleArn} can be assumed without any external ID: anyone who learns the role ARN can make ${settings.vendorPrincipalArn} act on this account (the confused deputy). Add Condition {"StringEquals": {"sts:ExternalId": "${target.externalId}"}} to the statement that trusts ${settings.vendorPrincipalArn}.`
            : `${target.roleArn} accepts an external ID other than its own: the condition does not pin the value. Use {"StringEquals": {"sts:ExternalId": "${target.externalId}"}} (exactly this value, no wildcards, no lists of other IDs).`
        })
      } else {
        calls.push(failedCall(step, outcome.failure, at, outcome.attempts))
      }
    }

    const { check: staticCheck, findings: staticFindings } = await checkStatically(target, sessionName, session, retryBudgetMs, calls)
    findings.push(...staticFindings)

    // The static step is optional: IAM not answering it leaves the behavioural verdict standing.
    const unsettled = calls.some((c) => c.outcome === 'error' && c.step !== 'read_trust_policy' && c.step !== 'replay_witness')
    let outcome: ProbeReport['outcome']
    if (findings.some((f) => INSECURE_FINDINGS.has(f.code))) outcome = 'insecure'
    else if (unsettled) {
      outcome = 'error'
      findings.push({ code: 'sts_unavailable', message: 'STS did not answer every call (throttled, failed or timed out); nothing was concluded. Try again later.' })
    } else if (!firstAllowed) {
      outcome = 'not_assumable'
      findings.push(...whyNotAssumable(calls[0] as ProbeCall, settings, target))
    } else if (findings.some((f) => !ADVISORY_FINDINGS.has(f.code))) outcome = 'not_assumable'
    else outcome = 'pass'

    return {
      outcome,
      checkedAt: started.toISOString(),
      durationMs: now().getTime() - started.getTime(),
      vendorPrincipalArn: settings.vendorPrincipalArn,
      roleArn: target.roleArn,
      calls,
      findings,
      staticCheck
    }
  }
}

export type Probe = ReturnType<typeof createProbe>
