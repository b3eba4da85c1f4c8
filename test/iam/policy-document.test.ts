// The IAM grammar check (src/iam/policy-document.ts) that deputy runs on the vendor's permission
// set at start and on every document it generates. The judge is IAM's documented grammar (IAM
// User Guide, "IAM JSON policy element reference" and "IAM and AWS STS quotas"), written out
// here case by case: what IAM accepts must pass, what it refuses must be named, with the message
// the operator reads to fix it.
import t from 'tap'
import { grantsEverything, isConditionOperator, policyDocumentProblems, policyLength, statementsProblems, type IamStatement } from '../../src/iam/policy-document.js'

const ok = { Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }
const identity = (...statements: unknown[]): string[] => statementsProblems(statements, 'identity')
const trust = (...statements: unknown[]): string[] => statementsProblems(statements, 'trust')
const trusting = { Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { AWS: 'arn:aws:iam::111111111111:root' } }

// "IAM JSON policy elements: Condition operators".
const DOCUMENTED_OPERATORS = [
  'StringEquals', 'StringNotEquals', 'StringEqualsIgnoreCase', 'StringNotEqualsIgnoreCase', 'StringLike', 'StringNotLike',
  'NumericEquals', 'NumericNotEquals', 'NumericLessThan', 'NumericLessThanEquals', 'NumericGreaterThan', 'NumericGreaterThanEquals',
  'DateEquals', 'DateNotEquals', 'DateLessThan', 'DateLessThanEquals', 'DateGreaterThan', 'DateGreaterThanEquals',
  'Bool', 'BinaryEquals', 'IpAddress', 'NotIpAddress', 'ArnEquals', 'ArnLike', 'ArnNotEquals', 'ArnNotLike'
]

t.test('every documented condition operator passes, with IfExists and with a set prefix', async (t) => {
  for (const name of DOCUMENTED_OPERATORS) {
    for (const variant of [name, `${name}IfExists`, `ForAnyValue:${name}`, `ForAllValues:${name}IfExists`]) {
      t.ok(isConditionOperator(variant), variant)
      t.same(identity({ ...ok, Condition: { [variant]: { 'aws:x': 'y' } } }), [], `${variant} in a statement`)
    }
  }
  t.ok(isConditionOperator('Null'))
  t.ok(isConditionOperator('ForAnyValue:Null'))
})

t.test('what is not a condition operator is named', async (t) => {
  for (const name of ['NullIfExists', 'StringEqual', 'stringequals', 'IfExists', '', 'ForSomeValue:StringEquals', 'ForAnyValue', 'StringEqualsIfExistsIfExists', 'String', 'Equals']) {
    t.notOk(isConditionOperator(name), JSON.stringify(name))
  }
  t.same(identity({ ...ok, Condition: { StringEqual: { 'aws:x': 'y' } } }), ['statement 0: "StringEqual" is not an IAM condition operator'])
})

t.test('actions: "service:Action" with * and ?, or "*"', async (t) => {
  for (const action of ['*', 's3:GetObject', 's3:*', 'ec2-instance-connect:SendSSHPublicKey', 'S3:Get?bject', 'iam:*Role*', 'a1:B2', '*:*']) {
    t.same(identity({ ...ok, Action: action }), [], `${action} passes`)
  }
  for (const action of ['', 's3', 's3:', ':GetObject', 's3:Get Object', ' s3:GetObject', 's3:GetObject ', 's3:Get:Object', 's3:Get-Object', 's_3:GetObject', '**x', 'xs3:GetObject*:']) {
    t.same(identity({ ...ok, Action: action }), [`statement 0: Action ${JSON.stringify(action)} is not an action ("service:Action", wildcards * and ? allowed, or "*")`], `${JSON.stringify(action)} is refused`)
  }
  t.same(identity({ ...ok, Action: ['s3:GetObject', 's3 PutObject', 7] }), ['statement 0: Action "s3 PutObject" is not an action ("service:Action", wildcards * and ? allowed, or "*")'], 'the first bad entry of a list is named')
  t.same(identity({ ...ok, Action: [7] }), ['statement 0: Action 7 is not an action ("service:Action", wildcards * and ? allowed, or "*")'], 'a number is not an action')
  t.same(identity({ Effect: 'Allow', NotAction: [], Resource: '*' }), ['statement 0: NotAction is an empty list'])
})

