// deputy's trust-policy evaluator (product code: the emulator and the sandbox use it).
// 1. Tables of cases with the answers IAM gives, as documented.
// 2. Differential testing against @cloud-copilot/iam-simulate, an independent evaluator with
//    real IAM semantics. It is AGPL-3.0, so it is a devDependency used only here as an oracle,
//    never shipped (test/licenses.test.ts guards what ships). Where the oracle contradicts IAM's
//    documentation, the combinations are set aside by a rule on their inputs (ORACLE_ERRATA),
//    counted and reported, never silently dropped.
import { runSimulation } from '@cloud-copilot/iam-simulate'
import t from 'tap'
import { evaluateTrustPolicy, MalformedPolicyError, OPERATORS, type RequestContext } from '../../src/iam/trust-policy-evaluator.js'

const VENDOR = 'arn:aws:iam::111111111111:user/deputy'
const VENDOR_ROLE = 'arn:aws:iam::111111111111:role/VendorRole'
const SESSION = 'arn:aws:sts::111111111111:assumed-role/VendorRole/worker'
const ROLE = 'arn:aws:iam::222222222222:role/DeputyAccess'
const ID = '6f1c9a2e-1b7d-4c3f-9a55-2d1e8b7c4a10'

type Tap = Pick<typeof t, 'equal' | 'ok' | 'same' | 'comment'>
type Keys = Record<string, string | string[] | undefined>
interface Caller { arn: string, roleArn?: string, account: string }
const USER: Caller = { arn: VENDOR, account: '111111111111' }
/** A session of the vendor's role: aws:PrincipalArn is the role's ARN, not the session's. */
const ROLE_SESSION: Caller = { arn: SESSION, roleArn: VENDOR_ROLE, account: '111111111111' }

const callerKeys = (caller: Caller): Keys => ({ 'aws:PrincipalArn': caller.roleArn ?? caller.arn, 'aws:PrincipalAccount': caller.account })
const request = (keys: Keys, caller: Caller = USER): RequestContext => ({
  principalArn: caller.arn,
  principalRoleArn: caller.roleArn,
  principalAccount: caller.account,
  keys: { ...callerKeys(caller), ...keys }
})
const allow = (extra: Record<string, unknown> = {}) => ({ Effect: 'Allow', Principal: { AWS: VENDOR }, Action: 'sts:AssumeRole', ...extra })
const doc = (...Statement: object[]) => ({ Version: '2012-10-17', Statement })
/** A trust policy that trusts anyone for whom `Condition` holds. */
const when = (Condition: Record<string, unknown>) => doc({ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'sts:AssumeRole', Condition })
const allows = (policy: object, keys: Keys, caller: Caller = USER): boolean => evaluateTrustPolicy(policy, ['sts:AssumeRole'], request(keys, caller)).allowed

type ConditionCase = [name: string, condition: Record<string, unknown>, keys: Keys, expected: boolean]
function checkConditions (t: Tap, cases: ConditionCase[]): void {
  for (const [name, condition, keys, expected] of cases) t.equal(allows(when(condition), keys), expected, name)
}

