// The static proof's verdicts as the customer's administrator reads them: the sentence for each
// outcome, which request is shown first when several get in (an external ID before none, then
// the one closest to deputy's own request), how many more are listed, and the caps that turn a
// proof into `unknown` with the numbers that were exceeded.
import t from 'tap'
import { analyseTrustPolicy, MAX_EVALUATIONS } from '../../src/iam/trust-policy-analysis/analyse.js'
import { vendorRequestInput, type VendorRequest } from '../../src/iam/trust-policy-analysis/vendor-request.js'

const VENDOR = 'arn:aws:iam::111111111111:user/deputy'
const OURS = '6f1c9a2e-1b7d-4c3f-9a55-2d1e8b7c4a10'
const NEXT = '0b7e2d4c-9a1f-4e3b-8c5d-7f6a1e2b3c4d'
const SESSION = 'deputy-probe'
const REQUEST: VendorRequest = { vendorPrincipalArn: VENDOR, ours: [OURS], sessionName: SESSION, sourceIdentity: 'deputy.probe' }
const ACTIONS = ['sts:AssumeRole', 'sts:SetSourceIdentity']

const doc = (...Statement: object[]): object => ({ Version: '2012-10-17', Statement })
const vendor = (Condition: object | undefined, extra: object = {}): object => ({ Effect: 'Allow', Principal: { AWS: VENDOR }, Action: ACTIONS, ...(Condition === undefined ? {} : { Condition }), ...extra })
const ours = vendor({ StringEquals: { 'sts:ExternalId': OURS } })
const analyse = (policy: object | string, request = REQUEST, limits = {}) => analyseTrustPolicy(policy, vendorRequestInput(request), limits)

t.test('proved: the sentence names this role\'s ID, or this account\'s current ones during a rotation', async (t) => {
  const one = analyse(doc(ours))
  t.equal(one.verdict, 'proved')
  if (one.verdict === 'proved') t.equal(one.detail, `no external ID but this role's, and no request without one, is admitted for the vendor principal (${one.combinations} request shapes)`)
  const two = analyse(doc(vendor({ StringEquals: { 'sts:ExternalId': [OURS, NEXT] } })), { ...REQUEST, ours: [OURS, NEXT] })
  t.equal(two.verdict, 'proved')
  if (two.verdict === 'proved') t.equal(two.detail, `no external ID but this account's current ones, and no request without one, is admitted for the vendor principal (${two.combinations} request shapes)`)
  t.ok(one.verdict === 'proved' && one.combinations > 1, 'request shapes are counted')
})

