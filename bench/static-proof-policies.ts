// The adversarial trust policies of `npm run bench:static-proof` (interleaved globs, prefix globs,
// `?` runs, on up to 20 statements and ~5,000 characters: past IAM's 4,096-character limit for
// trust policies), and issue 17's: a 15-star glob next to a 36-letter exact value, whose witness
// held a backtracking RegExp for minutes. test/modules/static-proof-stall.test.ts registers each.
export interface AdversarialPolicy { name: string, document: object }

const ACTIONS = ['sts:AssumeRole', 'sts:SetSourceIdentity']
const CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789'
const char = (i: number): string => CHARS[i % CHARS.length] ?? 'a'
const GLOBS: Record<string, (i: number) => string> = {
  interleaved: (i) => `*${char(i)}*${char(i + 7)}*${char(i + 13)}*`,
  prefix: (i) => `${char(i)}?${char(i + 1)}*`,
  question: (i) => `*${'?'.repeat(i % 5)}${char(i)}*`
}

function policy (vendor: string, ours: string, shape: string, globs: number, statements: number): object {
  const patterns = Array.from({ length: globs }, (_, i) => GLOBS[shape]?.(i) ?? '*')
  const extra = Array.from({ length: statements }, (_, j) => {
    const ids = { 'sts:ExternalId': patterns.slice(j % globs) }
    const sessions = { 'sts:RoleSessionName': [`*${char(j)}*`, 'deputy*'] }
    // Both conditions in one StringLike block (two StringLike keys in one literal would keep one).
    return {
      Effect: j % 3 === 2 ? 'Deny' : 'Allow',
      Principal: { AWS: vendor },
      Action: ACTIONS,
      Condition: j % 2 === 1 ? { StringNotLike: ids, StringLike: sessions } : { StringLike: { ...ids, ...sessions } }
    }
  })
  return { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: vendor }, Action: ACTIONS, Condition: { StringEquals: { 'sts:ExternalId': ours } } }, ...extra] }
}

/** The 126: three shapes × 1 to 14 globs × 1, 5 or 20 statements. */
export function adversarialPolicies (vendor: string, ours: string): AdversarialPolicy[] {
  return Object.keys(GLOBS).flatMap((shape) => Array.from({ length: 14 }, (_, g) => g + 1).flatMap((globs) =>
    [1, 5, 20].map((statements) => ({ name: `${shape}, ${globs} globs, ${statements} statements`, document: policy(vendor, ours, shape, globs, statements) }))))
}

/** Issue 17: `stars` stars in *a*a*…*c, and a statement admitting "a" × `letters`. */
export function issue17Policy (vendor: string, ours: string, stars = 15, letters = 36): AdversarialPolicy {
  const allow = (Condition: object): object => ({ Effect: 'Allow', Principal: { AWS: vendor }, Action: ACTIONS, Condition })
  return {
    name: `issue 17: ${stars} stars, "a" × ${letters}`,
    document: {
      Version: '2012-10-17',
      Statement: [
        allow({ StringEquals: { 'sts:ExternalId': ours } }),
        allow({ StringLike: { 'sts:ExternalId': `*${'a*'.repeat(stars - 1)}c` } }),
        allow({ StringEquals: { 'sts:ExternalId': 'a'.repeat(letters) } })
      ]
    }
  }
}