t.test('IAM semantics, case by case', async (t) => {
  const cases: Array<[string, object, Record<string, string | undefined>, boolean]> = [
    ['no condition, no ID', doc(allow()), {}, true],
    ['StringEquals, right ID', doc(allow({ Condition: { StringEquals: { 'sts:ExternalId': ID } } })), { 'sts:ExternalId': ID }, true],
    ['StringEquals, no ID', doc(allow({ Condition: { StringEquals: { 'sts:ExternalId': ID } } })), {}, false],
    ['StringEquals, wrong ID', doc(allow({ Condition: { StringEquals: { 'sts:ExternalId': ID } } })), { 'sts:ExternalId': 'other' }, false],
    ['StringEquals is case-sensitive', doc(allow({ Condition: { StringEquals: { 'sts:ExternalId': 'ABC' } } })), { 'sts:ExternalId': 'abc' }, false],
    // An ID that extends, starts, ends or contains another is a different ID (mutation check, issue 17).
    ['StringEquals <id>x refuses <id>', doc(allow({ Condition: { StringEquals: { 'sts:ExternalId': `${ID}x` } } })), { 'sts:ExternalId': ID }, false],
    ['StringEquals <id> refuses <id>x', doc(allow({ Condition: { StringEquals: { 'sts:ExternalId': ID } } })), { 'sts:ExternalId': `${ID}x` }, false],
    ['StringEquals x<id> refuses <id>', doc(allow({ Condition: { StringEquals: { 'sts:ExternalId': `x${ID}` } } })), { 'sts:ExternalId': ID }, false],
    ['StringEquals <id> refuses x<id>', doc(allow({ Condition: { StringEquals: { 'sts:ExternalId': ID } } })), { 'sts:ExternalId': `x${ID}` }, false],
    ['StringEquals <id> refuses its prefix', doc(allow({ Condition: { StringEquals: { 'sts:ExternalId': ID } } })), { 'sts:ExternalId': ID.slice(0, -1) }, false],
    ['StringEquals <id> refuses <ID> in capitals', doc(allow({ Condition: { StringEquals: { 'sts:ExternalId': ID } } })), { 'sts:ExternalId': ID.toUpperCase() }, false],
    ['StringEqualsIgnoreCase <id> refuses <id>x', doc(allow({ Condition: { StringEqualsIgnoreCase: { 'sts:ExternalId': ID } } })), { 'sts:ExternalId': `${ID}x` }, false],
    ['StringLike <id> (no wildcard) refuses <id>x', doc(allow({ Condition: { StringLike: { 'sts:ExternalId': ID } } })), { 'sts:ExternalId': `${ID}x` }, false],
    ['StringNotEquals <id>x holds for <id>', doc(allow({ Condition: { StringNotEquals: { 'sts:ExternalId': `${ID}x` } } })), { 'sts:ExternalId': ID }, true],
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

t.test('set operators: ForAnyValue over a missing key is false whatever the operator, ForAllValues is true', async (t) => {
  // IAM User Guide, "Single-valued vs. multivalued context keys": ForAnyValue "for no matching
  // context key or a null dataset, the condition returns false"; ForAllValues "also returns true
  // if there are no context keys in the request". IfExists does not change either (re:Post,
  // "ForAnyValue:StringEqualsIfExists behaving unexpectedly").
  const missing = {}
  checkConditions(t, [
    ['ForAnyValue:StringEquals, key missing', { 'ForAnyValue:StringEquals': { 'sts:TransitiveTagKeys': 'team' } }, missing, false],
    ['ForAnyValue:StringNotEquals, key missing', { 'ForAnyValue:StringNotEquals': { 'sts:TransitiveTagKeys': 'team' } }, missing, false],
    ['ForAnyValue:StringNotEquals on a single-valued key, key missing', { 'ForAnyValue:StringNotEquals': { 'sts:ExternalId': ID } }, missing, false],
    ['ForAnyValue:StringNotLike, key missing', { 'ForAnyValue:StringNotLike': { 'sts:TransitiveTagKeys': 'team*' } }, missing, false],
    ['ForAnyValue:StringNotEqualsIgnoreCase, key missing', { 'ForAnyValue:StringNotEqualsIgnoreCase': { 'sts:TransitiveTagKeys': 'TEAM' } }, missing, false],
    ['ForAnyValue:ArnNotEquals, key missing', { 'ForAnyValue:ArnNotEquals': { 'aws:SourceArn': VENDOR_ROLE } }, missing, false],
    ['ForAnyValue:ArnNotLike, key missing', { 'ForAnyValue:ArnNotLike': { 'aws:SourceArn': 'arn:aws:iam::*:role/*' } }, missing, false],
    ['ForAnyValue:DateNotEquals, key missing', { 'ForAnyValue:DateNotEquals': { 'aws:TokenIssueTime': '2030-01-01T00:00:00Z' } }, missing, false],
    ['ForAnyValue:NumericNotEquals, key missing', { 'ForAnyValue:NumericNotEquals': { 'aws:MultiFactorAuthAge': '300' } }, missing, false],
    ['ForAnyValue:StringEqualsIfExists, key missing', { 'ForAnyValue:StringEqualsIfExists': { 'sts:TransitiveTagKeys': 'team' } }, missing, false],
    ['ForAnyValue:StringNotEqualsIfExists, key missing', { 'ForAnyValue:StringNotEqualsIfExists': { 'sts:TransitiveTagKeys': 'team' } }, missing, false],
    ['ForAllValues:StringEquals, key missing', { 'ForAllValues:StringEquals': { 'sts:TransitiveTagKeys': 'team' } }, missing, true],
    ['ForAllValues:StringNotEquals, key missing', { 'ForAllValues:StringNotEquals': { 'sts:TransitiveTagKeys': 'team' } }, missing, true],
    ['ForAllValues:ArnNotLike, key missing', { 'ForAllValues:ArnNotLike': { 'aws:SourceArn': 'arn:aws:iam::*:role/*' } }, missing, true],
    ['ForAnyValue:StringEquals, one value matches', { 'ForAnyValue:StringEquals': { 'sts:TransitiveTagKeys': ['team', 'cost-center'] } }, { 'sts:TransitiveTagKeys': ['project', 'team'] }, true],
    ['ForAnyValue:StringEquals, none matches', { 'ForAnyValue:StringEquals': { 'sts:TransitiveTagKeys': ['team', 'cost-center'] } }, { 'sts:TransitiveTagKeys': ['project'] }, false],
    ['ForAnyValue:StringNotEquals, one value differs from every policy value', { 'ForAnyValue:StringNotEquals': { 'sts:TransitiveTagKeys': 'team' } }, { 'sts:TransitiveTagKeys': ['team', 'project'] }, true],
    ['ForAnyValue:StringNotEquals, every value is a policy value', { 'ForAnyValue:StringNotEquals': { 'sts:TransitiveTagKeys': ['team', 'project'] } }, { 'sts:TransitiveTagKeys': ['team', 'project'] }, false],
    ['ForAllValues:StringEquals, every value allowed', { 'ForAllValues:StringEquals': { 'sts:TransitiveTagKeys': ['team', 'project'] } }, { 'sts:TransitiveTagKeys': ['team', 'project'] }, true],
    ['ForAllValues:StringEquals, one value not allowed', { 'ForAllValues:StringEquals': { 'sts:TransitiveTagKeys': 'team' } }, { 'sts:TransitiveTagKeys': ['team', 'project'] }, false],
    ['ForAllValues:StringNotLike, no value like the pattern', { 'ForAllValues:StringNotLike': { 'aws:TagKeys': 'key1*' } }, { 'aws:TagKeys': ['key2:audit'] }, true],
    ['ForAllValues:StringNotLike, one value like the pattern', { 'ForAllValues:StringNotLike': { 'aws:TagKeys': 'key1*' } }, { 'aws:TagKeys': ['key1:hr', 'key2:audit'] }, false],
    ['a set operator on a single-valued key treats it as a set of one', { 'ForAnyValue:StringEquals': { 'sts:ExternalId': ID } }, { 'sts:ExternalId': ID }, true],
    // deputy's choice, IAM does not document it: an empty list is an absent key.
    ['an empty list counts as a missing key', { 'ForAnyValue:StringNotEquals': { 'sts:TransitiveTagKeys': 'team' } }, { 'sts:TransitiveTagKeys': [] }, false],
    ['Null true on an empty list', { Null: { 'sts:TransitiveTagKeys': 'true' } }, { 'sts:TransitiveTagKeys': [] }, true]
  ])
})

t.test('a single-valued operator on a multivalued key does not match', async (t) => {
  // IAM User Guide, "Single-valued vs. multivalued context keys": "Multivalued context keys
  // require a condition set operator."
  const tags = { 'sts:TransitiveTagKeys': ['team'] }
  checkConditions(t, [
    ['StringEquals', { StringEquals: { 'sts:TransitiveTagKeys': 'team' } }, tags, false],
    ['StringNotEquals', { StringNotEquals: { 'sts:TransitiveTagKeys': 'other' } }, tags, false],
    ['StringEqualsIfExists', { StringEqualsIfExists: { 'sts:TransitiveTagKeys': 'team' } }, tags, false],
    ['Null false still sees the key', { Null: { 'sts:TransitiveTagKeys': 'false' } }, tags, true]
  ])
})

t.test('negated operators and ...IfExists on a missing key hold', async (t) => {
  // IAM User Guide, condition operators: a missing key makes the condition false, except that a
  // negated operator ("such as StringNotLike or ArnNotLike") is then true, and ...IfExists is true.
  const missing = {}
  checkConditions(t, [
    ['StringNotEquals', { StringNotEquals: { 'sts:ExternalId': ID } }, missing, true],
    ['StringNotLike', { StringNotLike: { 'sts:ExternalId': '6f1c*' } }, missing, true],
    ['ArnNotLike', { ArnNotLike: { 'aws:SourceArn': 'arn:aws:iam::*:role/*' } }, missing, true],
    ['DateNotEquals', { DateNotEquals: { 'aws:TokenIssueTime': '2030-01-01T00:00:00Z' } }, missing, true],
    ['NumericNotEquals', { NumericNotEquals: { 'aws:MultiFactorAuthAge': '300' } }, missing, true],
    ['StringNotEqualsIfExists', { StringNotEqualsIfExists: { 'sts:ExternalId': ID } }, missing, true],
    ['StringNotLikeIfExists', { StringNotLikeIfExists: { 'sts:ExternalId': '6f1c*' } }, missing, true],
    ['ArnNotEqualsIfExists', { ArnNotEqualsIfExists: { 'aws:SourceArn': VENDOR_ROLE } }, missing, true],
    ['ArnNotLikeIfExists', { ArnNotLikeIfExists: { 'aws:SourceArn': 'arn:aws:iam::*:role/*' } }, missing, true],
    ['DateNotEqualsIfExists', { DateNotEqualsIfExists: { 'aws:TokenIssueTime': '2030-01-01T00:00:00Z' } }, missing, true],
    ['BoolIfExists', { BoolIfExists: { 'aws:MultiFactorAuthPresent': 'true' } }, missing, true],
    ['DateLessThanIfExists', { DateLessThanIfExists: { 'aws:TokenIssueTime': '2030-01-01T00:00:00Z' } }, missing, true],
    ['NumericLessThanIfExists', { NumericLessThanIfExists: { 'aws:MultiFactorAuthAge': '3600' } }, missing, true],
    ['StringNotEqualsIfExists, key present and equal', { StringNotEqualsIfExists: { 'sts:ExternalId': ID } }, { 'sts:ExternalId': ID }, false],
    ['StringNotEqualsIfExists, key present and different', { StringNotEqualsIfExists: { 'sts:ExternalId': ID } }, { 'sts:ExternalId': 'other' }, true],
    ['StringNotEquals with several values: must differ from all', { StringNotEquals: { 'sts:ExternalId': ['x', ID] } }, { 'sts:ExternalId': ID }, false],
    ['Null with both true and false always holds', { Null: { 'sts:ExternalId': ['true', 'false'] } }, { 'sts:ExternalId': ID }, true]
  ])
})

t.test('ArnLike/ArnEquals compare the six ARN components separately', async (t) => {
  // IAM User Guide, ARN condition operators: "Each of the six colon-delimited components of the
  // ARN is checked separately and each can include multi-character match wildcards (*) or
  // single-character match wildcards (?)." The sixth, the resource, keeps any further colons.
  const role = { 'aws:SourceArn': VENDOR_ROLE }
  checkConditions(t, [
    ['wildcards inside components', { ArnLike: { 'aws:SourceArn': 'arn:aws:iam::*:role/*' } }, role, true],
    ['? inside a component', { ArnLike: { 'aws:SourceArn': 'arn:aws:iam::1111111111??:role/VendorRole' } }, role, true],
    ['ArnEquals takes wildcards too', { ArnEquals: { 'aws:SourceArn': 'arn:aws:iam::111111111111:role/*' } }, role, true],
    ['* does not span service:region:account', { ArnLike: { 'aws:SourceArn': 'arn:aws:*:role/VendorRole' } }, role, false],
    ['* does not span service:region:account (ArnEquals)', { ArnEquals: { 'aws:SourceArn': 'arn:aws:*:role/VendorRole' } }, role, false],
    ['* does not span region:account:resource', { ArnLike: { 'aws:SourceArn': 'arn:aws:iam::*' } }, role, false],
    ['arn:* is not an ARN pattern', { ArnLike: { 'aws:SourceArn': 'arn:*' } }, role, false],
    ['? does not stand for a colon', { ArnLike: { 'aws:SourceArn': 'arn:aws:iam:?111111111111:role/VendorRole' } }, role, false],
    ['the resource keeps its colons', { ArnLike: { 'aws:SourceArn': 'arn:aws:s3:::bucket/*' } }, { 'aws:SourceArn': 'arn:aws:s3:::bucket/a:b' }, true],
    ['ArnLike is case-sensitive', { ArnLike: { 'aws:SourceArn': 'arn:aws:iam::111111111111:role/vendorrole' } }, role, false],
    ['a session ARN is not its role ARN', { ArnLike: { 'aws:SourceArn': 'arn:aws:iam::111111111111:role/*' } }, { 'aws:SourceArn': SESSION }, false],
    ['a value that is not an ARN does not match', { ArnLike: { 'aws:SourceArn': '*' } }, { 'aws:SourceArn': 'not-an-arn' }, false],
    ['a value that is not an ARN does not match a full wildcard ARN', { ArnLike: { 'aws:SourceArn': 'arn:*:*:*:*:*' } }, { 'aws:SourceArn': 'not-an-arn' }, false],
    ['... nor its negation', { ArnNotLike: { 'aws:SourceArn': VENDOR_ROLE } }, { 'aws:SourceArn': 'not-an-arn' }, false],
    ['ArnNotEquals, another ARN', { ArnNotEquals: { 'aws:SourceArn': 'arn:aws:iam::999999999999:role/VendorRole' } }, role, true],
    ['ArnNotLike, a matching ARN', { ArnNotLike: { 'aws:SourceArn': 'arn:aws:iam::*:role/*' } }, role, false],
    // "ArnNotLike: negated matching for ARN": a pattern that is not an ARN matches no ARN.
    ['ArnNotLike with a pattern that is not an ARN holds', { ArnNotLike: { 'aws:SourceArn': 'arn:aws:*:role/VendorRole' } }, role, true],
    ['aws:PrincipalArn of a session is the role ARN', { ArnEquals: { 'aws:PrincipalArn': VENDOR_ROLE } }, callerKeys(ROLE_SESSION), true]
  ])
})

t.test('Date operators: ISO 8601 dates and epoch seconds; an unparsable date is a non-match', async (t) => {
  // IAM User Guide, date condition operators: values are W3C ISO 8601 dates or epoch (UNIX) time;
  // aws:EpochTime counts seconds since January 1, 1970.
  const issued = { 'aws:TokenIssueTime': '2024-05-01T12:00:00Z' }
  const before2030 = '2030-01-01T00:00:00Z'
  checkConditions(t, [
    ['DateLessThan, earlier', { DateLessThan: { 'aws:TokenIssueTime': before2030 } }, issued, true],
    ['DateLessThan, later', { DateLessThan: { 'aws:TokenIssueTime': '2020-01-01T00:00:00Z' } }, issued, false],
    ['DateLessThan, equal', { DateLessThan: { 'aws:TokenIssueTime': issued['aws:TokenIssueTime'] } }, issued, false],
    ['DateLessThanEquals, equal', { DateLessThanEquals: { 'aws:TokenIssueTime': issued['aws:TokenIssueTime'] } }, issued, true],
    ['DateGreaterThan, later', { DateGreaterThan: { 'aws:TokenIssueTime': '2020-01-01T00:00:00Z' } }, issued, true],
    ['DateGreaterThan, equal', { DateGreaterThan: { 'aws:TokenIssueTime': issued['aws:TokenIssueTime'] } }, issued, false],
    ['DateGreaterThanEquals, equal', { DateGreaterThanEquals: { 'aws:TokenIssueTime': issued['aws:TokenIssueTime'] } }, issued, true],
    ['DateEquals, the same instant in another zone', { DateEquals: { 'aws:TokenIssueTime': '2024-05-01T14:00:00+02:00' } }, issued, true],
    ['DateNotEquals, another instant', { DateNotEquals: { 'aws:TokenIssueTime': before2030 } }, issued, true],
    ['DateNotEquals, the same instant', { DateNotEquals: { 'aws:TokenIssueTime': '2024-05-01T12:00:00Z' } }, issued, false],
    ['a date without a time', { DateLessThan: { 'aws:TokenIssueTime': '2024-05-02' } }, issued, true],
    ['epoch seconds in the policy', { DateLessThan: { 'aws:TokenIssueTime': '1893456000' } }, issued, true],
    ['epoch seconds in the policy, equal', { DateEquals: { 'aws:TokenIssueTime': '1714564800' } }, issued, true],
    ['epoch seconds in the request', { DateGreaterThan: { 'aws:TokenIssueTime': '2024-01-01T00:00:00Z' } }, { 'aws:TokenIssueTime': '1714564800' }, true],
    ['an unparsable policy date', { DateLessThan: { 'aws:TokenIssueTime': 'next year' } }, issued, false],
    ['an unparsable policy date, negated', { DateNotEquals: { 'aws:TokenIssueTime': 'next year' } }, issued, false],
    ['an unparsable request date', { DateLessThan: { 'aws:TokenIssueTime': before2030 } }, { 'aws:TokenIssueTime': 'yesterday' }, false],
    ['a time without a zone is unparsable', { DateLessThan: { 'aws:TokenIssueTime': '2030-01-01T00:00:00' } }, issued, false],
    ['key missing', { DateLessThan: { 'aws:TokenIssueTime': before2030 } }, {}, false]
  ])
})

t.test('Numeric and Bool operators', async (t) => {
  const age = { 'aws:MultiFactorAuthAge': '300' }
  checkConditions(t, [
    ['NumericLessThan', { NumericLessThan: { 'aws:MultiFactorAuthAge': '3600' } }, age, true],
    ['NumericLessThanEquals, equal', { NumericLessThanEquals: { 'aws:MultiFactorAuthAge': '300' } }, age, true],
    ['NumericGreaterThan', { NumericGreaterThan: { 'aws:MultiFactorAuthAge': '3600' } }, age, false],
    ['NumericGreaterThanEquals, equal', { NumericGreaterThanEquals: { 'aws:MultiFactorAuthAge': '300' } }, age, true],
    ['NumericEquals, another notation', { NumericEquals: { 'aws:MultiFactorAuthAge': '300.0' } }, age, true],
    ['NumericEquals, a JSON number', { NumericEquals: { 'aws:MultiFactorAuthAge': 300 } }, age, true],
    ['NumericNotEquals', { NumericNotEquals: { 'aws:MultiFactorAuthAge': '3600' } }, age, true],
    ['an unparsable number', { NumericNotEquals: { 'aws:MultiFactorAuthAge': 'many' } }, age, false],
    ['Bool true, true', { Bool: { 'aws:MultiFactorAuthPresent': 'true' } }, { 'aws:MultiFactorAuthPresent': 'true' }, true],
    ['Bool true, false', { Bool: { 'aws:MultiFactorAuthPresent': 'true' } }, { 'aws:MultiFactorAuthPresent': 'false' }, false],
    ['Bool false, false', { Bool: { 'aws:MultiFactorAuthPresent': false } }, { 'aws:MultiFactorAuthPresent': 'false' }, true],
    ['Bool is case-insensitive', { Bool: { 'aws:MultiFactorAuthPresent': 'TRUE' } }, { 'aws:MultiFactorAuthPresent': 'true' }, true],
    ['Bool, key missing', { Bool: { 'aws:MultiFactorAuthPresent': 'false' } }, {}, false],
    ['Bool, not a boolean', { Bool: { 'aws:MultiFactorAuthPresent': 'true' } }, { 'aws:MultiFactorAuthPresent': 'yes' }, false]
  ])
})

t.test('a role session matches its role\'s ARN as principal', async (t) => {
  const session = 'arn:aws:sts::111111111111:assumed-role/VendorRole/worker'
  const policy = doc({ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111111111111:role/VendorRole' }, Action: 'sts:AssumeRole' })
  t.ok(evaluateTrustPolicy(policy, ['sts:AssumeRole'], { principalArn: session, principalRoleArn: 'arn:aws:iam::111111111111:role/VendorRole', principalAccount: '111111111111', keys: {} }).allowed)
  t.notOk(evaluateTrustPolicy(policy, ['sts:AssumeRole'], request({})).allowed)
})

t.test('a role session is matched by its role ARN, its session ARN and its account', async (t) => {
  const trusting = (principal: string) => doc({ Effect: 'Allow', Principal: { AWS: principal }, Action: 'sts:AssumeRole' })
  t.ok(allows(trusting(VENDOR_ROLE), {}, ROLE_SESSION), 'the role ARN')
  t.ok(allows(trusting(SESSION), {}, ROLE_SESSION), 'the session ARN')
  t.ok(allows(trusting('111111111111'), {}, ROLE_SESSION), 'the account')
  t.notOk(allows(trusting('arn:aws:sts::111111111111:assumed-role/VendorRole/other'), {}, ROLE_SESSION), 'not another session of the role')
  t.notOk(allows(trusting(VENDOR_ROLE), {}), 'an IAM user is not the role')
  t.ok(allows(when({ StringEquals: { 'aws:PrincipalArn': VENDOR_ROLE } }), {}, ROLE_SESSION), 'aws:PrincipalArn is the role ARN')
})

t.test('OPERATORS lists what the evaluator understands', async (t) => {
  const base = OPERATORS.flatMap((op) => [op, `${op}IfExists`, `ForAnyValue:${op}`, `ForAllValues:${op}`])
  for (const operator of base) {
    t.doesNotThrow(() => allows(when({ [operator]: { 'sts:ExternalId': 'x' } }), { 'sts:ExternalId': 'x' }), operator)
  }
  t.equal(OPERATORS.length, 24, 'strings 6, ARN 4, Bool, dates 6, numbers 6, Null')
  for (const unknown of ['IpAddress', 'BinaryEquals', 'ForSomeValues:StringEquals', 'StringEqualsIfExistsIfExists']) {
    t.throws(() => allows(when({ [unknown]: { 'sts:ExternalId': 'x' } }), {}), MalformedPolicyError, unknown)
  }
})

t.test('malformed policies are refused', async (t) => {
  for (const bad of ['not json', '{}', JSON.stringify(doc({ Effect: 'Maybe', Principal: '*', Action: 'sts:AssumeRole' })), JSON.stringify(doc({ Effect: 'Allow', Action: 'sts:AssumeRole' })), JSON.stringify(doc(allow({ Condition: { StringFuzzy: { 'sts:ExternalId': 'x' } } })))]) {
    t.throws(() => evaluateTrustPolicy(bad, ['sts:AssumeRole'], request({ 'sts:ExternalId': 'x' })), MalformedPolicyError)
  }
})

// --- Differential testing ------------------------------------------------------------------

interface Combination { policy: { Statement: object[] }, caller: Caller, keys: Keys, condition?: Record<string, unknown> | undefined }
/** Set-aside combinations per erratum, and how many of them the oracle answers differently. */
interface SetAside { count: number, contradicted: number }
interface Tally { compared: number, excluded: Map<string, SetAside>, disagreements: string[] }

/**
 * Where iam-simulate contradicts IAM's documentation. Each rule is a test on the inputs (the
 * condition and the request), decided before either answer is known; the report counts the
 * combinations set aside and how many of them the oracle actually answers differently.
 */
const ORACLE_ERRATA: Array<{ reason: string, applies: (operator: string, wanted: string[], actual: string[]) => boolean }> = [
  {
    // IAM User Guide, "IAM JSON policy elements: Condition operators", Date condition operators:
    // dates are W3C ISO 8601 or epoch (UNIX) time; "AWS global condition context keys",
    // aws:EpochTime: epoch time is the number of seconds since January 1, 1970. iam-simulate
    // (condition/date/date.js) reads an all-digit value as milliseconds, so it misplaces epoch
    // values against ISO dates (epoch against epoch still compares right, and stays in the grid).
    reason: 'iam-simulate reads epoch seconds as milliseconds',
    applies: (operator, wanted, actual) => operator.includes('Date') && actual.length > 0 &&
      [...wanted, ...actual].some((v) => /^\d+$/.test(v)) && [...wanted, ...actual].some((v) => /^\d{4}-/.test(v))
  },
  {
    // IAM User Guide, "IAM JSON policy elements: Condition operators", ARN condition operators:
    // ArnNotEquals / ArnNotLike are "negated matching for ARN" (the SDKs: "negated form of
    // ArnLike"), so on a request ARN they hold whenever ArnLike does not. A pattern with fewer
    // than six components matches no ARN, so ArnNotLike holds; iam-simulate (condition/arn/arn.js)
    // instead calls a pattern with fewer than five colon-separated parts invalid and answers false
    // for ArnNotLike too. (With exactly five parts it reads an empty resource, and agrees.)
    reason: 'iam-simulate answers false for ArnNotLike with a pattern that is not an ARN',
    applies: (operator, wanted, actual) => operator.includes('ArnNot') &&
      actual.some((v) => v.split(':').length >= 6) && wanted.some((w) => w.split(':').length < 5)
  }
]

const asStrings = (value: unknown): string[] => value === undefined ? [] : (Array.isArray(value) ? value : [value]).map(String)

function erratum (combination: Combination): string | undefined {
  for (const [operator, block] of Object.entries(combination.condition ?? {})) {
    for (const [key, wanted] of Object.entries(block as Record<string, unknown>)) {
      const actual = asStrings(combination.keys[key])
      const rule = ORACLE_ERRATA.find((r) => r.applies(operator, asStrings(wanted), actual))
      if (rule !== undefined) return rule.reason
    }
  }
  return undefined
}

function oursAllows ({ policy, caller, keys }: Combination): boolean | string {
  try {
    return allows(policy, keys, caller)
  } catch (error) {
    return `error: ${String(error)}`
  }
}

async function oracleAllows ({ policy, caller, keys }: Combination): Promise<boolean | string> {
  const contextVariables: Record<string, string | string[]> = {}
  for (const [key, value] of Object.entries({ ...callerKeys(caller), ...keys })) if (value !== undefined) contextVariables[key] = value
  const result = await runSimulation({
    identityPolicies: [{ name: 'vendor', policy: doc({ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' }) }],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: policy,
    request: { action: 'sts:AssumeRole', principal: caller.arn, resource: { accountId: '222222222222', resource: ROLE }, contextVariables }
  }, {})
  if (result.resultType === 'error') return `oracle error: ${JSON.stringify(result.errors).slice(0, 200)}`
  return result.overallResult === 'Allowed'
}

async function compareAll (combinations: Combination[], tally: Tally): Promise<void> {
  for (const combination of combinations) {
    const ours = oursAllows(combination)
    const theirs = await oracleAllows(combination)
    const reason = erratum(combination)
    if (reason !== undefined) {
      const setAside = tally.excluded.get(reason) ?? { count: 0, contradicted: 0 }
      tally.excluded.set(reason, { count: setAside.count + 1, contradicted: setAside.contradicted + (ours === theirs ? 0 : 1) })
    } else if (typeof ours === 'string' || typeof theirs === 'string' || ours !== theirs) {
      tally.disagreements.push(`${JSON.stringify(combination.policy.Statement)} by ${combination.caller.arn} with ${JSON.stringify(combination.keys)}: ours ${ours}, iam-simulate ${theirs}`)
    } else {
      tally.compared++
    }
  }
}

function report (t: Tap, tally: Tally, minimum: number): void {
  const excluded = [...tally.excluded.values()].reduce((sum, s) => sum + s.count, 0)
  t.comment(`${tally.compared} combinations compared, ${tally.disagreements.length} disagreements, ${excluded} set aside as oracle errata`)
  t.ok(tally.compared >= minimum, `${tally.compared} combinations compared`)
  t.same(tally.disagreements, [], `${tally.disagreements.length} disagreements`)
  for (const [reason, { count, contradicted }] of tally.excluded) {
    // An erratum the oracle no longer exhibits must go, so that nothing stays set aside for nothing.
    t.ok(contradicted > 0, `set aside (${reason}): ${count}, of which the oracle answers differently: ${contradicted}`)
  }
}
const newTally = (): Tally => ({ compared: 0, excluded: new Map(), disagreements: [] })

const DENY_WITHOUT_ID = { Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:AssumeRole', Condition: { Null: { 'sts:ExternalId': 'true' } } }

function trustGrid (callers: Caller[], principals: string[], conditions: Array<Record<string, unknown> | undefined>, contexts: Keys[]): Combination[] {
  const combinations: Combination[] = []
  for (const caller of callers) {
    for (const principal of principals) {
      for (const condition of conditions) {
        const allowStatement = { Effect: 'Allow', Principal: { AWS: principal }, Action: 'sts:AssumeRole', ...(condition === undefined ? {} : { Condition: condition }) }
        for (const policy of [doc(allowStatement), doc(allowStatement, DENY_WITHOUT_ID)]) {
          for (const keys of contexts) combinations.push({ policy, caller, keys, condition })
        }
      }
    }
  }
  return combinations
}

/** The original grid: an IAM user as caller, external-ID conditions, an explicit Deny or none. */
function externalIdGrid (): Combination[] {
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
  const contexts: Keys[] = [{}, { 'sts:ExternalId': ID }, { 'sts:ExternalId': 'wrong-id' }, { 'sts:ExternalId': ID, 'sts:SourceIdentity': 'deputy.a' }, { 'sts:SourceIdentity': 'other' }]
  return trustGrid([USER], principals, conditions, contexts)
}

/** Role sessions beside IAM users: trust policies naming the role, the session, the account. */
function roleSessionGrid (): Combination[] {
  const principals = [VENDOR_ROLE, SESSION, 'arn:aws:sts::111111111111:assumed-role/VendorRole/other', '111111111111', 'arn:aws:iam::111111111111:root', '*', VENDOR]
  const conditions: Array<Record<string, unknown> | undefined> = [
    undefined,
    { StringEquals: { 'sts:ExternalId': ID } },
    { ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::111111111111:role/*' } },
    { ArnEquals: { 'aws:PrincipalArn': VENDOR_ROLE } },
    { ArnLike: { 'aws:PrincipalArn': 'arn:aws:sts::111111111111:assumed-role/*' } },
    { ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::111111111111:user/*' } },
    { ArnNotEquals: { 'aws:PrincipalArn': VENDOR_ROLE } },
    { StringEquals: { 'aws:PrincipalAccount': '111111111111' } },
    { StringLike: { 'aws:PrincipalArn': '*:role/VendorRole' } }
  ]
  return trustGrid([USER, ROLE_SESSION], principals, conditions, [{}, { 'sts:ExternalId': ID }])
}

/** One key, a list of operators, the policy values to try and the request values (undefined: missing). */
interface Family { key: string, operators: string[], wanted: Array<string | string[]>, actual: Array<string | string[] | undefined> }

const withSets = (operators: string[], ifExists: boolean): string[] => operators.flatMap((op) =>
  ['ForAnyValue:', 'ForAllValues:'].flatMap((set) => ifExists ? [`${set}${op}`, `${set}${op}IfExists`] : [`${set}${op}`]))
const withIfExists = (operators: string[]): string[] => operators.flatMap((op) => [op, `${op}IfExists`])

const FAMILIES: Family[] = [
  { // multivalued, every string operator under both set operators, with and without IfExists
    key: 'sts:TransitiveTagKeys',
    operators: [...withSets(['StringEquals', 'StringNotEquals', 'StringLike', 'StringNotLike', 'StringEqualsIgnoreCase', 'StringNotEqualsIgnoreCase'], true),
      'StringEquals', 'StringNotEquals', 'StringEqualsIfExists', 'StringNotEqualsIfExists', 'StringLike', 'StringNotLikeIfExists'],
    wanted: [['team', 'cost-center'], 'team*'],
    actual: [undefined, ['team'], ['team', 'project'], ['project'], ['Team'], ['team-a', 'team-b']]
  },
  {
    key: 'aws:TagKeys',
    operators: withSets(['StringEquals', 'StringNotEquals', 'StringLike', 'StringNotLike'], false),
    wanted: [['team', 'cost-center'], 'key1*'],
    actual: [undefined, ['team'], ['key1:hr', 'key2:audit'], ['key2:audit']]
  },
  { // set operators and negated IfExists on a single-valued key
    key: 'sts:ExternalId',
    operators: [...withSets(['StringEquals', 'StringNotEquals', 'StringLike', 'StringNotLike'], true),
      'StringNotEquals', 'StringNotLike', 'StringEqualsIfExists', 'StringNotEqualsIfExists', 'StringLikeIfExists', 'StringNotLikeIfExists', 'StringNotEqualsIgnoreCaseIfExists'],
    wanted: [ID, ['x', ID], '6f1c*'],
    actual: [undefined, ID, 'other', ID.toUpperCase()]
  },
  { key: 'sts:ExternalId', operators: ['Null'], wanted: ['true', 'false', ['true', 'false']], actual: [undefined, ID] },
  { key: 'sts:TransitiveTagKeys', operators: ['Null'], wanted: ['true', 'false'], actual: [undefined, ['team']] },
  { // ARN patterns, some with wildcards that would span colons if the ARN were one string
    key: 'aws:SourceArn',
    operators: [...withIfExists(['ArnLike', 'ArnNotLike']), 'ArnEquals', 'ArnNotEquals', ...withSets(['ArnLike', 'ArnNotLike'], false)],
    wanted: ['arn:aws:iam::111111111111:role/*', 'arn:aws:iam::*:role/VendorRole', 'arn:aws:*:role/VendorRole', 'arn:aws:iam::*', 'arn:*',
      'arn:aws:s3:::bucket/*', 'arn:aws:sts::111111111111:assumed-role/VendorRole/*', 'arn:aws:iam::1111111111??:role/VendorRole',
      [VENDOR_ROLE, 'arn:aws:iam::999999999999:role/*']],
    actual: [undefined, VENDOR_ROLE, SESSION, 'arn:aws:s3:::bucket/a:b', 'not-an-arn', 'arn:aws:iam::999999999999:role/VendorRole']
  },
  {
    key: 'aws:MultiFactorAuthPresent',
    operators: ['Bool', 'BoolIfExists', 'ForAnyValue:Bool', 'ForAllValues:Bool'],
    wanted: ['true', 'false', ['true', 'false']],
    actual: [undefined, 'true', 'false', 'TRUE', 'yes']
  },
  {
    key: 'aws:MultiFactorAuthAge',
    operators: withIfExists(['NumericEquals', 'NumericNotEquals', 'NumericLessThan', 'NumericLessThanEquals', 'NumericGreaterThan', 'NumericGreaterThanEquals']),
    wanted: ['3600', ['300', '7200']],
    actual: [undefined, '300', '3600', '7200', 'many']
  },
  {
    key: 'aws:TokenIssueTime',
    operators: withIfExists(['DateEquals', 'DateNotEquals', 'DateLessThan', 'DateLessThanEquals', 'DateGreaterThan', 'DateGreaterThanEquals']),
    wanted: ['2030-01-01T00:00:00Z', '1893456000', 'next year'],
    actual: [undefined, '2024-05-01T12:00:00Z', '2030-01-01T00:00:00Z', '2030-01-01T02:00:00+02:00', '2031-06-30', '1714564800', '1893456000', 'yesterday']
  }
]

/** Each condition in an Allow (it must hold) and in a Deny beside an unconditional Allow (it must not). */
function operatorGrid (): Combination[] {
  const combinations: Combination[] = []
  for (const family of FAMILIES) {
    for (const operator of family.operators) {
      for (const wanted of family.wanted) {
        const condition = { [operator]: { [family.key]: wanted } }
        const placements = [
          when(condition),
          doc({ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' }, { Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:AssumeRole', Condition: condition })
        ]
        for (const policy of placements) {
          for (const actual of family.actual) combinations.push({ policy, caller: USER, keys: { [family.key]: actual }, condition })
        }
      }
    }
  }
  return combinations
}

t.test('differential: agrees with iam-simulate across a grid of trust policies and requests', async (t) => {
  const total = newTally()
  const grids: Array<[string, () => Combination[], number]> = [
    ['external IDs: the original grid of principals, conditions and an explicit Deny', externalIdGrid, 1000],
    ['role sessions: callers that are sessions; trust policies naming the role, the session, the account', roleSessionGrid, 500],
    ['condition operators: set operators, negated and IfExists, Null, Bool, ARN components, dates, numbers', operatorGrid, 2500]
  ]
  for (const [name, grid, minimum] of grids) {
    await t.test(name, async (t) => {
      const tally = newTally()
      await compareAll(grid(), tally)
      report(t, tally, minimum)
      merge(total, tally)
    })
  }
  report(t, total, 4000)
})

function merge (into: Tally, from: Tally): void {
  into.compared += from.compared
  into.disagreements.push(...from.disagreements)
  for (const [reason, { count, contradicted }] of from.excluded) {
    const sum = into.excluded.get(reason) ?? { count: 0, contradicted: 0 }
    into.excluded.set(reason, { count: sum.count + count, contradicted: sum.contradicted + contradicted })
  }
}
