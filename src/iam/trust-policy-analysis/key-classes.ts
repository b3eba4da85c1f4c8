// The classes of values of one condition key: two values are in the same class when every pattern
// the policy compares the key with matches both or neither, so every statement treats them alike.
// A breadth-first search over the product of the patterns' automata (with a length counter)
// reaches every class a valid value can be in, and finds its shortest value as the class's
// witness; "absent" is a class of its own when the request may leave the key out. Pure: no I/O.
import { alphabet, compilePattern, type Pattern, type PatternState } from './patterns.js'

/** A condition key whose value deputy's request leaves open: every valid value is considered. */
export interface VariableKey {
  name: string
  /** The characters a value may have (AWS's pattern for the parameter). */
  charset: string
  minLength: number
  maxLength: number
  /** Whether a request may leave the key out. */
  mayBeAbsent: boolean
  /** Values that get a class (and witness) of their own: deputy's own, or the ones it would send. */
  pinned: string[]
}

export interface KeyClass {
  /** A value of the class, shortest first; undefined for the "absent" class. */
  witness: string | undefined
  /** For each pattern, whether the class's values match it ("absent" matches none). */
  matches: boolean[]
}

export type KeyClasses = { ok: true, classes: KeyClass[], patterns: Pattern[] } | { ok: false, reason: string }

/** How many product states one key's search may visit before the analysis gives up (unknown). */
export const MAX_PRODUCT_STATES = 50_000
/**
 * How many pattern steps (states visited × characters × patterns) the search may take: the state
 * cap alone let ten globs like *a*d* hold the event loop for 10 s; this one stops them in about
 * 0.3 s on a 2-core machine.
 */
export const MAX_PATTERN_STEPS = 400_000

export function keyClasses (key: VariableKey, policyPatterns: Pattern[], maxStates = MAX_PRODUCT_STATES): KeyClasses {
  const seen = new Set<string>()
  const patterns: Pattern[] = []
  for (const p of [...policyPatterns, ...key.pinned.map((text): Pattern => ({ kind: 'exact', text }))]) {
    const id = `${p.kind}\u0000${p.text}`
    if (!seen.has(id)) {
      seen.add(id)
      patterns.push(p)
    }
  }
  const compiled = patterns.map(compilePattern)
  const chars = alphabet(compiled, key.charset)
  type Node = { states: PatternState[], length: number, value: string }
  const idOf = (node: Node): string => `${Math.min(node.length, key.minLength)}|${node.states.map((s) => s.join(',')).join(';')}`
  const start: Node = { states: compiled.map((p) => p.start), length: 0, value: '' }
  const visited = new Set([idOf(start)])
  const classes = new Map<string, KeyClass>()
  if (key.mayBeAbsent) classes.set('absent', { witness: undefined, matches: patterns.map(() => false) })
  let frontier = [start]
  let steps = 0
  while (frontier.length > 0) {
    const next: Node[] = []
    for (const node of frontier) {
      if (node.length >= key.minLength) {
        const matches = compiled.map((p, i) => p.accepts(node.states[i] ?? []))
        const signature = matches.map((m) => (m ? '1' : '0')).join('')
        // Breadth first: the first value seen in a class is one of its shortest.
        if (!classes.has(signature)) classes.set(signature, { witness: node.value, matches })
      }
      if (node.length === key.maxLength) continue
      for (const char of chars) {
        steps += compiled.length
        if (steps > MAX_PATTERN_STEPS) return { ok: false, reason: `the ${patterns.length} patterns on ${key.name} need more than ${MAX_PATTERN_STEPS} automaton steps` }
        const child: Node = { states: compiled.map((p, i) => p.step(node.states[i] ?? [], char)), length: node.length + 1, value: node.value + char }
        const id = idOf(child)
        if (visited.has(id)) continue
        visited.add(id)
        if (visited.size > maxStates) return { ok: false, reason: `the ${patterns.length} patterns on ${key.name} need more than ${maxStates} automaton states` }
        next.push(child)
      }
    }
    frontier = next
  }
  return { ok: true, classes: [...classes.values()], patterns }
}
