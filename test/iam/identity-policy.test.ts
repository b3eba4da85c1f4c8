// The identity-policy evaluator the STS emulator authorises IAM calls with (GetRole), judged by an
// evaluator that is not deputy's (@cloud-copilot/iam-simulate, a devDependency oracle): over a
// grid of policies and requests, both must decide alike (allow, explicit deny, or no decision).
import { runSimulation } from '@cloud-copilot/iam-simulate'
import t from 'tap'
import { identityDecision } from '../../src/iam/identity-policy.js'

const ACCOUNT = '222222222222'
const SESSION = `arn:aws:sts::${ACCOUNT}:assumed-role/DeputyAccess/probe`
const ROLE = `arn:aws:iam::${ACCOUNT}:role/team/DeputyAccess`
const doc = (...Statement: object[]) => ({ Version: '2012-10-17', Statement })

const ORACLE: Record<string, string> = { Allowed: 'allow', ExplicitlyDenied: 'deny', ImplicitlyDenied: 'none' }

async function oracle (policies: object[], action: string, resource: string, keys: Record<string, string>): Promise<string> {
  const result = await runSimulation({
    identityPolicies: policies.map((policy, i) => ({ name: `p${i}`, policy })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    request: { action, principal: SESSION, resource: { accountId: ACCOUNT, resource }, contextVariables: keys }
  }, {})
  if (result.resultType === 'error') return `oracle error: ${JSON.stringify(result.errors).slice(0, 200)}`
  return ORACLE[result.overallResult] ?? result.overallResult
}

// Statements chosen so each part of the evaluation decides some request: wildcards in actions
// (case-insensitive) and in resources (case-sensitive), regex metacharacters that must stay
// literal, NotAction / NotResource, Deny over Allow, and conditions.
const POLICIES: Array<[string, object[]]> = [
  ['exact grant', [doc({ Effect: 'Allow', Action: 'iam:GetRole', Resource: ROLE })]],
  ['action wildcard *', [doc({ Effect: 'Allow', Action: 'iam:Get*', Resource: '*' })]],
  ['action wildcard ?', [doc({ Effect: 'Allow', Action: 'iam:GetRol?', Resource: '*' })]],
  ['action in another case', [doc({ Effect: 'Allow', Action: 'IAM:getrole', Resource: '*' })]],
  ['action list', [doc({ Effect: 'Allow', Action: ['s3:GetObject', 'iam:GetRole'], Resource: [ROLE, 'arn:aws:s3:::b/*'] })]],
  ['resource wildcard over a path', [doc({ Effect: 'Allow', Action: 'iam:GetRole', Resource: `arn:aws:iam::${ACCOUNT}:role/*` })]],
  ['resource in another case', [doc({ Effect: 'Allow', Action: 'iam:GetRole', Resource: ROLE.toUpperCase() })]],
  ['resource with a literal dot', [doc({ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/a.txt' })]],
  ['resource with a literal plus and parentheses', [doc({ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/(a+)' })]],
  ['NotAction', [doc({ Effect: 'Allow', NotAction: 'iam:*', Resource: '*' })]],
  ['NotResource', [doc({ Effect: 'Allow', Action: '*', NotResource: ROLE })]],
  ['NotAction list, in another case', [doc({ Effect: 'Allow', NotAction: ['IAM:GetRole', 'ec2:*'], Resource: '*' })]],
  ['NotResource list, in another case', [doc({ Effect: 'Allow', Action: '*', NotResource: [ROLE.toUpperCase(), 'arn:aws:s3:::b/*'] })]],
  ['Deny beats Allow', [doc({ Effect: 'Allow', Action: '*', Resource: '*' }), doc({ Effect: 'Deny', Action: 'iam:GetRole', Resource: '*' })]],
  ['Deny by NotAction', [doc({ Effect: 'Allow', Action: '*', Resource: '*' }, { Effect: 'Deny', NotAction: 's3:*', Resource: '*' })]],
  ['Deny by NotResource', [doc({ Effect: 'Allow', Action: '*', Resource: '*' }, { Effect: 'Deny', Action: '*', NotResource: 'arn:aws:s3:::b/*' })]],
  ['a condition that holds or not', [doc({ Effect: 'Allow', Action: '*', Resource: '*', Condition: { StringEquals: { 'aws:RequestedRegion': 'eu-west-1' } } })]],
  ['a Deny under a condition', [doc({ Effect: 'Allow', Action: '*', Resource: '*' }, { Effect: 'Deny', Action: '*', Resource: '*', Condition: { DateLessThan: { 'aws:TokenIssueTime': '2026-01-01T00:00:00Z' } } })]],
  ['a single statement object', [{ Version: '2012-10-17', Statement: { Effect: 'Allow', Action: 'iam:GetRole', Resource: '*' } }]],
  ['no statements', [doc()]]
]

const REQUESTS: Array<[string, string, Record<string, string>]> = [
  ['iam:GetRole', ROLE, {}],
  ['iam:GetRolePolicy', ROLE, {}],
  ['iam:GetRole', `arn:aws:iam::${ACCOUNT}:role/Other`, { 'aws:RequestedRegion': 'eu-west-1' }],
  ['s3:GetObject', 'arn:aws:s3:::b/a.txt', { 'aws:RequestedRegion': 'us-east-1', 'aws:TokenIssueTime': '2025-06-01T00:00:00Z' }],
  ['s3:GetObject', 'arn:aws:s3:::b/aXtxt', { 'aws:TokenIssueTime': '2026-06-01T00:00:00Z' }],
  ['s3:GetObject', 'arn:aws:s3:::b/(a+)', {}],
  ['s3:GetObject', 'arn:aws:s3:::b/(aa)', {}],
  ['ec2:RunInstances', 'arn:aws:ec2:eu-west-1:222222222222:instance/i-0abc', { 'aws:RequestedRegion': 'eu-west-1' }]
]

t.test('decides as iam-simulate does on a grid of policies and requests', async (t) => {
  const disagreements: string[] = []
  let compared = 0
  for (const [name, policies] of POLICIES) {
    for (const [action, resource, keys] of REQUESTS) {
      const ours = identityDecision(policies, action, resource, keys)
      const theirs = await oracle(policies, action, resource, keys)
      if (ours !== theirs) disagreements.push(`${name}: ${action} on ${resource} with ${JSON.stringify(keys)}: ours ${ours}, iam-simulate ${theirs}`)
      compared++
    }
  }
  t.same(disagreements, [], `${compared} decisions compared`)
})

t.test('every outcome occurs on the grid (the comparison is not all one answer)', async (t) => {
  const outcomes = new Set(POLICIES.flatMap(([, policies]) => REQUESTS.map(([action, resource, keys]) => identityDecision(policies, action, resource, keys))))
  t.same([...outcomes].sort(), ['allow', 'deny', 'none'])
})

t.test('documents passed as JSON text decide as objects do; unreadable ones grant nothing', async (t) => {
  const grant = doc({ Effect: 'Allow', Action: 'iam:GetRole', Resource: ROLE })
  t.equal(identityDecision([JSON.stringify(grant)], 'iam:GetRole', ROLE), 'allow')
  t.equal(identityDecision(['{not json', grant], 'iam:GetRole', ROLE), 'allow', 'an unreadable document does not spoil the others')
  t.equal(identityDecision(['{not json'], 'iam:GetRole', ROLE), 'none')
  t.equal(identityDecision([{ Statement: [null, 'x', { Effect: 'Allow', Action: 'iam:GetRole', Resource: ROLE }] }], 'iam:GetRole', ROLE), 'allow', 'malformed statements match nothing; the others still count')
  t.equal(identityDecision([doc({ Effect: 'allow', Action: '*', Resource: '*' })], 'iam:GetRole', ROLE), 'none', 'an Effect that is neither Allow nor Deny grants nothing')
  t.equal(identityDecision([doc({ Effect: 'Allow', NotAction: [], Resource: '*' })], 'iam:GetRole', ROLE), 'none', 'an empty NotAction matches nothing')
  t.equal(identityDecision([doc({ Effect: 'Allow', Action: '*', NotResource: [] })], 'iam:GetRole', ROLE), 'none', 'an empty NotResource matches nothing')
  t.equal(identityDecision([doc({ Effect: 'Allow', Action: 'iam:GetRole', Resource: 'arn:aws:iam::*' })], 'iam:GetRole', `arn:aws:iam::${ACCOUNT}:role/a\nb`), 'allow', 'a wildcard spans a newline in a resource name')
})
