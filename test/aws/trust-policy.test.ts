// deputy's trust-policy evaluator (product code: the emulator and the sandbox use it).
// 1. A table of cases with the answers IAM gives, as documented.
// 2. Differential testing against @cloud-copilot/iam-simulate, an independent evaluator with
//    real IAM semantics. It is AGPL-3.0, so it is a devDependency used only here as an oracle,
//    never shipped (test/licenses.test.ts guards what ships).
import { runSimulation } from '@cloud-copilot/iam-simulate'
import t from 'tap'
import { evaluateTrustPolicy, MalformedPolicyError, type RequestContext } from '../../src/aws/sts-emulator/trust-policy.js'

const VENDOR = 'arn:aws:iam::111111111111:user/deputy'
const ROLE = 'arn:aws:iam::222222222222:role/DeputyAccess'
const ID = '6f1c9a2e-1b7d-4c3f-9a55-2d1e8b7c4a10'

const request = (keys: Record<string, string | undefined>, principalArn = VENDOR, principalAccount = '111111111111'): RequestContext => ({
  principalArn,
  principalAccount,
  keys: { 'aws:PrincipalArn': principalArn, 'aws:PrincipalAccount': principalAccount, ...keys }
})
const allow = (extra: Record<string, unknown> = {}) => ({ Effect: 'Allow', Principal: { AWS: VENDOR }, Action: 'sts:AssumeRole', ...extra })
const doc = (...Statement: object[]) => ({ Version: '2012-10-17', Statement })

