// Edges of the trust-policy evaluator (the STS emulator's AssumeRole and the static proof's
// judge), each as IAM documents it: how principals name an account, how ARN, date and numeric
// operators read values that are not of their type ("undefined never satisfies an operator,
// negated or not"), NotAction, wildcards over any character, and the decisions and errors a
// caller reads.
import t from 'tap'
import { evaluateCondition, evaluateTrustPolicy, MalformedPolicyError, parseTrustPolicy } from '../../src/iam/trust-policy-evaluator.js'

const ACCOUNT = '111111111111'
const USER = `arn:aws:iam::${ACCOUNT}:user/deputy`
const doc = (...Statement: object[]): object => ({ Version: '2012-10-17', Statement })
const decide = (policy: object, actions = ['sts:AssumeRole'], arn = USER) => evaluateTrustPolicy(policy, actions, { principalArn: arn, principalAccount: ACCOUNT, keys: {} })
const holds = (condition: Record<string, Record<string, string | string[]>>, keys: Record<string, string>): boolean => evaluateCondition(condition, keys)

t.test('principals: an account by its 12 digits or its root ARN, exactly', async (t) => {
  const trusts = (aws: string, arn = USER): boolean => decide(doc({ Effect: 'Allow', Principal: { AWS: aws }, Action: 'sts:AssumeRole' }), ['sts:AssumeRole'], arn).allowed
  t.ok(trusts(ACCOUNT), 'the account id')
  t.notOk(trusts('999999999999'), 'another account id')
  t.ok(trusts(`arn:aws:iam::${ACCOUNT}:root`), 'the account root')
  t.notOk(trusts(`xarn:aws:iam::${ACCOUNT}:root`), 'not a root ARN (a prefix)')
  t.notOk(trusts(`arn:aws:iam::${ACCOUNT}:rootx`), 'not a root ARN (a suffix)')
  const digits = `arn:aws:iam::${ACCOUNT}:user/222222222222`
  t.ok(trusts(digits, digits), 'a user whose name is 12 digits, by its ARN')
})

t.test('ARN operators compare six components; a value that is not an ARN satisfies none', async (t) => {
  t.ok(holds({ ArnLike: { 'aws:SourceArn': 'arn:aws:logs:us-east-1:111111111111:log-group:app:*' } }, { 'aws:SourceArn': 'arn:aws:logs:us-east-1:111111111111:log-group:app:log-stream:x' }), 'colons inside the resource part')
  t.notOk(holds({ ArnLike: { 'aws:SourceArn': 'arn:aws:logs:us-east-1:111111111111:log-group:app:*' } }, { 'aws:SourceArn': 'arn:aws:logs:us-east-1:111111111111:log-group:other:x' }))
  t.notOk(holds({ ArnLike: { 'aws:SourceArn': 'arn:aws:logs:us-east-1:111111111111:log-group:app*' } }, { 'aws:SourceArn': 'arn:aws:logs:us-east-1:111111111111:log-groupa:pp' }), 'the colons inside the resource part count')
  t.notOk(holds({ ArnLike: { 'aws:SourceArn': 'arn:aws:s3:::*' } }, { 'aws:SourceArn': 'arn:aws:s3' }), 'fewer than six components')
  t.notOk(holds({ ArnNotLike: { 'aws:SourceArn': 'arn:aws:s3:::b' } }, { 'aws:SourceArn': 'arn:aws:s3' }), 'negated: fewer than six components is no ARN either')
  t.notOk(holds({ ArnNotLike: { 'aws:SourceArn': 'arn:aws:s3:::b' } }, { 'aws:SourceArn': 'xrn:aws:s3:::c' }), 'negated: a value that does not start with arn:')
})

