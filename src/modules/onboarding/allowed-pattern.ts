// A template parameter's AllowedPattern, matched without a backtracking RegExp: the template is
// the caller's input (the sandbox applies any), and a pattern such as (a+)+$ against a long value
// would hold the event loop for minutes in a RegExp engine. The pattern is read as JavaScript
// reads it without flags (code units; `.` stops at line ends) and run as a Thompson automaton, so
// a match takes at most states × value steps. Constructs a RegExp needs backtracking for
// (backreferences, lookaround, word boundaries) are refused. Pure: no I/O.

export class PatternError extends Error {
  override name = 'PatternError'
}

/** Repetitions the automaton spells out ({n,m} copies the group), and its size. */
const MAX_REPEAT = 2048
const MAX_STATES = 20_000

type Test = (unit: string) => boolean
type Node =
  | { kind: 'unit', test: Test }
  | { kind: 'seq', items: Node[] }
  | { kind: 'alt', options: Node[] }
  | { kind: 'repeat', node: Node, min: number, max: number }
  | { kind: 'start' }
  | { kind: 'end' }

type State =
  | { kind: 'unit', test: Test, next: number }
  | { kind: 'split', a: number, b: number }
  | { kind: 'start' | 'end', next: number }
  | { kind: 'match' }

const LINE_END = new Set(['\n', '\r', '\u2028', '\u2029'])
const isDigit: Test = (c) => c >= '0' && c <= '9'
const isWord: Test = (c) => isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_'
// One code unit against a one-character RegExp: constant time, nothing to backtrack.
const isSpace: Test = (c) => /^\s$/.test(c)
const not = (test: Test): Test => (c) => !test(c)

function parse (pattern: string): Node {
  let at = 0
  const peek = (): string | undefined => pattern[at]
  const fail = (why: string): never => { throw new PatternError(`${why} at position ${at}`) }

  function escape (inClass: boolean): Test {
    const c = pattern[at++]
    if (c === undefined) return fail('a trailing backslash')
    if (c === 'd') return isDigit
    if (c === 'D') return not(isDigit)
    if (c === 'w') return isWord
    if (c === 'W') return not(isWord)
    if (c === 's') return isSpace
    if (c === 'S') return not(isSpace)
    if (c === 'b' && inClass) return (u) => u === '\b'
    if (c === 'b' || c === 'B') return fail('a word boundary (not supported)')
    if (/[1-9]/.test(c) || c === 'k') return fail('a backreference (not supported)')
    if (c === 'c' || c === 'p' || c === 'P') return fail(`\\${c} (not supported)`)
    const controls: Record<string, string> = { n: '\n', r: '\r', t: '\t', f: '\f', v: '\v', 0: '\0' }
    const control = controls[c]
    if (control !== undefined) return (u) => u === control
    const hex = c === 'x' ? /^[0-9a-fA-F]{2}/.exec(pattern.slice(at)) : c === 'u' ? /^[0-9a-fA-F]{4}/.exec(pattern.slice(at)) : null
    if (hex !== null) {
      at += hex[0].length
      const unit = String.fromCharCode(parseInt(hex[0], 16))
      return (u) => u === unit
    }
    return (u) => u === c
  }

  function characterClass (): Test {
    const negated = peek() === '^'
    if (negated) at++
    const tests: Test[] = []
    while (peek() !== ']') {
      if (peek() === undefined) fail('an unterminated character class')
      const from = pattern[at++] as string
      const single = from === '\\' ? escape(true) : undefined
      const range = peek() === '-' && pattern[at + 1] !== ']' && pattern[at + 1] !== undefined
      if (range && single !== undefined) fail('a range next to an escape (not supported)')
      if (range) {
        at++
        const toRaw = pattern[at++] as string
        if (toRaw === '\\') fail('a range ending in an escape (not supported)')
        if (toRaw < from) fail('a range out of order')
        tests.push((u) => u >= from && u <= toRaw)
      } else {
        tests.push(single ?? ((u) => u === from))
      }
    }
    at++
    const inClass: Test = (u) => tests.some((test) => test(u))
    return negated ? not(inClass) : inClass
  }

  function atom (): Node {
    const c = pattern[at++] as string
    if (c === '(') {
      if (peek() === '?') {
        if (pattern[at + 1] !== ':') fail('lookaround or a named group (not supported)')
        at += 2
      }
      const inner = alternation()
      if (pattern[at++] !== ')') fail('an unclosed group')
      return inner
    }
    if (c === '[') return { kind: 'unit', test: characterClass() }
    if (c === '.') return { kind: 'unit', test: (u) => !LINE_END.has(u) }
    if (c === '\\') return { kind: 'unit', test: escape(false) }
    if (c === '^') return { kind: 'start' }
    if (c === '$') return { kind: 'end' }
    if (c === ')' || c === '*' || c === '+' || c === '?') return fail(`an unexpected ${c}`)
    if (c === '{' && /^\d+(,\d*)?\}/.test(pattern.slice(at))) return fail('nothing to repeat')
    return { kind: 'unit', test: (u) => u === c }
  }

  function quantified (): Node {
    const node = atom()
    let min = -1
    let max = -1
    const c = peek()
    const braces = c === '{' ? /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(at)) : null
    if (c === '*' || c === '+' || c === '?') {
      at++
      ;[min, max] = c === '*' ? [0, Infinity] : c === '+' ? [1, Infinity] : [0, 1]
    } else if (braces !== null) {
      at += braces[0].length
      min = Number(braces[1])
      max = braces[2] === undefined ? min : braces[3] === '' ? Infinity : Number(braces[3])
      if (max < min) fail('a repetition out of order')
      if (min > MAX_REPEAT || (max !== Infinity && max > MAX_REPEAT)) fail(`a repetition over ${MAX_REPEAT}`)
    }
    if (min === -1) return node
    if (node.kind === 'start' || node.kind === 'end') fail('a repeated anchor')
    if (peek() === '?') at++ // lazy: the same strings match
    return { kind: 'repeat', node, min, max }
  }

  function sequence (): Node {
    const items: Node[] = []
    while (peek() !== undefined && peek() !== '|' && peek() !== ')') items.push(quantified())
    return { kind: 'seq', items }
  }

  function alternation (): Node {
    const options = [sequence()]
    while (peek() === '|') {
      at++
      options.push(sequence())
    }
    return options.length === 1 ? options[0] as Node : { kind: 'alt', options }
  }

  const root = alternation()
  if (at < pattern.length) fail('an unmatched )')
  return root
}

