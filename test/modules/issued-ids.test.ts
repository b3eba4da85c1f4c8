// Which strings of a trust policy the probe looks up as possibly deputy's external IDs: the ones a
// customer's policy can hide in JSON escapes or another letter case count too, a hostile document
// cannot exhaust the stack or the lookup, and nothing else is looked up.
import t from 'tap'
import { externalIdLiterals, MAX_LITERALS } from '../../src/modules/connections/issued-ids.js'

const ID = '52fb4461-5f89-4cd1-9008-b87fb5b6490d'
const id = (n: number): string => `${n.toString(16).padStart(8, '0')}-5f89-4cd1-9008-b87fb5b6490d`

t.test('every external-ID-shaped string, once, lowercased, and nothing else', async (t) => {
  const document = JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111111111111:role/deputy' }, Action: 'sts:AssumeRole', Condition: { StringEqualsIgnoreCase: { 'sts:ExternalId': [ID.toUpperCase(), ID, 'partner-shared-id', `${ID}x`, '52fb4461-5f89-1cd1-9008-b87fb5b6490d'] } } }]
  })
  t.same(externalIdLiterals(document), [ID], 'one value; a longer string or a non-v4 UUID is not deputy\'s')
})

t.test('JSON escapes are resolved before matching', async (t) => {
  const escaped = `{"Statement":[{"Condition":{"StringEquals":{"sts:ExternalId":"\\u0035${ID.slice(1)}"}}}]}`
  t.same(externalIdLiterals(escaped), [ID])
})

t.test('hostile documents: deep nesting, too many IDs, not JSON', async (t) => {
  const deep = `${'['.repeat(100_000)}"${ID}"${']'.repeat(100_000)}`
  t.same(externalIdLiterals(deep), [ID], '100,000 nested arrays: no stack overflow')
  const many = JSON.stringify({ ids: Array.from({ length: MAX_LITERALS * 2 }, (_, n) => id(n)) })
  t.equal(externalIdLiterals(many).length, MAX_LITERALS, `at most ${MAX_LITERALS} values to look up`)
  t.same(externalIdLiterals(`{"a": "${ID}"`), [], 'not JSON: none')
})
