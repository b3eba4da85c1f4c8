// A template parameter's AllowedPattern without a backtracking RegExp
// (src/modules/onboarding/allowed-pattern.ts): it agrees with new RegExp(`^(?:${p})$`) on deputy's
// own patterns and on patterns fast-check draws from the supported syntax (values short enough for
// the RegExp to finish), refuses what needs backtracking, and answers the patterns that make a
// RegExp run for minutes. Through the sandbox's template instantiation: a refusal, not a stall.
import fc from 'fast-check'
import t from 'tap'
import { allowedPatternMatches, PatternError } from '../../src/modules/onboarding/allowed-pattern.js'
import { instantiateRoleTemplate } from '../../src/modules/onboarding/onboarding-kit.js'
import { EXTERNAL_ID_PATTERN } from '../../src/modules/onboarding/trust-policy.js'

const regex = (pattern: string, value: string): boolean => new RegExp(`^(?:${pattern})$`).test(value)

t.test('deputy\'s own patterns, by hand', async (t) => {
  const optional = `^(${EXTERNAL_ID_PATTERN.slice(1, -1)})?$`
  for (const value of ['6f1c9a2e-1b7d-4c3f-9a55-2d1e8b7c4a10', 'ab', 'a', '', 'a b', 'x'.repeat(1224), 'x'.repeat(1225), 'a/b:c=d,e.f@g+h_i-j', 'é1', 'ab\n']) {
    t.equal(allowedPatternMatches(EXTERNAL_ID_PATTERN, value), regex(EXTERNAL_ID_PATTERN, value), `${EXTERNAL_ID_PATTERN} on ${JSON.stringify(value.slice(0, 20))} (${value.length})`)
    t.equal(allowedPatternMatches(optional, value), regex(optional, value), `optional, on ${JSON.stringify(value.slice(0, 20))}`)
  }
})

t.test('agrees with the RegExp on drawn patterns', async (t) => {
  const atom = fc.constantFrom('a', 'b', '.', '\\d', '\\w', '\\s', '\\W', '[ab]', '[^a]', '[a-c]', '[\\d-]', '\\.', '\\x61', '-', '^', '$')
  const quantifier = fc.constantFrom('', '', '*', '+', '?', '{2}', '{0,2}', '{1,}', '*?')
  const piece = fc.tuple(atom, quantifier).map(([a, q]) => (a === '^' || a === '$') ? a : a + q)
  const sequence = fc.array(piece, { maxLength: 4 }).map((p) => p.join(''))
  const pattern = fc.oneof(sequence, fc.tuple(sequence, sequence).map(([a, b]) => `${a}|${b}`), fc.tuple(sequence, quantifier, sequence).map(([a, q, b]) => `(${a})${q === '' ? '' : q}${b}`), fc.tuple(sequence, sequence).map(([a, b]) => `(?:${a}|${b})+`))
  const value = fc.array(fc.constantFrom('a', 'b', 'c', '1', '-', ' ', '\n', '.', '_'), { maxLength: 7 }).map((v) => v.join(''))
  fc.assert(fc.property(pattern, value, (p, v) => allowedPatternMatches(p, v) === regex(p, v)), { numRuns: 30_000, seed: 17 })
  t.pass('30,000 draws agree')
})

t.test('refuses what needs backtracking or is malformed; answers the patterns that stall a RegExp', async (t) => {
  for (const pattern of ['(a)\\1', 'a(?=b)', 'a(?!b)', '(?<=a)b', '\\bword', '(a', 'a)', '*a', '[a', 'a{3,1}', '(?<name>a)', '[\\x41-Z]']) {
    t.throws(() => allowedPatternMatches(pattern, 'a'), PatternError, pattern)
  }
  t.equal(allowedPatternMatches('(a+)+$', `${'a'.repeat(5000)}b`), false, '(a+)+$ on 5,000 a and a b')
  t.equal(allowedPatternMatches('(a|a)*c', 'a'.repeat(5000)), false, '(a|a)*c')
  t.equal(allowedPatternMatches('(.*a){20}', 'a'.repeat(19) + 'b'.repeat(2000)), false, '(.*a){20}')
  t.throws(() => allowedPatternMatches('((a{2000}){2000})', 'a'), PatternError, 'a pattern too large to spell out is refused')
})

t.test('a template with a hostile AllowedPattern: refused or answered, never stalled', async (t) => {
  const template = (pattern: string): string => `Parameters:
  ExternalId:
    Type: String
    AllowedPattern: '${pattern}'
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      RoleName: DeputyAccess
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: { AWS: arn:aws:iam::111122223333:user/deputy-sandbox }
            Action: sts:AssumeRole
            Condition: { StringEquals: { sts:ExternalId: !Ref ExternalId } }
`
  t.throws(() => instantiateRoleTemplate(template('(a+)+$'), { ExternalId: `${'a'.repeat(3000)}b` }), /must match pattern/, 'a nested quantifier on a long value: no match')
  t.throws(() => instantiateRoleTemplate(template('(a)\\1'), { ExternalId: 'aa' }), /cannot be evaluated here: a backreference/, 'a backreference: refused')
  t.equal(instantiateRoleTemplate(template('(a+)+'), { ExternalId: 'aaaa' }).roleName, 'DeputyAccess', 'a value that matches')
})