/** Builds the automaton back to front: each node is compiled knowing the state that follows it. */
function compile (root: Node): State[] {
  const states: State[] = [{ kind: 'match' }]
  const add = (state: State): number => {
    if (states.length >= MAX_STATES) throw new PatternError(`the pattern needs more than ${MAX_STATES} automaton states`)
    states.push(state)
    return states.length - 1
  }
  function build (node: Node, next: number): number {
    switch (node.kind) {
      case 'unit': return add({ kind: 'unit', test: node.test, next })
      case 'start':
      case 'end': return add({ kind: node.kind, next })
      case 'seq': return node.items.reduceRight((after, item) => build(item, after), next)
      case 'alt': return node.options.map((o) => build(o, next)).reduceRight((b, a) => add({ kind: 'split', a, b }))
      case 'repeat': {
        let after = next
        if (node.max === Infinity) {
          const loop = add({ kind: 'split', a: -1, b: next })
          ;(states[loop] as { a: number }).a = build(node.node, loop)
          after = loop
        } else {
          // The optional copies: before each, go on to `next` or take one more.
          for (let i = node.min; i < node.max; i++) after = add({ kind: 'split', a: build(node.node, after), b: next })
        }
        for (let i = 0; i < node.min; i++) after = build(node.node, after)
        return after
      }
    }
  }
  const start = build(root, 0)
  return [...states, { kind: 'split', a: start, b: start }]
}

/** Whether the whole of `value` matches `pattern`, as new RegExp(`^(?:${pattern})$`) would say. */
export function allowedPatternMatches (pattern: string, value: string): boolean {
  const states = compile(parse(pattern))
  const entry = states.length - 1
  /** Adds `from` and every state reachable from it without reading, at position `pos`. */
  const close = (from: number, pos: number, into: Set<number>): void => {
    const stack = [from]
    while (stack.length > 0) {
      const i = stack.pop() as number
      if (into.has(i)) continue
      into.add(i)
      const state = states[i] as State
      if (state.kind === 'split') stack.push(state.b, state.a)
      else if (state.kind === 'start' && pos === 0) stack.push(state.next)
      else if (state.kind === 'end' && pos === value.length) stack.push(state.next)
    }
  }
  let current = new Set<number>()
  close(entry, 0, current)
  for (let pos = 0; pos < value.length && current.size > 0; pos++) {
    const unit = value[pos] as string
    const next = new Set<number>()
    for (const i of current) {
      const state = states[i] as State
      if (state.kind === 'unit' && state.test(unit)) close(state.next, pos + 1, next)
    }
    current = next
  }
  return current.has(0)
}