t.test('resources: "*" or an ARN of six parts, the last not empty', async (t) => {
  for (const resource of ['*', 'arn:aws:s3:::bucket', 'arn:aws:s3:::bucket/a:b:c', 'arn:aws-cn:iam::111111111111:role/x', 'arn:*:*:*:*:*']) {
    t.same(identity({ ...ok, Resource: resource }), [], `${resource} passes`)
  }
  for (const resource of ['', 'bucket/*', 'arn:aws:s3:::', 'arn:aws:s3::bucket', 'xarn:aws:s3:::bucket', ' arn:aws:s3:::b', '**', 'arn:aws']) {
    t.same(identity({ ...ok, Resource: resource }), [`statement 0: Resource ${JSON.stringify(resource)} is not a resource ("*" or an ARN)`], `${JSON.stringify(resource)} is refused`)
  }
  t.same(identity({ Effect: 'Allow', Action: '*', NotResource: 'bucket' }), ['statement 0: NotResource "bucket" is not a resource ("*" or an ARN)'])
})

t.test('Sid: letters and digits only, unique within the policy', async (t) => {
  for (const sid of ['', 'A', 'ReadOnly2', 'abcXYZ0189']) t.same(identity({ ...ok, Sid: sid }), [], `Sid ${JSON.stringify(sid)} passes`)
  for (const sid of ['a-b', 'a b', 'a_b', 'ä', 'x.']) t.same(identity({ ...ok, Sid: sid }), [`statement 0: Sid ${JSON.stringify(sid)} may hold only letters and digits`], `Sid ${JSON.stringify(sid)}`)
  t.same(identity({ ...ok, Sid: 12 }), ['statement 0: Sid 12 may hold only letters and digits'], 'a Sid is a string')
  t.same(identity({ ...ok, Sid: 'A' }, { ...ok, Sid: 'B' }, { ...ok, Sid: 'A' }), ['Sid "A" is used twice; Sids must be unique within a policy'])
  t.same(identity({ ...ok, Sid: '' }, { ...ok, Sid: '' }), [], 'empty Sids are not names, so they may repeat')
  t.same(identity('x', { ...ok, Sid: 'A' }), ['statement 0 is not an object'], 'a statement that is not an object has no Sid to compare')
})

t.test('Effect, and exactly one of each pair of elements', async (t) => {
  t.same(identity({ ...ok, Effect: 'allow' }), ['statement 0: Effect must be "Allow" or "Deny", got "allow"'])
  t.same(identity({ Action: '*', Resource: '*' }), ['statement 0: Effect must be "Allow" or "Deny", got undefined'], 'a missing Effect')
  t.same(identity({ ...ok, Effect: 'Deny' }), [])
  t.same(identity({ Effect: 'Allow', Resource: '*' }), ['statement 0 needs exactly one of Action or NotAction'])
  t.same(identity({ ...ok, NotAction: 's3:*' }), ['statement 0 needs exactly one of Action or NotAction'])
  t.same(identity({ Effect: 'Allow', Action: '*' }), ['statement 0 needs exactly one of Resource or NotResource'])
  t.same(identity({ ...ok, NotResource: 'arn:aws:s3:::b' }), ['statement 0 needs exactly one of Resource or NotResource'])
  t.same(trust({ Effect: 'Allow', Action: 'sts:AssumeRole' }), ['statement 0 needs exactly one of Principal or NotPrincipal'])
  t.same(trust({ ...trusting, NotPrincipal: '*' }), ['statement 0 needs exactly one of Principal or NotPrincipal'])
  t.same(trust({ Effect: 'Deny', Action: 'sts:AssumeRole', NotPrincipal: { AWS: 'arn:aws:iam::111111111111:root' } }), [], 'NotPrincipal alone')
})

