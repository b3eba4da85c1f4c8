// IAM's wildcard match without a backtracking RegExp (src/iam/glob.ts). The RegExp it replaces
// is the specification on inputs short enough for it to finish: the two agree on every pattern
// and value fast-check draws (code units that fold oddly under the i flag included). On the
// patterns that made the RegExp take minutes, the match gives the right answer.
import fc from 'fast-check'
import t from 'tap'
import { globMatch } from '../../src/iam/glob.js'

/** What deputy used before: IAM wildcards as an anchored RegExp over UTF-16 code units. */
const regexGlob = (pattern: string, value: string, ignoreCase: boolean): boolean =>
  new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, ignoreCase ? 'is' : 's').test(value)

const UNITS = ['a', 'A', 'b', 'c', '.', '-', ':', '\n', 's', 'S', 'ſ', 'k', 'K', '\u212a', 'é', 'É', 'ß', 'ǅ', '\ud83d', '\ude00', '(', '\\']
const text = (units: string[], maxLength: number) => fc.array(fc.constantFrom(...units), { maxLength }).map((a) => a.join(''))

t.test('agrees with the RegExp it replaces', async (t) => {
  fc.assert(fc.property(text([...UNITS, '*', '?', '*'], 9), text(UNITS, 12), fc.boolean(), (pattern, value, ignoreCase) =>
    globMatch(pattern, value, ignoreCase) === regexGlob(pattern, value, ignoreCase)), { numRuns: 50_000, seed: 17 })
  t.pass('50,000 draws agree')
})

t.test('cases by hand', async (t) => {
  const cases: Array<[string, string, boolean, boolean]> = [
    ['*', '', false, true], ['?', '', false, false], ['', '', false, true], ['', 'a', false, false],
    ['a*', 'a', false, true], ['*a', 'ba', false, true], ['*a', 'ab', false, false], ['a?c', 'abc', false, true],
    ['*b*c', 'abxbxc', false, true], ['*b*c', 'abxbxcx', false, false], ['sts:*', 'STS:AssumeRole', true, true],
    ['sts:*', 'STS:AssumeRole', false, false], ['a.c', 'abc', false, false], ['*\\*', 'x\\', false, true]
  ]
  for (const [pattern, value, ignoreCase, expected] of cases) t.equal(globMatch(pattern, value, ignoreCase), expected, `${pattern} ~ ${JSON.stringify(value)}${ignoreCase ? ' (ignoring case)' : ''}`)
})

t.test('the patterns that stalled the RegExp: answered right', async (t) => {
  const stars = `*${'a*'.repeat(14)}c`
  t.equal(globMatch(stars, 'a'.repeat(36)), false, '15 stars, no c: no match')
  t.equal(globMatch(stars, `${'a'.repeat(36)}c`), true, 'with the c: a match')
  t.equal(globMatch(`*${'a*'.repeat(40)}c`, 'a'.repeat(1224)), false, '41 stars on an ID of the longest length AWS accepts')
  t.equal(globMatch(`${'?*'.repeat(30)}b`, 'a'.repeat(2000)), false)
})