t.test('violation: the sentence names the statements and the ID, or its absence', async (t) => {
  const loose = analyse(doc(vendor({ StringLike: { 'sts:ExternalId': 'zz*' } }, { Sid: 'Loose' })))
  t.match(loose, { verdict: 'violation', statement: 'Sid Loose', detail: /^Sid Loose admits the vendor principal with the external ID "zz", which is not this role's$/ })
  const twice = analyse(doc(vendor({ StringLike: { 'sts:ExternalId': 'z*' } }, { Sid: 'A' }), vendor({ StringLike: { 'sts:ExternalId': ['z*', 'zq*'] } }, { Sid: 'B' })))
  t.match(twice, { verdict: 'violation', statement: 'Sid A', detail: /^Sid A, Sid B admit the vendor principal with the external ID "z.", which is not this role's$/ }, 'two statements admit it')
  const none = analyse(doc(ours, vendor(undefined, { Sid: 'Open' })))
  t.equal(none.verdict, 'violation')
  if (none.verdict !== 'violation') return
  t.not(none.witness.values['sts:ExternalId'], undefined, 'an external ID other than ours is shown before a request without one')
  const absentOnly = analyse(doc(ours, vendor({ Null: { 'sts:ExternalId': 'true' } }, { Sid: 'NoId' })))
  t.match(absentOnly, { verdict: 'violation', statement: 'Sid NoId', detail: 'Sid NoId admits the vendor principal without an external ID' })
  if (absentOnly.verdict === 'violation') t.same(Object.keys(absentOnly.witness.values).sort(), ['sts:RoleSessionName', 'sts:SourceIdentity'], 'the witness leaves the external ID out')
})

t.test('the witness shown first is the request closest to deputy\'s own; at most four others follow', async (t) => {
  const verdict = analyse(doc(vendor({ StringNotEquals: { 'sts:ExternalId': OURS } })))
  t.equal(verdict.verdict, 'violation')
  if (verdict.verdict !== 'violation') return
  t.match(verdict.witness.values, { 'sts:RoleSessionName': SESSION, 'sts:SourceIdentity': 'deputy.probe' }, 'with the probe\'s session name and source identity')
  t.equal(verdict.others.length, 4, 'four other witnesses')
  t.ok(verdict.others.every((w) => w.allowedBy.includes('statement 0')), 'each names the statement that admits it')
})

t.test('a present source identity needs sts:SetSourceIdentity too', async (t) => {
  const policy = doc(ours, vendor(undefined, { Action: 'sts:AssumeRole' }))
  t.match(analyse(policy), { verdict: 'proved' }, 'deputy sends a source identity, and this statement does not allow setting one')
  t.match(analyse(policy, { ...REQUEST, sourceIdentity: undefined }), { verdict: 'violation' }, 'without a source identity, AssumeRole alone suffices')
})

t.test('each action the request needs is decided on its own', async (t) => {
  const sourceIp = { StringEquals: { 'aws:SourceIp': '203.0.113.7' } }
  // AssumeRole is allowed for any ID; whether SetSourceIdentity is depends on the caller's address.
  t.same(analyse(doc(vendor(undefined, { Action: 'sts:AssumeRole' }), vendor(sourceIp, { Action: 'sts:SetSourceIdentity', Sid: 'FromOffice' }))), {
    verdict: 'unknown',
    detail: 'Sid FromOffice may admit another external ID: the condition key aws:SourceIp is not fixed by deputy\'s request (its value is not known in advance)',
    statement: 'Sid FromOffice'
  }, 'one action allowed, the other undecided: unknown, naming the undecided statement')
  t.match(analyse(doc(ours, vendor(sourceIp, { Action: 'sts:AssumeRole' }))), { verdict: 'proved' },
    'one action undecided, the other refused (nothing allows sts:SetSourceIdentity but for our ID): refused')
})

t.test('a cap of N lets exactly N through', async (t) => {
  const decided = analyse(doc(ours))
  if (decided.verdict !== 'proved') throw new Error('expected a proof')
  t.match(analyse(doc(ours), REQUEST, { maxCombinations: decided.combinations }), { verdict: 'proved' }, `maxCombinations ${decided.combinations}`)
  // 5 external-ID classes (ours, two others, none of them, absent) × 25 session-name classes
  // (the probe's, 23 others, none of them) = 125 request shapes; × 800 statements = the budget.
  const request = { ...REQUEST, sourceIdentity: undefined }
  const shapes = vendor({ StringEquals: { 'sts:ExternalId': [OURS, 'id-one', 'id-two'], 'sts:RoleSessionName': Array.from({ length: 23 }, (_, i) => `name${i}`) } })
  const statements = (n: number): object => doc(shapes, ...Array.from({ length: n - 1 }, () => vendor({ StringEquals: { 'sts:ExternalId': OURS } }, { Action: 'sts:AssumeRole' })))
  t.equal(125 * 800, MAX_EVALUATIONS)
  t.not(analyse(statements(800), request).verdict, 'unknown', `125 request shapes × 800 statements = ${MAX_EVALUATIONS} evaluations: decided`)
  t.match(analyse(statements(801), request), { verdict: 'unknown', detail: /125 request shapes × 801 statements/ }, 'one statement more: the cap')
})

t.test('caps: the numbers exceeded are in the answer', async (t) => {
  t.same(analyse(doc(ours), REQUEST, { maxCombinations: 2 }), {
    verdict: 'unknown',
    detail: `size cap reached: ${(analyse(doc(ours)) as { combinations: number }).combinations} request shapes to evaluate (at most 2)`,
    statement: null
  })
  // 22 session-name classes × 3 external-ID classes × 2 source-identity classes, each judged on
  // 801 statements: more than the evaluation budget, though under the request-shape cap.
  const names = Array.from({ length: 20 }, (_, i) => `name${i}`)
  const wide = doc(vendor({ StringEquals: { 'sts:ExternalId': OURS, 'sts:RoleSessionName': names } }), ...Array.from({ length: 800 }, () => ours))
  t.same(analyse(wide), { verdict: 'unknown', detail: `size cap reached: 132 request shapes × 801 statements to evaluate (at most ${MAX_EVALUATIONS})`, statement: null })
})

t.test('documents outside what IAM would enforce predictably', async (t) => {
  t.same(analyse('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Effect":"Deny"}]}'), { verdict: 'unknown', detail: 'the trust policy repeats the key "Effect" in one object: which value IAM enforces is not known', statement: null })
  t.same(analyse('{not json'), { verdict: 'unknown', detail: 'the trust policy cannot be read: the trust policy is not valid JSON', statement: null })
  t.same(analyse(doc()), { verdict: 'unknown', detail: 'the trust policy cannot be read: the trust policy has no Statement', statement: null })
  t.match(analyse(JSON.stringify(doc(ours))), { verdict: 'proved' }, 'the same policy as text')
})
