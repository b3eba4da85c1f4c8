// What the static proof cannot decide it answers `unknown`, never `proved`, and it says why in
// words the customer's administrator can act on: each part of a statement outside what the
// analysis reads (a key deputy does not fix, a policy variable, an operator outside the string
// fragment, a principal that depends on deputy's own session) is named, with the statement.
/* eslint-disable no-template-curly-in-string -- IAM policy variables (${aws:username}) are part of what these policies test */
import t from 'tap'
import { analyseTrustPolicy } from '../../src/iam/trust-policy-analysis/analyse.js'
import { vendorRequestInput, type VendorRequest } from '../../src/iam/trust-policy-analysis/vendor-request.js'

const VENDOR = 'arn:aws:iam::111111111111:user/deputy'
const VENDOR_ROLE = 'arn:aws:iam::111111111111:role/VendorRole'
const OURS = '6f1c9a2e-1b7d-4c3f-9a55-2d1e8b7c4a10'
const USER: VendorRequest = { vendorPrincipalArn: VENDOR, ours: [OURS], sessionName: 'deputy-probe', sourceIdentity: undefined }
const ROLE: VendorRequest = { ...USER, vendorPrincipalArn: VENDOR_ROLE }

const doc = (...Statement: object[]): object => ({ Version: '2012-10-17', Statement })
const allow = (extra: object): object => ({ Effect: 'Allow', Action: 'sts:AssumeRole', ...extra })
const vendor = (Condition: object, extra: object = {}): object => allow({ Principal: { AWS: VENDOR }, Condition, ...extra })
const ours = vendor({ StringEquals: { 'sts:ExternalId': OURS } })
const analyse = (policy: object, request = USER) => analyseTrustPolicy(policy, vendorRequestInput(request))

const unknown = (label: string, why: string): object => ({ verdict: 'unknown', detail: `${label} may admit another external ID: ${why}`, statement: label })

t.test('conditions the analysis cannot decide, each named', async (t) => {
  const cases: Array<[string, object, string]> = [
    ['a key deputy does not fix', { StringEquals: { 'aws:SourceIp': '203.0.113.7' } }, 'the condition key aws:SourceIp is not fixed by deputy\'s request (its value is not known in advance)'],
    ['an unknown set prefix', { 'ForSomeValue:StringEquals': { 'sts:ExternalId': OURS } }, 'the operator ForSomeValue:StringEquals is not one the analysis knows'],
    ['an unknown operator', { StringEqualz: { 'sts:ExternalId': OURS } }, 'the operator StringEqualz is not one the analysis knows'],
    ['a policy variable', { StringLike: { 'sts:ExternalId': '${aws:username}*' } }, 'StringLike on sts:ExternalId uses a policy variable'],
    ['a number', { StringEquals: { 'sts:ExternalId': 12 } }, 'StringEquals on sts:ExternalId compares with a value that is not a string'],
    ['a boolean in a list', { StringNotEquals: { 'sts:ExternalId': [OURS, true] } }, 'StringNotEquals on sts:ExternalId compares with a value that is not a string'],
    ['case folding outside ASCII', { StringEqualsIgnoreCase: { 'sts:ExternalId': [OURS, 'ſ'] } }, 'StringEqualsIgnoreCase on sts:ExternalId compares, ignoring case, with a character outside ASCII'],
    ['a policy variable among plain values', { StringLike: { 'sts:ExternalId': [OURS, '${aws:username}'] } }, 'StringLike on sts:ExternalId uses a policy variable'],
    ['a numeric operator on a variable key', { NumericEquals: { 'sts:ExternalId': '1' } }, 'NumericEquals on sts:ExternalId is outside the fragment (string operators and Null only)'],
    ['a date operator with IfExists', { DateLessThanIfExists: { 'sts:RoleSessionName': '2030-01-01' } }, 'DateLessThanIfExists on sts:RoleSessionName is outside the fragment (string operators and Null only)']
  ]
  for (const [name, condition, why] of cases) t.same(analyse(doc(ours, vendor(condition, { Sid: 'Extra' }))), unknown('Sid Extra', why), name)
  t.same(analyse(doc(ours, vendor({ StringEquals: { 'aws:SourceIp': '203.0.113.7', 'aws:SourceVpc': 'vpc-1' } }))),
    unknown('statement 1', 'the condition key aws:SourceIp is not fixed by deputy\'s request (its value is not known in advance); the condition key aws:SourceVpc is not fixed by deputy\'s request (its value is not known in advance)'),
    'every reason, in order; a statement without a Sid is named by its index')
  t.match(analyse(doc(ours, vendor({ StringEquals: { 'aws:SourceIp': '203.0.113.7' } }, { Sid: '' }))), { statement: 'statement 1' }, 'an empty Sid names nothing')
})

