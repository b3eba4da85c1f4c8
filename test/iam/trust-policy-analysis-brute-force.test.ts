// The static proof judged without its own abstraction. Seeded small trust policies on
// sts:ExternalId (every string operator, IfExists, set prefixes, Null, Deny statements), with
// patterns over a few letters, some of which admit only strings without those letters; for each one, every string of length 0 to 4 over an alphabet that
// adds characters no policy mentions (z Z 0 -), in both letter cases, and the missing key, is
// decided one by one. A `proved` policy admits none of them but ours (among the values AWS
// accepts as an external ID: 2 to 1,224 of its characters, so "" and one-character strings are
// sent to the judge and set aside, counted); every `violation` witness is admitted. The judge of
// each string is deputy's evaluator, and, for the strings up to length 2 and every witness, also
// @cloud-copilot/iam-simulate (test/helpers/iam-oracle.ts), which must agree. The requests set
// no source identity (sts:AssumeRole alone): iam-simulate drops sts:ExternalId from the context of
// sts:SetSourceIdentity, which IAM evaluates with the same request.
import t from 'tap'
import { EXTERNAL_ID } from '../../src/aws/sts-limits.js'
import { analyseTrustPolicy } from '../../src/iam/trust-policy-analysis/analyse.js'
import { vendorRequestInput } from '../../src/iam/trust-policy-analysis/vendor-request.js'
import { evaluateTrustPolicy } from '../../src/iam/trust-policy-evaluator.js'
import { iamSimulateAdmits } from '../helpers/iam-oracle.js'

const SEED = 17_2026
const POLICIES = 300
const VENDOR = 'arn:aws:iam::111111111111:user/deputy'
const OURS = 'aB'
const SESSION = 'deputy-probe.small'
/** The letters the policies use, and characters none of them mentions. */
const MENTIONED = ['a', 'b', 'B']
const ALPHABET = ['a', 'A', 'b', 'B', 'z', 'Z', '0', '-']
const MAX_LENGTH = 4

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

/** A short pattern: ours, a near miss, "contains a letter", or a random glob over a b B * ?. */
function patternValue (): string {
  if (chance(0.25)) return pick([OURS, OURS, 'ab', 'AB', 'aBa', 'a', '*', '??', '?*'])
  if (chance(0.3)) return `*${pick(MENTIONED)}*`
  return Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => pick([...MENTIONED, '*', '?', '*'])).join('')
}

function condition (): Record<string, Record<string, string | string[]>> {
  const out: Record<string, Record<string, string | string[]>> = {}
  for (let i = 0, blocks = 1 + Math.floor(rnd() * 2); i < blocks; i++) {
    if (chance(0.12)) {
      out.Null = { 'sts:ExternalId': pick(['true', 'false']) }
      continue
    }
    if (chance(0.2)) {
      // "Contains one of these letters", negated: only other characters get through.
      out[pick(['StringNotLike', 'ForAllValues:StringNotLike'])] = { 'sts:ExternalId': MENTIONED.filter(() => chance(0.8)).map((c) => pick([`*${c}*`, `*${c}*`, `${c}*`, `*${c}`])) }
      continue
    }
    const base = pick(['StringEquals', 'StringNotEquals', 'StringLike', 'StringLike', 'StringNotLike', 'StringNotLike', 'StringEqualsIgnoreCase', 'StringNotEqualsIgnoreCase'])
    const operator = `${pick(['', '', '', 'ForAnyValue:', 'ForAllValues:'])}${base}${chance(0.15) ? 'IfExists' : ''}`
    out[operator] = { 'sts:ExternalId': chance(0.45) ? Array.from({ length: 2 + Math.floor(rnd() * 2) }, patternValue) : patternValue() }
  }
  return out
}

const statement = (): Record<string, unknown> => ({
  Effect: chance(0.7) ? 'Allow' : 'Deny',
  Principal: chance(0.85) ? { AWS: VENDOR } : '*',
  Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'],
  ...(chance(0.1) ? {} : { Condition: condition() })
})

