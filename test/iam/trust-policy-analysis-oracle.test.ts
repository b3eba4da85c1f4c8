// The static proof against two evaluators as oracles: seeded random trust policies over the
// fragment (string operators with IfExists and set prefixes, Null, Deny statements, wildcard and
// foreign principals, conditions on the session name and the source identity), and for each one
// many concrete requests, each decided by @cloud-copilot/iam-simulate (not deputy's code:
// test/helpers/iam-oracle.ts) and by the emulator's evaluator, which must agree. A `proved`
// policy admits none of the sampled requests with another external ID or none; every `violation`
// witness is admitted; no policy of the fragment comes out `unknown` (it has nothing the analysis
// cannot decide) except one naming a condition key twice in one block in different letter case.
// trust-policy-analysis-brute-force.test.ts judges small policies on every short string.
import t from 'tap'
import { analyseTrustPolicy } from '../../src/iam/trust-policy-analysis/analyse.js'
import { EXTERNAL_ID_CHARSET, NAME_CHARSET, vendorRequestInput } from '../../src/iam/trust-policy-analysis/vendor-request.js'
import { evaluateTrustPolicy } from '../../src/iam/trust-policy-evaluator.js'
import { iamSimulateAdmits } from '../helpers/iam-oracle.js'

const SEED = 20260511
const POLICIES = 400
const SAMPLES_PER_POLICY = 150

const VENDOR = 'arn:aws:iam::111111111111:user/deputy'
const OURS = '6f1c9a2e-1b7d-4c3f-9a55-2d1e8b7c4a10'
const FOREIGN = '0b7e2d4c-9a1f-4e3b-8c5d-7f6a1e2b3c4d'
const SESSION = 'deputy-probe.5d0c0b8e'
const SOURCE = 'deputy.probe'

/** mulberry32: a small seeded generator, so a failure can be replayed. */
function random (seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6D2B79F5) | 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const rnd = random(SEED)
const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)] as T
const chance = (p: number): boolean => rnd() < p
const randomString = (charset: string, min: number, max: number): string =>
  Array.from({ length: min + Math.floor(rnd() * (max - min + 1)) }, () => pick([...charset])).join('')

/** Strings near ours: prefixes, suffixes, one character changed or added, case changed. */
function nearOurs (): string {
  const cut = 1 + Math.floor(rnd() * (OURS.length - 1))
  return pick([
    OURS.slice(0, cut),
    OURS.slice(cut),
    OURS + randomString(EXTERNAL_ID_CHARSET, 1, 3),
    randomString(EXTERNAL_ID_CHARSET, 1, 3) + OURS,
    OURS.slice(0, cut) + pick([...'0aZ-:']) + OURS.slice(cut + 1),
    OURS.toUpperCase(),
    OURS.slice(0, cut).toUpperCase() + OURS.slice(cut),
    FOREIGN
  ])
}

/** A pattern value: a glob around pieces of ours, an exact one, or a few literal characters. */
function externalIdValue (): string {
  const cut = Math.floor(rnd() * OURS.length)
  return pick([
    OURS, OURS, FOREIGN,
    `${OURS.slice(0, cut)}*`, `*${OURS.slice(cut)}`, `${OURS.slice(0, cut)}?${OURS.slice(cut + 1)}`,
    `${OURS.slice(0, cut)}*${OURS.slice(cut + 1)}`, '*', '?*', '??', `${OURS.toUpperCase()}`, 'a*', '*-*'
  ])
}

const sessionValue = (): string => pick([SESSION, 'deputy-probe.*', 'breakglass*', '*', 'x?', SESSION.toUpperCase()])
const sourceValue = (): string => pick([SOURCE, 'deputy.*', 'other', '*'])

function condition (): Record<string, Record<string, string | string[]>> {
  const out: Record<string, Record<string, string | string[]>> = {}
  const blocks = chance(0.2) ? 0 : 1 + Math.floor(rnd() * 2)
  for (let i = 0; i < blocks; i++) {
    const key = pick(['sts:ExternalId', 'sts:ExternalId', 'sts:ExternalId', 'sts:externalid', 'sts:RoleSessionName', 'sts:SourceIdentity', 'aws:PrincipalAccount'])
    if (chance(0.12)) {
      out.Null = { ...out.Null, [key]: pick(['true', 'false']) }
      continue
    }
    const base = pick(['StringEquals', 'StringNotEquals', 'StringLike', 'StringLike', 'StringNotLike', 'StringEqualsIgnoreCase', 'StringNotEqualsIgnoreCase'])
    const operator = `${pick(['', '', '', 'ForAnyValue:', 'ForAllValues:'])}${base}${chance(0.2) ? 'IfExists' : ''}`
    const value = (): string => key.toLowerCase() === 'sts:externalid' ? externalIdValue() : key === 'sts:RoleSessionName' ? sessionValue() : key === 'sts:SourceIdentity' ? sourceValue() : pick(['111111111111', '222222222222', '1111*'])
    out[operator] = { ...out[operator], [key]: chance(0.3) ? [value(), value()] : value() }
  }
  return out
}