t.test('the elements each kind of statement may have', async (t) => {
  t.same(identity({ ...ok, Principal: '*', Foo: 1 }), ['statement 0 has elements an identity policy statement cannot have: "Principal", "Foo" (allowed: Sid, Effect, Action, NotAction, Resource, NotResource, Condition)'])
  t.same(trust({ ...trusting, Resource: '*' }), ['statement 0 has elements a trust policy statement cannot have: "Resource" (allowed: Sid, Effect, Principal, NotPrincipal, Action, NotAction, Condition)'])
  t.same(trust({ ...trusting, Sid: 'Vendor', Condition: { StringEquals: { 'sts:ExternalId': 'x' } } }), [], 'Sid and Condition in a trust statement')
})

t.test('principals: "*" or a non-empty object of AWS, Service, Federated or CanonicalUser', async (t) => {
  for (const principal of ['*', { AWS: '*' }, { Service: 'ec2.amazonaws.com' }, { Federated: 'cognito-identity.amazonaws.com' }, { CanonicalUser: '79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be' }, { AWS: ['111111111111', 'arn:aws:iam::111111111111:user/a'] }]) {
    t.same(trust({ ...trusting, Principal: principal }), [], JSON.stringify(principal))
  }
  t.same(trust({ ...trusting, Principal: {} }), ['statement 0: Principal must be "*" or an object such as {"AWS": "<ARN>"}'])
  t.same(trust({ ...trusting, Principal: ['*'] }), ['statement 0: Principal must be "*" or an object such as {"AWS": "<ARN>"}'], 'a list is not an object')
  t.same(trust({ ...trusting, Principal: { Group: 'x' } }), ['statement 0: Principal type "Group" is not AWS, Service, Federated or CanonicalUser'])
  t.same(trust({ ...trusting, Principal: { AWS: 'arn:aws:iam::1:user/a b' } }), ['statement 0: Principal AWS "arn:aws:iam::1:user/a b" is not a principal'])
  t.same(trust({ ...trusting, Principal: { AWS: [] } }), ['statement 0: Principal AWS is an empty list'])
  t.same(trust({ ...trusting, Principal: { AWS: 111111111111 } }), ['statement 0: Principal AWS 111111111111 is not a principal'], 'an account number must be a string')
  t.same(trust({ Effect: 'Deny', Action: 'sts:AssumeRole', NotPrincipal: { AWS: '' } }), ['statement 0: NotPrincipal AWS "" is not a principal'])
})

t.test('conditions: operators of keys of strings, numbers or booleans', async (t) => {
  const condition = (c: unknown): string[] => identity({ ...ok, Condition: c })
  t.same(condition({ Bool: { 'aws:SecureTransport': true }, NumericLessThan: { 's3:max-keys': 10 }, StringEquals: { 'aws:x': ['a', 'b'] } }), [])
  t.same(condition(['StringEquals']), ['statement 0: Condition must be an object of operators'], 'a list is not an object of operators')
  t.same(condition({ StringEquals: [] }), ['statement 0: Condition StringEquals must be an object of condition keys'])
  t.same(condition({ StringEquals: 'aws:x' }), ['statement 0: Condition StringEquals must be an object of condition keys'])
  t.same(condition({ Nope: {} }), ['statement 0: "Nope" is not an IAM condition operator', 'statement 0: Condition Nope must be an object of condition keys'], 'both problems of one operator are named')
  t.same(condition({ StringEquals: { 'aws:x': null } }), ['statement 0: condition StringEquals aws:x values must be strings, numbers or booleans'])
  t.same(condition({ StringEquals: { 'aws:x': ['a', ['b']] } }), ['statement 0: condition StringEquals aws:x values must be strings, numbers or booleans'])
  t.same(condition({ StringEquals: { 'aws:x': [] } }), ['statement 0: condition StringEquals aws:x has an empty list of values'])
  // Condition keys: printable ASCII without spaces, up to 256 characters.
  for (const key of ['!', '~', 'aws:PrincipalTag/team', `a${'k'.repeat(255)}`]) t.same(condition({ StringEquals: { [key]: 'v' } }), [], `key of ${key.length} characters passes`)
  for (const key of ['', 'a key', 'clé', `a${'k'.repeat(256)}`, 'tab\tkey']) {
    t.same(condition({ StringEquals: { [key]: 'v' } }), [`statement 0: condition key ${JSON.stringify(key).slice(0, 80)} is not valid`], `key ${JSON.stringify(key).slice(0, 20)} (${key.length} characters) is refused`)
  }
})

