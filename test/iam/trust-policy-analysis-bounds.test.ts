// The static proof considers exactly the values AWS lets a request carry: STS refuses an external
// ID outside 2..1224 characters and a role session name outside 2..64 (AssumeRole API reference),
// so a policy that opens only for such values admits nobody, and a witness is a value AWS would
// send. And when a policy needs more automaton states than allowed, the answer is `unknown`.
import t from 'tap'
import { analyseTrustPolicy } from '../../src/iam/trust-policy-analysis/analyse.js'
import { vendorRequestInput, type VendorRequest } from '../../src/iam/trust-policy-analysis/vendor-request.js'

const VENDOR = 'arn:aws:iam::111111111111:user/deputy'
const OURS = '6f1c9a2e-1b7d-4c3f-9a55-2d1e8b7c4a10'
const SESSION = 'deputy-probe'
const REQUEST: VendorRequest = { vendorPrincipalArn: VENDOR, ours: [OURS], sessionName: SESSION, sourceIdentity: undefined }
// AssumeRole: ExternalId 2..1224 characters, RoleSessionName 2..64.
const EXTERNAL_ID_LENGTH = { min: 2, max: 1224 }
const SESSION_NAME_LENGTH = { min: 2, max: 64 }

const doc = (...Statement: object[]): object => ({ Version: '2012-10-17', Statement })
const vendor = (Condition: object): object => ({ Effect: 'Allow', Principal: { AWS: VENDOR }, Action: 'sts:AssumeRole', Condition })
const ours = vendor({ StringEquals: { 'sts:ExternalId': OURS } })
const analyse = (policy: object, limits = {}) => analyseTrustPolicy(policy, vendorRequestInput(REQUEST), limits)

t.test('a statement that opens only for values AWS refuses admits nobody', async (t) => {
  const tooShortId = '?'.repeat(EXTERNAL_ID_LENGTH.min - 1)
  t.match(analyse(doc(ours, vendor({ StringLike: { 'sts:ExternalId': tooShortId } }))), { verdict: 'proved' }, `an external ID of ${tooShortId.length} character`)
  const tooShortName = '?'.repeat(SESSION_NAME_LENGTH.min - 1)
  t.match(analyse(doc(ours, vendor({ StringLike: { 'sts:RoleSessionName': tooShortName } }))), { verdict: 'proved' }, `a session name of ${tooShortName.length} character`)
  const tooLongName = '?'.repeat(SESSION_NAME_LENGTH.max + 1)
  t.match(analyse(doc(ours, vendor({ StringLike: { 'sts:RoleSessionName': tooLongName } }))), { verdict: 'proved' }, `a session name of ${tooLongName.length} characters`)
})

t.test('the same statements at the limits admit another external ID', async (t) => {
  for (const [key, length] of [['sts:ExternalId', EXTERNAL_ID_LENGTH.min], ['sts:RoleSessionName', SESSION_NAME_LENGTH.min], ['sts:RoleSessionName', SESSION_NAME_LENGTH.max]] as const) {
    const verdict = analyse(doc(ours, vendor({ StringLike: { [key]: '?'.repeat(length) } })))
    t.equal(verdict.verdict, 'violation', `${key} of ${length} characters`)
    if (verdict.verdict === 'violation') t.equal(verdict.witness.values[key]?.length, length, 'the witness has that length')
  }
})

t.test('a witness is a shortest value of its class', async (t) => {
  // Every ID but ours: the witness is two characters (the least AWS takes), not some longer value
  // of the same class (such as a prefix of ours, which the search also walks through).
  const verdict = analyse(doc(vendor({ StringNotEquals: { 'sts:ExternalId': OURS } })))
  t.equal(verdict.verdict, 'violation')
  if (verdict.verdict !== 'violation') return
  t.equal(verdict.witness.values['sts:ExternalId']?.length, EXTERNAL_ID_LENGTH.min, JSON.stringify(verdict.witness.values))
  t.equal(verdict.witness.values['sts:RoleSessionName'], SESSION, 'with the probe\'s own session name')
})

t.test('more automaton states than allowed: unknown, saying which key', async (t) => {
  const policy = doc(ours, vendor({ StringLike: { 'sts:ExternalId': ['*a*b*c*', '*c*b*a*'] } }))
  t.match(analyse(policy), { verdict: 'violation' }, 'within the default cap it is decided')
  t.same(analyse(policy, { maxProductStates: 5 }), {
    verdict: 'unknown',
    detail: 'size cap reached: the 3 patterns on sts:ExternalId need more than 5 automaton states',
    statement: null
  })
})
