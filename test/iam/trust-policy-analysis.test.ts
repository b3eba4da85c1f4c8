// The static proof over a table of trust-policy shapes: what it proves, the violations it finds
// (each witness checked against the emulator's evaluator: AWS, as deputy emulates it, admits it),
// and what it leaves `unknown`.
import t from 'tap'
import { analyseTrustPolicy, type AnalysisVerdict } from '../../src/iam/trust-policy-analysis/analyse.js'
import { vendorRequestInput, type VendorRequest } from '../../src/iam/trust-policy-analysis/vendor-request.js'
import { evaluateTrustPolicy } from '../../src/iam/trust-policy-evaluator.js'

const VENDOR = 'arn:aws:iam::111111111111:user/deputy'
const OURS = '6f1c9a2e-1b7d-4c3f-9a55-2d1e8b7c4a10'
const FOREIGN = '0b7e2d4c-9a1f-4e3b-8c5d-7f6a1e2b3c4d'
const SESSION = 'deputy-probe.5d0c0b8e-3a6f-4f0e-9b1a-2c3d4e5f6a7b'
const REQUEST: VendorRequest = { vendorPrincipalArn: VENDOR, ours: [OURS], sessionName: SESSION, sourceIdentity: 'deputy.probe' }
const ACTIONS = ['sts:AssumeRole', 'sts:SetSourceIdentity']

const doc = (...Statement: object[]): object => ({ Version: '2012-10-17', Statement })
const vendor = (Condition?: object, extra: object = {}): object => ({ Effect: 'Allow', Principal: { AWS: VENDOR }, Action: ACTIONS, ...(Condition === undefined ? {} : { Condition }), ...extra })
const pinned = vendor({ StringEquals: { 'sts:ExternalId': OURS } })

const analyse = (policy: object | string, request: VendorRequest = REQUEST): AnalysisVerdict => analyseTrustPolicy(policy, vendorRequestInput(request))

/** Whether the evaluator (the emulator's AssumeRole) admits deputy's principal with these values. */
function admitted (policy: object, values: Record<string, string>): boolean {
  const actions = values['sts:SourceIdentity'] === undefined ? ['sts:AssumeRole'] : ACTIONS
  return evaluateTrustPolicy(policy, actions, {
    principalArn: VENDOR,
    principalAccount: '111111111111',
    keys: { ...values, 'aws:PrincipalArn': VENDOR, 'aws:PrincipalAccount': '111111111111', 'aws:PrincipalType': 'User' }
  }).allowed
}

type Tap = Pick<typeof t, 'equal' | 'ok' | 'match' | 'not'>
function expectViolation (t: Tap, policy: object, check: (id: string | undefined, values: Record<string, string>) => void, request = REQUEST): void {
  const verdict = analyse(policy, request)
  t.equal(verdict.verdict, 'violation', JSON.stringify(verdict))
  if (verdict.verdict !== 'violation') return
  const id = verdict.witness.values['sts:ExternalId']
  t.not(id, OURS, 'the witness is not our external ID')
  t.ok(admitted(policy, verdict.witness.values), `the evaluator admits the witness ${JSON.stringify(verdict.witness.values)}`)
  for (const other of verdict.others) t.ok(admitted(policy, other.values), 'and every other witness reported')
  check(id, verdict.witness.values)
}