t.test('whole documents: an object of Version, Id and Statement', async (t) => {
  t.same(policyDocumentProblems({ Version: '2012-10-17', Id: 'doc', Statement: [ok] }, 'identity'), [], 'Id is allowed')
  t.same(policyDocumentProblems([ok], 'identity'), ['a policy document must be a JSON object'], 'a list is not a document')
  t.same(policyDocumentProblems(null, 'identity'), ['a policy document must be a JSON object'])
  t.same(policyDocumentProblems({ Statement: [ok] }, 'identity'), ['Version must be "2012-10-17" (policy variables need it), got undefined'])
  t.same(policyDocumentProblems({ Version: '2012-10-17', Statement: [ok], Extra: 1, Other: 2 }, 'trust'), [
    'a policy document has only Version, Id and Statement, not "Extra", "Other"',
    'statement 0 has elements a trust policy statement cannot have: "Resource" (allowed: Sid, Effect, Principal, NotPrincipal, Action, NotAction, Condition)',
    'statement 0 needs exactly one of Principal or NotPrincipal'
  ], 'every problem, document first, in order')
  t.same(policyDocumentProblems({ Version: '2012-10-17' }, 'identity'), ['Statement must be a non-empty list of statements'])
  t.same(policyDocumentProblems({ Version: '2012-10-17', Statement: 'x' }, 'identity'), ['Statement must be a non-empty list of statements'])
  t.same(identity(ok, { ...ok, Effect: 'x' }), ['statement 1: Effect must be "Allow" or "Deny", got "x"'], 'statements are numbered from 0')
  t.same(policyDocumentProblems({ Version: 'x'.repeat(200), Statement: [ok] }, 'identity'), [`Version must be "2012-10-17" (policy variables need it), got "${'x'.repeat(79)}`], 'a long value is cut to 80 characters')
})

t.test('policyLength counts the minified document, as IAM\'s size quotas do', async (t) => {
  t.equal(policyLength({ Version: '2012-10-17', Statement: [ok] }), '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}'.length)
})

t.test('grantsEverything: an Allow of every action on every resource (AdministratorAccess), however spelt', async (t) => {
  const everything: IamStatement[] = [
    { Effect: 'Allow', Action: '*', Resource: '*' },
    { Effect: 'Allow', Action: '*:*', Resource: 'arn:*:*:*:*:*' },
    { Effect: 'Allow', Action: ['s3:GetObject', '?*:*'], Resource: ['arn:aws:s3:::b', 'arn:aws:*'] },
    { Effect: 'Allow', Action: '*', Resource: 'arn:aws-cn:*:*:*:*' },
    { Effect: 'Allow', Action: '*', Resource: 'arn:aws-us-gov:*' },
    { Effect: 'Allow', NotAction: 'iam:*', Resource: '*' },
    { Effect: 'Allow', Action: '*', NotResource: 'arn:aws:s3:::b' },
    { Effect: 'Allow', Action: '*', Resource: '*', Condition: { Bool: { 'aws:MultiFactorAuthPresent': true } } }
  ]
  for (const statement of everything) t.ok(grantsEverything(statement), JSON.stringify(statement))
  const less: IamStatement[] = [
    { Effect: 'Deny', Action: '*', Resource: '*' },
    { Effect: 'Allow', Action: 's3:*', Resource: '*' },
    { Effect: 'Allow', Action: '*', Resource: 'arn:aws:s3:::*' },
    { Effect: 'Allow', Action: 'iam:*', Resource: 'arn:aws:*' },
    { Effect: 'Allow', Action: '*', Resource: 'arn:aws:*:*:*:role/*' },
    { Effect: 'Allow', Action: '*' },
    { Effect: 'Allow', Resource: '*' },
    { Effect: 'Allow', Action: '*.*', Resource: '*' },
    { Effect: 'Allow', Action: '*', Resource: 'arn.aws.*' }
  ]
  for (const statement of less) t.notOk(grantsEverything(statement), JSON.stringify(statement))
})