function statement (): Record<string, unknown> {
  const principal = chance(0.1) ? { NotPrincipal: { AWS: 'arn:aws:iam::999999999999:user/x' } } : { Principal: pick([{ AWS: VENDOR }, { AWS: VENDOR }, '*', { AWS: '111111111111' }, { AWS: 'arn:aws:iam::999999999999:root' }]) }
  const cond = condition()
  return {
    Effect: chance(0.75) ? 'Allow' : 'Deny',
    ...principal,
    Action: pick(['sts:AssumeRole', ['sts:AssumeRole', 'sts:SetSourceIdentity'], ['sts:AssumeRole', 'sts:SetSourceIdentity'], 'sts:*', '*']),
    ...(Object.keys(cond).length === 0 ? {} : { Condition: cond })
  }
}

const policyOf = (): { Version: string, Statement: Array<Record<string, unknown>> } => ({ Version: '2012-10-17', Statement: Array.from({ length: 1 + Math.floor(rnd() * 3) }, statement) })

function deputyAdmits (policy: object, values: Record<string, string | undefined>): boolean {
  const actions = values['sts:SourceIdentity'] === undefined ? ['sts:AssumeRole'] : ['sts:AssumeRole', 'sts:SetSourceIdentity']
  return evaluateTrustPolicy(policy, actions, {
    principalArn: VENDOR,
    principalAccount: '111111111111',
    keys: { ...values, 'aws:PrincipalArn': VENDOR, 'aws:PrincipalAccount': '111111111111', 'aws:PrincipalType': 'User' }
  }).allowed
}

/** A condition key named twice in one block in different letter case: the analysis says unknown. */
const repeatsKeyInCase = (policy: { Statement: Array<{ Condition?: Record<string, Record<string, unknown>> }> }): boolean =>
  policy.Statement.some((s) => Object.values(s.Condition ?? {}).some((block) => new Set(Object.keys(block).map((k) => k.toLowerCase())).size < Object.keys(block).length))

t.test(`${POLICIES} random policies (seed ${SEED}): the verdict agrees with iam-simulate and the evaluator`, async (t) => {
  const input = vendorRequestInput({ vendorPrincipalArn: VENDOR, ours: [OURS], sessionName: SESSION, sourceIdentity: SOURCE })
  const counts = { proved: 0, violation: 0, unknown: 0, samplesChecked: 0, repeatedInCase: 0 }
  let failures = 0
  /** iam-simulate's answer; deputy's evaluator must give the same. */
  const admitted = async (policy: object, values: Record<string, string | undefined>): Promise<boolean> => {
    const theirs = await iamSimulateAdmits(policy, VENDOR, values)
    const ours = deputyAdmits(policy, values)
    if (theirs !== ours) fail(`iam-simulate says ${String(theirs)}, deputy's evaluator ${ours}, for ${JSON.stringify(values)} on ${JSON.stringify(policy)}`)
    return theirs === true
  }
  const fail = (what: string): void => {
    failures++
    t.fail(what)
  }
  for (let n = 0; n < POLICIES; n++) {
    if (failures >= 5) break
    const policy = policyOf()
    const verdict = analyseTrustPolicy(policy, input)
    counts[verdict.verdict]++
    const failOn = (what: string): void => fail(`${what}: ${JSON.stringify(policy)} -> ${JSON.stringify(verdict)}`)
    if (repeatsKeyInCase(policy)) {
      counts.repeatedInCase++
      if (verdict.verdict !== 'unknown') failOn('a key repeated in another letter case is not unknown')
      continue
    }
    if (verdict.verdict === 'unknown') failOn('a policy of the fragment is unknown')
    if (verdict.verdict === 'violation') {
      for (const w of [verdict.witness, ...verdict.others]) {
        if (w.values['sts:ExternalId'] === OURS) failOn('a witness uses our own ID')
        if (!await admitted(policy, w.values)) failOn(`the witness ${JSON.stringify(w.values)} is refused`)
      }
    }
    if (verdict.verdict === 'proved') {
      for (let i = 0; i < SAMPLES_PER_POLICY; i++) {
        const externalId = chance(0.1) ? undefined : chance(0.6) ? nearOurs() : randomString(EXTERNAL_ID_CHARSET, 2, 40)
        if (externalId === OURS) continue
        const values = {
          'sts:ExternalId': externalId,
          'sts:RoleSessionName': chance(0.5) ? SESSION : pick(['breakglass', 'breakglass-1', randomString(NAME_CHARSET, 2, 20), SESSION.toUpperCase()]),
          'sts:SourceIdentity': chance(0.6) ? SOURCE : pick(['deputy.worker', randomString(NAME_CHARSET, 2, 20)])
        }
        counts.samplesChecked++
        if (await admitted(policy, values)) failOn(`proved, but ${JSON.stringify(values)} is admitted`)
      }
    }
  }
  t.comment(JSON.stringify(counts))
  t.equal(failures, 0, 'no disagreement')
  t.ok(counts.proved > POLICIES / 20 && counts.violation > POLICIES / 20, `both verdicts occur often enough to mean something: ${JSON.stringify(counts)}`)
})
