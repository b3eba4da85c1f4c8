// What the static proof assumes about deputy's own request (its principal type, whether it sets a
// source identity) decides conditions on those keys; and a trust policy that repeats a key in one
// object, however it is spelt in the JSON text, is `unknown` (IAM may enforce either value).
import t from 'tap'
import { analyseTrustPolicy } from '../../src/iam/trust-policy-analysis/analyse.js'
import { vendorRequestInput, type VendorRequest } from '../../src/iam/trust-policy-analysis/vendor-request.js'

const VENDOR = 'arn:aws:iam::111111111111:user/deputy'
const VENDOR_ROLE = 'arn:aws:iam::111111111111:role/VendorRole'
const OURS = '6f1c9a2e-1b7d-4c3f-9a55-2d1e8b7c4a10'
const USER: VendorRequest = { vendorPrincipalArn: VENDOR, ours: [OURS], sessionName: 'deputy-probe', sourceIdentity: undefined }
const ROLE: VendorRequest = { ...USER, vendorPrincipalArn: VENDOR_ROLE }

const doc = (...Statement: object[]): object => ({ Version: '2012-10-17', Statement })
const trusting = (principal: string, Condition: object): object => ({ Effect: 'Allow', Principal: { AWS: principal }, Action: 'sts:AssumeRole', Condition })
const ours = (principal: string): object => trusting(principal, { StringEquals: { 'sts:ExternalId': OURS } })
const analyse = (policy: object | string, request: VendorRequest) => analyseTrustPolicy(policy, vendorRequestInput(request))

t.test('aws:PrincipalType is User for a vendor user and AssumedRole for a vendor role', async (t) => {
  t.match(analyse(doc(ours(VENDOR), trusting(VENDOR, { StringEquals: { 'aws:PrincipalType': 'User' } })), USER), { verdict: 'violation' }, 'a user: a statement for users admits it')
  t.match(analyse(doc(ours(VENDOR), trusting(VENDOR, { StringEquals: { 'aws:PrincipalType': 'AssumedRole' } })), USER), { verdict: 'proved' }, 'a user: a statement for sessions does not')
  t.match(analyse(doc(ours(VENDOR_ROLE), trusting(VENDOR_ROLE, { StringEquals: { 'aws:PrincipalType': 'AssumedRole' } })), ROLE), { verdict: 'violation' }, 'a role: a statement for sessions admits it')
  t.match(analyse(doc(ours(VENDOR_ROLE), trusting(VENDOR_ROLE, { StringEquals: { 'aws:PrincipalType': 'User' } })), ROLE), { verdict: 'proved' }, 'a role: a statement for users does not')
})

t.test('without a source identity, the key is known to be absent', async (t) => {
  const policy = doc(ours(VENDOR), trusting(VENDOR, { Null: { 'sts:SourceIdentity': 'true' } }))
  t.match(analyse(policy, USER), { verdict: 'violation' }, 'a statement for requests without one admits deputy\'s')
  t.match(analyse(policy, { ...USER, sourceIdentity: 'deputy.probe' }), { verdict: 'proved' }, 'with one, it does not')
})

t.test('a principal that is not an ARN is refused before any analysis', async (t) => {
  t.throws(() => vendorRequestInput({ ...USER, vendorPrincipalArn: 'deputy' }), { message: 'not a principal ARN: deputy' })
})

t.test('a key repeated in one object is found however the JSON text spells it', async (t) => {
  const repeated = (text: string): unknown => analyseTrustPolicy(text, vendorRequestInput(USER))
  const statement = JSON.stringify(ours(VENDOR))
  t.match(repeated(`{"Version":"2012-10-17","Statement":[${statement}],"Statement":[]}`), { verdict: 'unknown', detail: /repeats the key "Statement"/ }, 'after an array value')
  t.match(repeated(`{"Version" : "2012-10-17", "Statement" : [${statement}], "Version" : "2008-10-17"}`), { verdict: 'unknown', detail: /repeats the key "Version"/ }, 'with spaces before the colons')
  t.match(repeated(`{"Version":"2012-10-17","Statement":[${statement}],"Id":"x","a\\"b":1,"a\\"b":2}`), { verdict: 'unknown', detail: /repeats the key "a\\"b"/ }, 'a key with an escaped quote')
  t.match(repeated(`{"Version":"2012-10-17","Statement":[${statement}, ${statement}]}`), { verdict: 'proved' }, 'equal keys in two objects of one array are not a repeat')
  t.match(repeated(`{"Version":"2012-10-17","Statement":[${statement}],"Id":["Version","Statement"]}`), { verdict: 'proved' }, 'strings in an array are not keys')
})