t.test('IAM semantics, case by case', async (t) => {
  const cases: Array<[string, object, Record<string, string | undefined>, boolean]> = [
    ['no condition, no ID', doc(allow()), {}, true],
    ['StringEquals, right ID', doc(allow({ Condition: { StringEquals: { 'sts:ExternalId': ID } } })), { 'sts:ExternalId': ID }, true],
    ['StringEquals, no ID', doc(allow({ Condition: { StringEquals: { 'sts:ExternalId': ID } } })), {}, false],
    ['StringEquals, wrong ID', doc(allow({ Condition: { StringEquals: { 'sts:ExternalId': ID } } })), { 'sts:ExternalId': 'other' }, false],
    ['StringEquals is case-sensitive', doc(allow({ Condition: { StringEquals: { 'sts:ExternalId': 'ABC' } } })), { 'sts:ExternalId': 'abc' }, false],
    ['StringEqualsIgnoreCase', doc(allow({ Condition: { StringEqualsIgnoreCase: { 'sts:ExternalId': 'ABC' } } })), { 'sts:ExternalId': 'abc' }, true],
    ['a list of values is OR', doc(allow({ Condition: { StringEquals: { 'sts:ExternalId': ['x', ID] } } })), { 'sts:ExternalId': ID }, true],
    ['StringLike * with no ID', doc(allow({ Condition: { StringLike: { 'sts:ExternalId': '*' } } })), {}, false],
    ['StringLike * with any ID', doc(allow({ Condition: { StringLike: { 'sts:ExternalId': '*' } } })), { 'sts:ExternalId': 'anything' }, true],
    ['StringLike ?', doc(allow({ Condition: { StringLike: { 'sts:ExternalId': 'ab?' } } })), { 'sts:ExternalId': 'abc' }, true],
    ['StringNotEquals with the key missing is true', doc(allow({ Condition: { StringNotEquals: { 'sts:ExternalId': ID } } })), {}, true],
    ['StringNotEquals with the same value is false', doc(allow({ Condition: { StringNotEquals: { 'sts:ExternalId': ID } } })), { 'sts:ExternalId': ID }, false],
    ['StringEqualsIfExists with the key missing', doc(allow({ Condition: { StringEqualsIfExists: { 'sts:ExternalId': ID } } })), {}, true],
    ['Null true: key absent', doc(allow({ Condition: { Null: { 'sts:ExternalId': 'true' } } })), {}, true],
    ['Null false: key present', doc(allow({ Condition: { Null: { 'sts:ExternalId': 'false' } } })), { 'sts:ExternalId': 'x' }, true],
    ['Null false: key absent', doc(allow({ Condition: { Null: { 'sts:ExternalId': 'false' } } })), {}, false],
    ['keys within an operator are AND', doc(allow({ Condition: { StringEquals: { 'sts:ExternalId': ID, 'sts:SourceIdentity': 'deputy' } } })), { 'sts:ExternalId': ID }, false],
    ['operators are AND', doc(allow({ Condition: { StringEquals: { 'sts:ExternalId': ID }, StringLike: { 'sts:SourceIdentity': 'deputy*' } } })), { 'sts:ExternalId': ID, 'sts:SourceIdentity': 'deputy.x' }, true],
    ['explicit Deny wins over Allow', doc(allow(), { Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:AssumeRole', Condition: { Null: { 'sts:ExternalId': 'true' } } }), {}, false],
    ['Deny that does not apply', doc(allow(), { Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:AssumeRole', Condition: { Null: { 'sts:ExternalId': 'true' } } }), { 'sts:ExternalId': 'x' }, true],
    ['account root principal', doc({ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111111111111:root' }, Action: 'sts:AssumeRole' }), {}, true],
    ['bare account id principal', doc({ Effect: 'Allow', Principal: { AWS: '111111111111' }, Action: 'sts:AssumeRole' }), {}, true],
    ['another account', doc({ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::999999999999:root' }, Action: 'sts:AssumeRole' }), {}, false],
    ['another user', doc({ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111111111111:user/someone' }, Action: 'sts:AssumeRole' }), {}, false],
    ['a service principal only', doc({ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }), {}, false],
    ['Principal "*"', doc({ Effect: 'Allow', Principal: '*', Action: 'sts:AssumeRole' }), {}, true],
    ['Action wildcard sts:*', doc(allow({ Action: 'sts:*' })), {}, true],
    ['another action only', doc(allow({ Action: 'sts:TagSession' })), {}, false],
    ['NotAction excluding AssumeRole', doc(allow({ Action: undefined, NotAction: 'sts:AssumeRole' })), {}, false],
    ['ArnLike on aws:PrincipalArn', doc({ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'sts:AssumeRole', Condition: { ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::111111111111:user/*' } } }), {}, true],
    ['ArnEquals on aws:PrincipalArn, other user', doc({ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'sts:AssumeRole', Condition: { ArnEquals: { 'aws:PrincipalArn': 'arn:aws:iam::111111111111:user/other' } } }), {}, false],
    ['StringEquals aws:PrincipalAccount', doc({ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'sts:AssumeRole', Condition: { StringEquals: { 'aws:PrincipalAccount': '111111111111' } } }), {}, true],
    ['Bool on a missing key is false', doc(allow({ Condition: { Bool: { 'aws:MultiFactorAuthPresent': 'true' } } })), {}, false]
  ]
  for (const [name, policy, keys, expected] of cases) {
    t.equal(evaluateTrustPolicy(policy, ['sts:AssumeRole'], request(keys)).allowed, expected, name)
  }
})

t.test('separate actions: SetSourceIdentity and TagSession must each be allowed', async (t) => {
  const onlyAssume = doc(allow({ Condition: { StringEquals: { 'sts:ExternalId': ID } } }))
  const both = doc(allow({ Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'], Condition: { StringEquals: { 'sts:ExternalId': ID } } }))
  const ctx = request({ 'sts:ExternalId': ID, 'sts:SourceIdentity': 'deputy.x' })
  t.match(evaluateTrustPolicy(onlyAssume, ['sts:AssumeRole', 'sts:SetSourceIdentity'], ctx), { allowed: false, action: 'sts:SetSourceIdentity' })
  t.match(evaluateTrustPolicy(both, ['sts:AssumeRole', 'sts:SetSourceIdentity'], ctx), { allowed: true })
  t.match(evaluateTrustPolicy(both, ['sts:AssumeRole', 'sts:TagSession'], ctx), { allowed: false, action: 'sts:TagSession' })
})

t.test('a role session matches its role\'s ARN as principal', async (t) => {
  const session = 'arn:aws:sts::111111111111:assumed-role/VendorRole/worker'
  const policy = doc({ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111111111111:role/VendorRole' }, Action: 'sts:AssumeRole' })
  t.ok(evaluateTrustPolicy(policy, ['sts:AssumeRole'], { principalArn: session, principalRoleArn: 'arn:aws:iam::111111111111:role/VendorRole', principalAccount: '111111111111', keys: {} }).allowed)
  t.notOk(evaluateTrustPolicy(policy, ['sts:AssumeRole'], request({})).allowed)
})

t.test('malformed policies are refused', async (t) => {
  for (const bad of ['not json', '{}', JSON.stringify(doc({ Effect: 'Maybe', Principal: '*', Action: 'sts:AssumeRole' })), JSON.stringify(doc({ Effect: 'Allow', Action: 'sts:AssumeRole' })), JSON.stringify(doc(allow({ Condition: { StringFuzzy: { 'sts:ExternalId': 'x' } } })))]) {
    t.throws(() => evaluateTrustPolicy(bad, ['sts:AssumeRole'], request({ 'sts:ExternalId': 'x' })), MalformedPolicyError)
  }
})

t.test('differential: agrees with iam-simulate across a grid of trust policies and requests', async (t) => {
  const principals = [VENDOR, 'arn:aws:iam::111111111111:root', '111111111111', '*', 'arn:aws:iam::999999999999:root', 'arn:aws:iam::111111111111:user/other']
  const conditions: Array<Record<string, unknown> | undefined> = [
    undefined,
    { StringEquals: { 'sts:ExternalId': ID } },
    { StringEquals: { 'sts:ExternalId': ['x', ID] } },
    { StringNotEquals: { 'sts:ExternalId': ID } },
    { StringLike: { 'sts:ExternalId': '*' } },
    { StringLike: { 'sts:ExternalId': '6f1c*' } },
    { StringNotLike: { 'sts:ExternalId': 'x*' } },
    { StringEqualsIgnoreCase: { 'sts:ExternalId': ID.toUpperCase() } },
    { StringEqualsIfExists: { 'sts:ExternalId': ID } },
    { Null: { 'sts:ExternalId': 'true' } },
    { Null: { 'sts:ExternalId': 'false' } },
    { StringEquals: { 'sts:ExternalId': ID, 'sts:SourceIdentity': 'deputy.a' } },
    { StringLike: { 'sts:SourceIdentity': 'deputy.*' } },
    { ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::111111111111:user/*' } },
    { ArnEquals: { 'aws:PrincipalArn': VENDOR } },
    { StringEquals: { 'aws:PrincipalAccount': '111111111111' } },
    { StringNotEquals: { 'aws:PrincipalAccount': '111111111111' } }
  ]
  const denies: Array<object | undefined> = [undefined, { Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:AssumeRole', Condition: { Null: { 'sts:ExternalId': 'true' } } }]
  const contexts: Array<Record<string, string>> = [{}, { 'sts:ExternalId': ID }, { 'sts:ExternalId': 'wrong-id' }, { 'sts:ExternalId': ID, 'sts:SourceIdentity': 'deputy.a' }, { 'sts:SourceIdentity': 'other' }]

  let compared = 0
  const disagreements: string[] = []
  for (const principal of principals) {
    for (const condition of conditions) {
      for (const deny of denies) {
        const statements: object[] = [{ Effect: 'Allow', Principal: { AWS: principal }, Action: 'sts:AssumeRole', ...(condition === undefined ? {} : { Condition: condition }) }]
        if (deny !== undefined) statements.push(deny)
        const policy = doc(...statements)
        for (const keys of contexts) {
          const ours = evaluateTrustPolicy(policy, ['sts:AssumeRole'], request(keys)).allowed
          const oracle = await runSimulation({
            identityPolicies: [{ name: 'vendor', policy: doc({ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' }) }],
            serviceControlPolicies: [],
            resourceControlPolicies: [],
            resourcePolicy: policy,
            request: { action: 'sts:AssumeRole', principal: VENDOR, resource: { accountId: '222222222222', resource: ROLE }, contextVariables: { 'aws:PrincipalArn': VENDOR, 'aws:PrincipalAccount': '111111111111', ...keys } }
          }, {})
          if (oracle.resultType === 'error') {
            disagreements.push(`oracle error for ${JSON.stringify(policy)}: ${JSON.stringify(oracle.errors).slice(0, 200)}`)
            continue
          }
          compared++
          const theirs = oracle.overallResult === 'Allowed'
          if (ours !== theirs) disagreements.push(`${JSON.stringify(policy.Statement)} with ${JSON.stringify(keys)}: ours ${ours}, iam-simulate ${theirs}`)
        }
      }
    }
  }
  t.ok(compared >= 1000, `${compared} cases compared`)
  t.same(disagreements, [], 'no disagreement')
})
