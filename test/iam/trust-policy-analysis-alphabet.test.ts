// The static proof reads each condition key's patterns as automata over the characters the
// policy names plus one stand-in for all the others. These policies are built so that a wrong
// automaton or a missing stand-in turns a hole into `proved`: each violation's witness is judged
// by an evaluator that is not deputy's (@cloud-copilot/iam-simulate, a devDependency oracle).
import { runSimulation } from '@cloud-copilot/iam-simulate'
import t from 'tap'
import { analyseTrustPolicy, type AnalysisVerdict } from '../../src/iam/trust-policy-analysis/analyse.js'
import { vendorRequestInput, type VendorRequest } from '../../src/iam/trust-policy-analysis/vendor-request.js'

const VENDOR = 'arn:aws:iam::111111111111:user/deputy'
const ROLE = 'arn:aws:iam::222222222222:role/DeputyAccess'
const OURS = 'ab'
const SESSION = 'deputy-probe'
const REQUEST: VendorRequest = { vendorPrincipalArn: VENDOR, ours: [OURS], sessionName: SESSION, sourceIdentity: undefined }

const doc = (...Statement: object[]): object => ({ Version: '2012-10-17', Statement })
const vendor = (Condition: object): object => ({ Effect: 'Allow', Principal: { AWS: VENDOR }, Action: 'sts:AssumeRole', Condition })
const analyse = (policy: object): AnalysisVerdict => analyseTrustPolicy(policy, vendorRequestInput(REQUEST))

/** Whether IAM (as iam-simulate evaluates it) lets deputy's principal assume the role with these keys. */
async function oracleAdmits (policy: object, values: Record<string, string>): Promise<boolean> {
  const result = await runSimulation({
    identityPolicies: [{ name: 'vendor', policy: doc({ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' }) }],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: policy,
    request: { action: 'sts:AssumeRole', principal: VENDOR, resource: { accountId: '222222222222', resource: ROLE }, contextVariables: { 'aws:PrincipalArn': VENDOR, 'aws:PrincipalAccount': '111111111111', 'aws:PrincipalType': 'User', ...values } }
  }, {})
  if (result.resultType === 'error') throw new Error(`oracle error: ${JSON.stringify(result.errors).slice(0, 200)}`)
  return result.overallResult === 'Allowed'
}

t.test('a hole only characters the policy never names can fill is found', async (t) => {
  // Admits any external ID without an "a" or a "b" (such as "zz"); the pinned ID "ab" names both.
  const policy = doc(vendor({ StringNotLike: { 'sts:ExternalId': ['*a*', '*b*'] }, Null: { 'sts:ExternalId': 'false' } }))
  const verdict = analyse(policy)
  t.equal(verdict.verdict, 'violation', verdict.detail)
  if (verdict.verdict !== 'violation') return
  const id = verdict.witness.values['sts:ExternalId'] ?? ''
  t.notMatch(id, /[ab]/, `the witness ${JSON.stringify(id)} uses neither named character`)
  t.ok(await oracleAdmits(policy, verdict.witness.values), `iam-simulate admits the witness ${JSON.stringify(verdict.witness.values)}`)
})

t.test('consecutive stars match any run, including none', async (t) => {
  for (const pattern of ['**', 'x**', '**x*', 'a**b*']) {
    const policy = doc(vendor({ StringLike: { 'sts:ExternalId': pattern } }))
    const verdict = analyse(policy)
    t.equal(verdict.verdict, 'violation', `StringLike ${pattern}: ${verdict.detail}`)
    if (verdict.verdict !== 'violation') continue
    t.ok(await oracleAdmits(policy, verdict.witness.values), `iam-simulate admits the witness ${JSON.stringify(verdict.witness.values)} of ${pattern}`)
  }
})
