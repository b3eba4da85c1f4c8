// The deny policy a revocation hands the customer, judged by an evaluator that is not deputy's
// (@cloud-copilot/iam-simulate, a devDependency oracle): attached beside the role's grants, it
// must deny every action on every resource to a session issued before the revocation, and
// nothing to one issued at or after it (a later connection to the same role keeps working).
import { runSimulation } from '@cloud-copilot/iam-simulate'
import t from 'tap'
import { denySessionsIssuedBefore } from '../../src/iam/deny-policy.js'

const SESSION = 'arn:aws:sts::222222222222:assumed-role/DeputyAccess/deputy-session'
const GRANTS = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }

async function decide (policy: object, action: string, resource: string, issuedAt: Date): Promise<string> {
  const result = await runSimulation({
    identityPolicies: [{ name: 'grants', policy: GRANTS }, { name: 'deputy-revocation', policy }],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    request: { action, principal: SESSION, resource: { accountId: '222222222222', resource }, contextVariables: { 'aws:TokenIssueTime': issuedAt.toISOString() } }
  }, {})
  if (result.resultType === 'error') return `oracle error: ${JSON.stringify(result.errors).slice(0, 200)}`
  return result.overallResult
}

const REVOKED_AT = new Date('2026-03-04T05:06:07.890Z')
const REQUESTS: Array<[action: string, resource: string]> = [
  ['s3:GetObject', 'arn:aws:s3:::customer-data/report.csv'],
  ['iam:CreateUser', 'arn:aws:iam::222222222222:user/intruder'],
  ['ec2:DescribeInstances', '*'],
  ['sts:AssumeRole', 'arn:aws:iam::333333333333:role/Onward']
]

t.test('a session issued before the revocation is denied every action on every resource', async (t) => {
  const policy = denySessionsIssuedBefore(REVOKED_AT)
  for (const issuedAt of [new Date(REVOKED_AT.getTime() - 3_600_000), new Date(REVOKED_AT.getTime() - 1)]) {
    for (const [action, resource] of REQUESTS) t.equal(await decide(policy, action, resource, issuedAt), 'ExplicitlyDenied', `${action} on ${resource}, issued ${issuedAt.toISOString()}`)
  }
})

t.test('a session issued at or after the revocation is not denied', async (t) => {
  const policy = denySessionsIssuedBefore(REVOKED_AT)
  for (const issuedAt of [REVOKED_AT, new Date(REVOKED_AT.getTime() + 1), new Date(REVOKED_AT.getTime() + 86_400_000)]) {
    for (const [action, resource] of REQUESTS) t.equal(await decide(policy, action, resource, issuedAt), 'Allowed', `${action} on ${resource}, issued ${issuedAt.toISOString()}`)
  }
})

t.test('the cut-off is the revocation instant, to the millisecond, in the policy the customer reads', async (t) => {
  const text = JSON.stringify(denySessionsIssuedBefore(REVOKED_AT))
  t.match(text, '"2026-03-04T05:06:07.890Z"', 'ISO 8601 with milliseconds and Z, as IAM reads dates')
  t.same(JSON.parse(text), {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Deny', Action: '*', Resource: '*', Condition: { DateLessThan: { 'aws:TokenIssueTime': '2026-03-04T05:06:07.890Z' } } }]
  }, 'one statement, only IAM policy elements (what the customer pastes into IAM)')
})
