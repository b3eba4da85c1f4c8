// The string patterns a trust policy compares one condition key with, as small automata: an exact
// string (StringEquals), a case-insensitive one (StringEqualsIgnoreCase) and an IAM glob
// (StringLike: `*` any run of characters, `?` any one). Each pattern is a chain of tokens; its
// state after reading a prefix is the set of token positions it can be at (an NFA simulated on
// the fly, small because a pattern is a chain). Pure: no I/O.

export type PatternKind = 'exact' | 'ignore-case' | 'glob'

export interface Pattern {
  kind: PatternKind
  text: string
}

type Token = { type: 'char', char: string, ignoreCase: boolean } | { type: 'one' } | { type: 'star' }

/** The state of one pattern: the token positions it can be at, ascending; empty once it is dead. */
export type PatternState = readonly number[]

export interface CompiledPattern {
  pattern: Pattern
  tokens: Token[]
  start: PatternState
  step(state: PatternState, char: string): PatternState
  accepts(state: PatternState): boolean
  /** The characters this pattern treats differently from any other character. */
  literals(charset: string): string[]
}

// The evaluator compares case-insensitively as `wanted.toLowerCase() === actual.toLowerCase()`:
// the pattern is lowered once (its code units, whatever their number), each request character
// lowered on its own (request values here are ASCII, whose lowering keeps one unit per unit).
function tokenize (pattern: Pattern): Token[] {
  if (pattern.kind === 'ignore-case') return [...pattern.text.toLowerCase().split('')].map((char) => ({ type: 'char', char, ignoreCase: true }))
  if (pattern.kind === 'exact') return pattern.text.split('').map((char) => ({ type: 'char', char, ignoreCase: false }))
  // The evaluator's glob is a RegExp over UTF-16 code units without the u flag: one unit per `?`.
  return pattern.text.split('').map((char): Token => char === '*' ? { type: 'star' } : char === '?' ? { type: 'one' } : { type: 'char', char, ignoreCase: false })
}

const matchesToken = (token: Token, char: string): boolean =>
  token.type === 'one' || (token.type === 'char' && (token.ignoreCase ? char.toLowerCase() === token.char : char === token.char))

export function compilePattern (pattern: Pattern): CompiledPattern {
  const tokens = tokenize(pattern)
  const end = tokens.length
  /** Adds the positions a star lets the pattern skip to (a star matches the empty run too). */
  const close = (positions: Set<number>): PatternState => {
    const queue = [...positions]
    while (queue.length > 0) {
      const at = queue.pop() as number
      if (tokens[at]?.type === 'star' && !positions.has(at + 1)) {
        positions.add(at + 1)
        queue.push(at + 1)
      }
    }
    return [...positions].sort((a, b) => a - b)
  }
  return {
    pattern,
    tokens,
    start: close(new Set([0])),
    step (state, char) {
      const next = new Set<number>()
      for (const at of state) {
        const token = tokens[at]
        if (token === undefined) continue
        if (token.type === 'star') next.add(at)
        else if (matchesToken(token, char)) next.add(at + 1)
      }
      return close(next)
    },
    accepts: (state) => state.includes(end),
    literals: (charset) => {
      const chars = tokens.flatMap((token) => token.type === 'char' ? [token] : [])
      return [...charset].filter((c) => chars.some((token) => matchesToken(token, c)))
    }
  }
}

/**
 * The characters worth trying: every character of `charset` some pattern names (with its case
 * variants for case-insensitive patterns), and one other character standing for all the rest,
 * which no pattern tells apart (each matches them only through `?` and `*`).
 */
export function alphabet (patterns: CompiledPattern[], charset: string): string[] {
  const named = new Set(patterns.flatMap((p) => p.literals(charset)))
  const other = [...charset].find((c) => !named.has(c))
  return [...[...named].sort(), ...(other === undefined ? [] : [other])]
}