t.test('what the analysis does decide stays decided', async (t) => {
  t.match(analyse(doc(ours, vendor({ NumericEquals: { 'aws:PrincipalAccount': '999999999999' } }))), { verdict: 'proved' }, 'any operator on a key deputy fixes (a constant)')
  t.match(analyse(doc(ours, vendor({ StringEquals: { 'aws:PrincipalArn': '${aws:username}' } }))), unknown('statement 1', 'StringEquals on aws:PrincipalArn uses a policy variable'), 'but not a policy variable on one')
  t.match(analyse(doc(ours, vendor({ 'ForAnyValue:StringEquals': { 'sts:ExternalId': 'other-id' } }))), { verdict: 'violation' }, 'a known set prefix on a variable key')
  t.match(analyse(doc(ours, vendor({ Null: { 'sts:ExternalId': 'true' } }))), { verdict: 'violation' }, 'Null on a variable key')
  t.match(analyse(doc(ours, vendor({ Null: { 'sts:ExternalId': false } }))), { verdict: 'violation' }, 'Null with a JSON boolean')
  // Case variants of our own ID are other IDs: an ignore-case comparison lets them in.
  const caseVariant = analyse(doc(vendor({ StringEqualsIgnoreCase: { 'sts:ExternalId': OURS } })))
  t.match(caseVariant, { verdict: 'violation' }, 'StringEqualsIgnoreCase on our ID')
  if (caseVariant.verdict === 'violation') t.equal(caseVariant.witness.values['sts:ExternalId']?.toLowerCase(), OURS, `the witness ${caseVariant.witness.values['sts:ExternalId']} is ours in another case`)
  const denyCaseVariant = analyse(doc(vendor({}), { Effect: 'Deny', Principal: '*', Action: 'sts:AssumeRole', Condition: { StringNotEqualsIgnoreCase: { 'sts:ExternalId': OURS } } }))
  t.match(denyCaseVariant, { verdict: 'violation' }, 'a Deny StringNotEqualsIgnoreCase of our ID')
  if (denyCaseVariant.verdict === 'violation') t.equal(denyCaseVariant.witness.values['sts:ExternalId']?.toLowerCase(), OURS, 'lets ours in another case through')
  t.match(analyse(doc(ours, vendor({ StringEqualsIgnoreCase: { 'sts:ExternalId': 'OTHER-id' } }))), { verdict: 'violation', witness: { values: { 'sts:ExternalId': /^other-id$/i } } }, 'ASCII case folding')
  t.match(analyse(doc(ours, vendor({ StringEquals: { 'STS:EXTERNALID': 'other-id' } }))), { verdict: 'violation', witness: { values: { 'sts:ExternalId': 'other-id' } } }, 'a key named in another letter case is the same key')
})

t.test('principals that depend on deputy\'s own session or on how IAM reads NotPrincipal', async (t) => {
  const session = 'arn:aws:sts::111111111111:assumed-role/VendorRole/some-session'
  t.same(analyse(doc(ours, allow({ Principal: { AWS: [session, 'arn:aws:iam::999999999999:root'] } })), ROLE),
    unknown('statement 1', 'its Principal names a session of the vendor role, which depends on the session name of deputy\'s own credentials'))
  t.match(analyse(doc(ours, allow({ Principal: { AWS: session } })), USER), { verdict: 'proved' }, 'a session of a role is not the vendor user')
  t.match(analyse(doc(ours, allow({ Principal: { AWS: 'arn:aws:sts::111111111111:assumed-role/OtherRole/s' } })), ROLE), { verdict: 'proved' }, 'a session of another role is not the vendor')
  t.same(analyse(doc(ours, allow({ NotPrincipal: { AWS: [session] } })), ROLE),
    unknown('statement 1', 'its NotPrincipal names a session of the vendor role, which depends on the session name of deputy\'s own credentials'),
    'an Allow whose NotPrincipal may or may not exclude deputy\'s session')
  const notPrincipal = 'it allows with NotPrincipal, whose exclusion of deputy\'s session IAM decides on more than the ARN'
  for (const named of [VENDOR.toUpperCase(), '111111111111', 'arn:aws:iam::111111111111:root', '*', ['arn:aws:iam::999999999999:root', VENDOR]]) {
    t.same(analyse(doc(ours, allow({ NotPrincipal: { AWS: named } }))), unknown('statement 1', notPrincipal), `Allow NotPrincipal ${JSON.stringify(named)}`)
  }
  t.same(analyse(doc(ours, allow({ NotPrincipal: '*' }))), unknown('statement 1', notPrincipal), 'Allow NotPrincipal "*"')
  t.same(analyse(doc(ours, allow({ NotPrincipal: null }))), unknown('statement 1', notPrincipal), 'Allow NotPrincipal null')
  t.match(analyse(doc(ours, allow({ Principal: null })), ROLE), { verdict: 'proved' }, 'a null Principal trusts nobody')
  t.match(analyse(doc(vendor({}), { Effect: 'Deny', NotPrincipal: { AWS: VENDOR }, Action: 'sts:AssumeRole', Condition: { StringNotEquals: { 'sts:ExternalId': OURS } } })), { verdict: 'violation' },
    'a Deny for everyone but the vendor user does not hold the vendor back (NotPrincipal excludes an IAM user by its ARN)')
  t.match(analyse(doc(ours, allow({ NotPrincipal: { AWS: 'arn:aws:iam::999999999999:root' } }))), { verdict: 'violation' }, 'an Allow NotPrincipal of another account admits the vendor for certain')
  t.same(analyse(doc(ours, allow({ Principal: { AWS: VENDOR.replace('deputy', 'Deputy') } }))),
    unknown('statement 1', 'its Principal names the vendor in another letter case, which IAM may resolve to the vendor'))
  t.match(analyse(doc(ours, allow({ Principal: { AWS: 'arn:aws:iam::111111111111:user/other' } }))), { verdict: 'proved' }, 'another user of the vendor account is not the vendor')
})