/** "", and every string of length 1 to MAX_LENGTH over ALPHABET. */
function * everyString (): Generator<string> {
  let layer = ['']
  yield ''
  for (let length = 1; length <= MAX_LENGTH; length++) {
    layer = layer.flatMap((s) => ALPHABET.map((c) => s + c))
    yield * layer
  }
}

const request = (externalId: string | undefined): Record<string, string | undefined> => ({ 'sts:ExternalId': externalId, 'sts:RoleSessionName': SESSION })
const deputyAdmits = (policy: object, values: Record<string, string | undefined>): boolean => evaluateTrustPolicy(policy, ['sts:AssumeRole'], {
  principalArn: VENDOR,
  principalAccount: '111111111111',
  keys: { ...values, 'aws:PrincipalArn': VENDOR, 'aws:PrincipalAccount': '111111111111', 'aws:PrincipalType': 'User' }
}).allowed

t.test(`${POLICIES} small policies (seed ${SEED}): every string up to length ${MAX_LENGTH} over ${ALPHABET.join(' ')} judged one by one`, async (t) => {
  const input = vendorRequestInput({ vendorPrincipalArn: VENDOR, ours: [OURS], sessionName: SESSION, sourceIdentity: undefined })
  const counts = { proved: 0, violation: 0, unknown: 0, stringsJudged: 0, refusedByAws: 0, iamSimulateCalls: 0 }
  const failures: string[] = []
  const judgeWithIamSimulate = async (policy: object, values: Record<string, string | undefined>, expected: boolean): Promise<void> => {
    counts.iamSimulateCalls++
    const theirs = await iamSimulateAdmits(policy, VENDOR, values)
    if (theirs !== expected) failures.push(`iam-simulate says ${String(theirs)}, deputy's evaluator ${expected}, for ${JSON.stringify(values)} on ${JSON.stringify(policy)}`)
  }
  for (let n = 0; n < POLICIES && failures.length < 5; n++) {
    const policy = { Version: '2012-10-17', Statement: Array.from({ length: 1 + Math.floor(rnd() * 3) }, statement) }
    const verdict = analyseTrustPolicy(policy, input)
    counts[verdict.verdict]++
    if (verdict.verdict === 'unknown') failures.push(`unknown for a policy of the fragment: ${JSON.stringify(policy)} -> ${verdict.detail}`)
    if (verdict.verdict === 'violation') {
      for (const w of [verdict.witness, ...verdict.others]) {
        const values = request(w.values['sts:ExternalId'])
        if (!deputyAdmits(policy, values)) failures.push(`the witness ${JSON.stringify(values)} is refused: ${JSON.stringify(policy)}`)
        await judgeWithIamSimulate(policy, values, true)
      }
      continue
    }
    if (verdict.verdict !== 'proved') continue
    const admitted: string[] = []
    for (const id of [undefined, ...everyString()]) {
      if (id === OURS) continue
      const values = request(id)
      const ours = deputyAdmits(policy, values)
      if (id === undefined || id.length <= 2) await judgeWithIamSimulate(policy, values, ours)
      if (id !== undefined && !EXTERNAL_ID.test(id)) {
        counts.refusedByAws++
        continue
      }
      counts.stringsJudged++
      if (ours) admitted.push(id ?? '(no external ID)')
    }
    if (admitted.length > 0) failures.push(`proved, but ${admitted.slice(0, 5).join(', ')} ${admitted.length > 5 ? `and ${admitted.length - 5} more ` : ''}are admitted: ${JSON.stringify(policy)}`)
  }
  t.comment(JSON.stringify(counts))
  t.same(failures, [], 'the brute force and iam-simulate agree with every verdict')
  t.ok(counts.proved >= POLICIES / 10 && counts.violation >= POLICIES / 10, `both verdicts occur often enough to mean something: ${JSON.stringify(counts)}`)
})