t.test('numbers and dates in the forms IAM reads; anything else satisfies no operator', async (t) => {
  const equal: Array<[string, string]> = [['5', '+5'], ['-5', '-5'], ['1.25', '1.25'], ['0.25', '.25'], ['2', '2.']]
  for (const [wanted, actual] of equal) t.ok(holds({ NumericEquals: { 's3:max-keys': wanted } }, { 's3:max-keys': actual }), `${actual} = ${wanted}`)
  for (const actual of ['x5', '5x', '5e3', '', '1.2.3']) t.notOk(holds({ NumericNotEquals: { 's3:max-keys': '7' } }, { 's3:max-keys': actual }), `NumericNotEquals does not hold for ${JSON.stringify(actual)}`)
  t.ok(holds({ DateEquals: { 'aws:CurrentTime': '2026-01-01T00:00:00Z' } }, { 'aws:CurrentTime': '2026-01-01T01:00:00+01:00' }), 'a time zone offset')
  t.ok(holds({ DateEquals: { 'aws:CurrentTime': '2026-01-01T00:00:00.125Z' } }, { 'aws:CurrentTime': '2026-01-01T00:00:00.125Z' }), 'milliseconds')
  t.ok(holds({ DateEquals: { 'aws:CurrentTime': '2026-01-01T00:00Z' } }, { 'aws:CurrentTime': '2026-01-01T00:00:00Z' }), 'minutes only')
  t.ok(holds({ DateLessThan: { 'aws:CurrentTime': '2026-02' } }, { 'aws:CurrentTime': '2026-01-31T22:00:00-01:00' }), 'a month, and a negative offset')
  for (const actual of ['x2026-01-01', '2026-01-01x', '2026-01-01T00:00:00', '2026-01-01T00:00:00.Z', '2026-01-01T00:00:00.5+0100']) {
    t.notOk(holds({ DateNotEquals: { 'aws:CurrentTime': '2030-01-01' } }, { 'aws:CurrentTime': actual }), `DateNotEquals does not hold for ${actual}`)
  }
})

t.test('wildcards match any character, and other characters only themselves', async (t) => {
  t.ok(holds({ StringLike: { 'aws:x': 'a*b' } }, { 'aws:x': 'a\nb' }), '* spans a newline')
  t.ok(holds({ StringLike: { 'aws:x': 'a?b' } }, { 'aws:x': 'a\nb' }), '? is a newline too')
  t.ok(holds({ StringLike: { 'aws:x': 'a.b+c' } }, { 'aws:x': 'a.b+c' }))
  t.notOk(holds({ StringLike: { 'aws:x': 'a.b+c' } }, { 'aws:x': 'aXbbc' }), '. and + are literal')
})

t.test('actions: case-insensitive, and NotAction allows every other action', async (t) => {
  const principal = { AWS: USER }
  t.ok(decide(doc({ Effect: 'Allow', Principal: principal, Action: 'STS:ASSUMEROLE' })).allowed, 'Action in capitals')
  t.ok(decide(doc({ Effect: 'Allow', Principal: principal, NotAction: 'sts:TagSession' })).allowed, 'NotAction of another action')
  t.same(decide(doc({ Effect: 'Allow', Principal: principal, NotAction: ['iam:*', 'STS:assumerole'] })), { allowed: false, reason: 'implicit_deny', action: 'sts:AssumeRole' }, 'NotAction naming it (in another case) among others')
  t.same(decide(doc({ Effect: 'Allow', Principal: principal, Action: '*' }, { Effect: 'Deny', Principal: principal, NotAction: 'sts:AssumeRole' }), ['sts:AssumeRole', 'sts:TagSession']), { allowed: false, reason: 'explicit_deny', action: 'sts:TagSession' }, 'a Deny by NotAction, naming the action it refused')
  t.same(decide(doc({ Effect: 'Allow', Principal: principal, Action: 'sts:*' })), { allowed: true, reason: 'allowed' })
})

t.test('malformed trust policies are refused with what is wrong', async (t) => {
  const refused = (policy: object | string, message: string): void => { t.throws(() => parseTrustPolicy(policy), new MalformedPolicyError(message), message) }
  refused('{', 'the trust policy is not valid JSON')
  refused({ Version: '2012-10-17' }, 'the trust policy has no Statement')
  refused(doc({ Effect: 'allow', Principal: '*', Action: '*' }), 'every statement needs Effect Allow or Deny')
  refused(doc({ Effect: 'Allow', Action: '*' }), 'a trust policy statement needs exactly one of Principal or NotPrincipal')
  refused(doc({ Effect: 'Allow', Principal: '*', Action: '*', NotAction: 'iam:*' }), 'every statement needs exactly one of Action or NotAction')
  refused(doc({ Effect: 'Allow', Principal: '*' }), 'every statement needs exactly one of Action or NotAction')
  t.equal(parseTrustPolicy({ Statement: { Effect: 'Allow', Principal: '*', Action: '*' } }).length, 1, 'a single statement object')
  t.throws(() => holds({ 'Foo:StringEquals': { 'aws:x': 'y' } }, {}), new MalformedPolicyError('unsupported condition operator Foo:StringEquals'))
  t.throws(() => holds({ StringEqualz: { 'aws:x': 'y' } }, { 'aws:x': 'y' }), new MalformedPolicyError('unsupported condition operator StringEqualz'))
})