t.test('proved: the kit policy, a rotation, and a Deny that closes a hole', async (t) => {
  t.match(analyse(doc(pinned)), { verdict: 'proved' }, 'StringEquals the exact ID')
  t.match(analyse(doc(vendor({ StringEquals: { 'sts:ExternalId': [OURS, FOREIGN] } })), { ...REQUEST, ours: [OURS, FOREIGN] }), { verdict: 'proved' }, 'both IDs of a rotation are ours')
  t.match(analyse(doc(vendor({ StringLike: { 'sts:ExternalId': `${OURS}*` } }), { Effect: 'Deny', Principal: '*', Action: 'sts:AssumeRole', Condition: { StringNotEquals: { 'sts:ExternalId': OURS } } })), { verdict: 'proved' },
    'explicit Deny StringNotEquals closes a prefix wildcard (and the missing ID: negated operators hold on a missing key)')
  t.match(analyse(doc(vendor(), { Effect: 'Deny', Principal: { AWS: '*' }, Action: '*', Condition: { StringNotLike: { 'sts:ExternalId': OURS } } })), { verdict: 'proved' }, 'Allow everything, Deny StringNotLike ours')
  t.match(analyse(doc(vendor({ StringEqualsIfExists: { 'sts:ExternalId': OURS } }), { Effect: 'Deny', Principal: '*', Action: '*', Condition: { Null: { 'sts:ExternalId': 'true' } } })), { verdict: 'proved' }, 'IfExists with a Deny on Null true')
  t.match(analyse(doc(pinned, vendor({ StringEquals: { 'sts:ExternalId': OURS }, Null: { 'sts:ExternalId': 'false' } }))), { verdict: 'proved' }, 'Null false next to StringEquals')
  t.match(analyse(doc(vendor({ StringEquals: { 'sts:ExternalId': OURS } }), { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::999999999999:root' }, Action: 'sts:AssumeRole' })), { verdict: 'proved' }, 'another account trusted without a condition is not the vendor')
  t.match(analyse(doc(pinned, { Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' })), { verdict: 'proved' }, 'a service principal is not the vendor')
  t.match(analyse(doc(pinned, vendor({ StringLike: { 'sts:ExternalId': '*' } }, { Action: 'sts:AssumeRole' }))), { verdict: 'proved' },
    'a loose statement without sts:SetSourceIdentity admits nothing, as deputy sets a source identity')
  t.match(analyse(doc(pinned, vendor({ StringLike: { 'sts:ExternalId': '*' } }, { Action: 'sts:TagSession' }))), { verdict: 'proved' }, 'a loose statement for another action')
  t.match(analyse(doc(pinned, vendor({ StringEquals: { 'aws:PrincipalAccount': '222222222222' } }))), { verdict: 'proved' }, 'a condition on a key deputy fixes (another account) rules the statement out')
})

t.test('violations, each with a witness the evaluator admits', async (t) => {
  expectViolation(t, doc(vendor({ StringLike: { 'sts:ExternalId': `${OURS}*` } })), (id) => t.ok(id?.startsWith(OURS) && id.length > OURS.length, `prefix wildcard: ${id}`))
  expectViolation(t, doc(vendor({ StringLike: { 'sts:ExternalId': `*${OURS.slice(9)}` } })), (id) => t.ok(id?.endsWith(OURS.slice(9)), `suffix wildcard: ${id}`))
  expectViolation(t, doc(vendor({ StringLike: { 'sts:ExternalId': `${OURS.slice(0, -1)}?` } })), (id) => t.equal(id?.slice(0, -1), OURS.slice(0, -1), `? in the last place: ${id}`))
  expectViolation(t, doc(vendor({ StringEquals: { 'sts:ExternalId': [OURS, FOREIGN] } })), (id) => t.equal(id, FOREIGN, 'a list that includes another customer\'s ID'))
  expectViolation(t, doc(vendor({ StringNotEquals: { 'sts:ExternalId': FOREIGN } })), (id) => t.ok(id !== undefined && id !== FOREIGN, `StringNotEquals another value admits any other: ${id}`))
  expectViolation(t, doc(vendor({ 'ForAllValues:StringEquals': { 'sts:ExternalId': OURS } })), (id) => t.equal(id, undefined, 'ForAllValues holds vacuously without the key'))
  expectViolation(t, doc(vendor({ StringEqualsIfExists: { 'sts:ExternalId': OURS } })), (id) => t.equal(id, undefined, 'IfExists admits the missing key'))
  expectViolation(t, doc(vendor({ Null: { 'sts:ExternalId': 'false' } })), (id) => t.ok(id !== undefined, `Null false alone admits any ID: ${id}`))
  expectViolation(t, doc(vendor({ StringEqualsIgnoreCase: { 'sts:ExternalId': OURS } })), (id) => t.equal(id?.toLowerCase(), OURS, `IgnoreCase admits another spelling: ${id}`))
  expectViolation(t, doc(pinned, { Effect: 'Allow', Principal: '*', Action: ACTIONS, Condition: { StringEquals: { 'aws:PrincipalAccount': '111111111111' } } }), (id) => t.ok(id !== OURS, 'a wildcard principal with a condition deputy meets'))
  expectViolation(t, doc(pinned, { Effect: 'Allow', NotPrincipal: { AWS: 'arn:aws:iam::999999999999:user/x' }, Action: 'sts:*' }), () => t.pass('NotPrincipal of someone else'))
  expectViolation(t, doc(pinned, vendor({ StringLike: { 'sts:RoleSessionName': 'breakglass-*' } })), (id, values) => {
    t.ok(id !== undefined, 'an external ID witness first')
    t.ok(values['sts:RoleSessionName']?.startsWith('breakglass-'), `with the session name the statement wants: ${values['sts:RoleSessionName']}`)
  })
  expectViolation(t, doc(vendor({ StringLike: { 'sts:ExternalId': '*' } })), (id, values) => t.equal(values['sts:RoleSessionName'], SESSION, `the probe's own session name when any will do (${id})`))
  expectViolation(t, doc(pinned, vendor({ StringLike: { 'sts:ExternalId': '*' } }, { Action: 'sts:AssumeRole' })), () => t.pass('without a source identity, sts:AssumeRole alone suffices'),
    { ...REQUEST, sourceIdentity: undefined })
})

t.test('unknown: what deputy does not fix, outside the fragment, caps', async (t) => {
  const sourceIp = analyse(doc(pinned, { Sid: 'Office', Effect: 'Allow', Principal: '*', Action: ACTIONS, Condition: { IpAddress: { 'aws:SourceIp': '203.0.113.0/24' } } }))
  t.match(sourceIp, { verdict: 'unknown', statement: 'Sid Office' }, 'a wildcard principal with a condition on a key deputy does not fix')
  t.match(sourceIp, { detail: /aws:SourceIp/ })
  t.match(analyse(doc(vendor({ StringEquals: { 'aws:PrincipalTag/team': 'x' } }))), { verdict: 'unknown', statement: 'statement 0' }, 'a principal tag')
  t.match(analyse(doc(vendor({ NumericLessThan: { 'sts:ExternalId': '5' } }))), { verdict: 'unknown', detail: /outside the fragment/ }, 'a numeric operator on the external ID')
  t.match(analyse(doc(vendor({ StringLike: { 'sts:ExternalId': '$' + '{aws:username}' } }))), { verdict: 'unknown', detail: /policy variable/ }, 'a policy variable')
  const vendorRole = { ...REQUEST, vendorPrincipalArn: 'arn:aws:iam::111111111111:role/path/Vendor' }
  const sessionPolicy = doc(vendor({ StringEquals: { 'sts:ExternalId': OURS } }, { Principal: { AWS: vendorRole.vendorPrincipalArn } }), { Effect: 'Allow', Principal: { AWS: 'arn:aws:sts::111111111111:assumed-role/Vendor/s' }, Action: ACTIONS })
  t.match(analyse(sessionPolicy, vendorRole), { verdict: 'unknown', detail: /session of the vendor role/ }, 'a principal naming a session of the vendor role')
  t.match(analyse(sessionPolicy), { verdict: 'proved' }, 'a role session is never the vendor user')
  t.match(analyse(doc(vendor({ StringLike: { 'sts:ExternalId': '*' } }), { Effect: 'Deny', Principal: '*', Action: '*', Condition: { StringNotEquals: { 'sts:ExternalId': OURS }, Bool: { 'aws:SecureTransport': 'true' } } })), { verdict: 'unknown' },
    'a Deny that may or may not close the hole')
  t.match(analyse(doc(pinned, vendor({ StringEquals: { 'aws:SourceVpc': 'vpc-1' } }, { Effect: 'Deny' }))), { verdict: 'proved' }, 'an opaque Deny cannot make a proof unknown')
  t.match(analyse('{not json'), { verdict: 'unknown', detail: /cannot be read/ })
  const globs = Array.from({ length: 12 }, (_, i) => `*${'abcdefghijkl'[i]}*${'mnopqrstuvwx'[i]}*`)
  t.match(analyseTrustPolicy(doc(vendor({ StringLike: { 'sts:ExternalId': globs } })), vendorRequestInput(REQUEST), { maxProductStates: 500 }), { verdict: 'unknown', detail: /size cap reached/ }, 'too many automaton states')
  t.match(analyseTrustPolicy(doc(pinned), vendorRequestInput(REQUEST), { maxCombinations: 2 }), { verdict: 'unknown', detail: /size cap reached/ }, 'too many request shapes')
})

t.test('where IAM and the evaluator may differ, unknown, never proved (review findings)', async (t) => {
  const any = { Effect: 'Allow', Action: ACTIONS }
  t.match(analyse(doc(pinned, { ...any, NotPrincipal: { AWS: 'arn:aws:iam::111111111111:root' } })), { verdict: 'unknown', detail: /NotPrincipal/ }, 'Allow with NotPrincipal naming only the vendor\'s account')
  t.match(analyse(doc(pinned, { ...any, NotPrincipal: { AWS: VENDOR } })), { verdict: 'unknown' }, 'Allow with NotPrincipal naming the vendor')
  t.match(analyse(doc(pinned, vendor({ StringEquals: { 'sts:ExternalId': [OURS, 1.0] } }))), { verdict: 'unknown', detail: /not a string/ }, 'a JSON number among the IDs')
  t.match(analyse(doc(pinned, vendor({ StringEqualsIgnoreCase: { 'sts:ExternalId': '\u017f\u017f' } }))), { verdict: 'unknown', detail: /outside ASCII/ }, 'a long s, which Java folds to s')
  t.match(analyse(doc(pinned, { ...any, Principal: { AWS: VENDOR.toUpperCase() } })), { verdict: 'unknown', detail: /letter case/ }, 'the vendor in capitals, with no condition')
  const repeated = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"${VENDOR}"},"Action":"sts:AssumeRole","Condition":{"StringLike":{"sts:ExternalId":"*"}},"Condition":{"StringEquals":{"sts:ExternalId":"${OURS}"}}}]}`
  t.match(analyse(repeated), { verdict: 'unknown', detail: /repeats the key "Condition"/ }, 'a repeated Condition key, of which JSON.parse keeps the last')
  t.equal(analyse(JSON.stringify(doc(pinned, { Sid: 'a"b', Effect: 'Deny', Principal: '*', Action: '*', Condition: { StringEquals: { 'sts:ExternalId': ['x', 'y'] } } }))).verdict, 'proved', 'keys repeated across objects, and quotes inside strings, are not repeats')
  const globs = ['*a*d*', '*b*e*', '*c*f*', '*g*h*', '*i*j*', '*k*l*', '*m*n*', '*o*p*', '*q*r*', '*s*t*']
  const started = process.hrtime.bigint()
  const verdict = analyse(doc(pinned, vendor({ StringLike: { 'sts:ExternalId': globs } })))
  const ms = Number(process.hrtime.bigint() - started) / 1e6
  t.match(verdict, { verdict: 'unknown', detail: /automaton steps/ }, `ten interleaved globs hit the work cap (${ms.toFixed(0)} ms) instead of holding the event loop for seconds`)
})

t.test('an external ID near ours is not ours: each one is a violation with itself as the witness', async (t) => {
  // Kills the mutants that compare IDs by prefix, suffix, inclusion or case instead of equality.
  const near = { extends: `${OURS}x`, prefixed: `x${OURS}`, truncated: OURS.slice(0, -1), 'starts the same': OURS.slice(0, 8), capitals: OURS.toUpperCase(), 'one letter in capitals': `${OURS.slice(0, 1)}${OURS.slice(1, 2).toUpperCase()}${OURS.slice(2)}`, 'inside another': `a${OURS}b` }
  for (const [what, id] of Object.entries(near)) {
    expectViolation(t, doc(pinned, vendor({ StringEquals: { 'sts:ExternalId': id } })), (witness) => t.equal(witness, id, `StringEquals ${what} (${id})`))
  }
  expectViolation(t, doc(vendor({ StringEquals: { 'sts:ExternalId': [OURS, `${OURS}x`] } })), (witness) => t.equal(witness, `${OURS}x`, 'in one list with ours'))
  const rotation = { ...REQUEST, ours: [OURS, FOREIGN] }
  expectViolation(t, doc(vendor({ StringEquals: { 'sts:ExternalId': [OURS, FOREIGN, `${FOREIGN}x`] } })), (witness) => t.equal(witness, `${FOREIGN}x`, 'during a rotation, extending the other ID'), rotation)
})

t.test('a condition key repeated in another letter case: unknown, as an exact repeat', async (t) => {
  const twice = analyse(doc(vendor({ StringEquals: { 'sts:ExternalId': OURS, 'sts:externalid': FOREIGN } })))
  t.match(twice, { verdict: 'unknown', statement: null, detail: /"sts:ExternalId" twice in one block, also as "sts:externalid"/ })
  t.match(analyse(doc(vendor({ StringEquals: { 'sts:ExternalId': OURS, 'STS:EXTERNALID': OURS } }))), { verdict: 'unknown' }, 'even when both name our ID')
  t.match(analyse(doc(vendor({ StringEquals: { 'sts:ExternalId': OURS }, StringLike: { 'sts:externalid': OURS } }))), { verdict: 'proved' }, 'in two blocks each condition holds on its own: not a repeat')
})

t.test('a glob with more than 16 stars on a varying key is opaque: unknown, never proved', async (t) => {
  const many = `*${'a*'.repeat(16)}`
  t.match(analyse(doc(pinned, vendor({ StringLike: { 'sts:ExternalId': many } }))), { verdict: 'unknown', statement: 'statement 1', detail: /more than 16 wildcards/ })
  t.match(analyse(doc(pinned, vendor({ StringLike: { 'sts:ExternalId': `*${'a*'.repeat(15)}` } }))), { verdict: 'violation' }, '16 stars are analysed')
})
