// Splits each statement of a trust policy into what the analysis can decide and what it cannot.
// A condition (one operator on one key) is decidable when its key is fixed by deputy's request
// (a constant) or is one of the variable keys compared as strings (the patterns it contributes
// are collected here); anything else (another key, another operator on a variable key, a policy
// variable such as ${aws:username}, a principal naming a role session) is opaque: the analysis
// treats the statement as "may apply", which can turn a proof into `unknown` but never into a
// pass. Pure: no I/O.
import { asList, OPERATORS, parseOperator, STRING_OPERATORS, type Statement } from '../trust-policy-evaluator.js'
import type { Pattern, PatternKind } from './patterns.js'

type ConditionBlock = NonNullable<Statement['Condition']>

export interface SplitStatement {
  index: number
  /** "Sid <sid>" or "statement <index>", as findings name it. */
  label: string
  statement: Statement
  /** The statement with only its decidable conditions. */
  decidable: Statement
  /** Why the rest of it cannot be decided; empty when all of it can. */
  opaque: string[]
}

const PATTERN_KIND: Record<typeof STRING_OPERATORS[number], PatternKind> = {
  StringEquals: 'exact',
  StringNotEquals: 'exact',
  StringEqualsIgnoreCase: 'ignore-case',
  StringNotEqualsIgnoreCase: 'ignore-case',
  StringLike: 'glob',
  StringNotLike: 'glob'
}

export const statementLabel = (statement: Statement, index: number): string =>
  typeof statement.Sid === 'string' && statement.Sid !== '' ? `Sid ${statement.Sid}` : `statement ${index}`

export interface KeyKinds {
  /** Lowercased names of the keys deputy's request fixes. */
  constants: Set<string>
  /** Lowercased names of the keys whose value varies. */
  variables: Set<string>
  /** For a vendor role: the prefix of its session ARNs (arn:aws:sts::<account>:assumed-role/<name>/). */
  sessionArnPrefix?: string | undefined
  /** The vendor principal's ARN, to spot a Principal naming it in another letter case. */
  principalArn?: string | undefined
}

/** Splits every statement; collects, per variable key (lowercased), the patterns it is compared with. */
export function splitStatements (statements: Statement[], keys: KeyKinds): { split: SplitStatement[], patterns: Map<string, Pattern[]> } {
  const patterns = new Map<string, Pattern[]>()
  const split = statements.map((statement, index): SplitStatement => {
    const opaque: string[] = []
    const decidable: ConditionBlock = {}
    for (const [operator, block] of Object.entries(statement.Condition ?? {})) {
      for (const [key, wanted] of Object.entries(block)) {
        const why = opaqueBecause(operator, key, wanted, keys)
        if (why !== undefined) {
          opaque.push(why)
          continue
        }
        decidable[operator] = { ...decidable[operator], [key]: wanted }
        const base = parseOperator(operator).base as typeof STRING_OPERATORS[number]
        const kind = PATTERN_KIND[base]
        if (keys.variables.has(key.toLowerCase()) && kind !== undefined) {
          const list = patterns.get(key.toLowerCase()) ?? []
          list.push(...asList(wanted).map((text) => ({ kind, text })))
          patterns.set(key.toLowerCase(), list)
        }
      }
    }
    const { Condition: _dropped, ...rest } = statement
    // Whether a session ARN names deputy's own session depends on the session name of deputy's
    // credentials at the time: Principal may match (as "*" would), NotPrincipal may exclude.
    for (const element of ['Principal', 'NotPrincipal'] as const) {
      const principal = statement[element]
      if (typeof principal !== 'object' || principal === null || keys.sessionArnPrefix === undefined) continue
      const prefix = keys.sessionArnPrefix
      const aws = asList((principal as Record<string, unknown>).AWS)
      if (!aws.some((p) => p.startsWith(prefix))) continue
      opaque.push(`its ${element} names a session of the vendor role, which depends on the session name of deputy's own credentials`)
      rest[element] = element === 'Principal' ? '*' : { ...principal, AWS: aws.filter((p) => !p.startsWith(prefix)) }
    }
    // Where the evaluator and IAM may part ways, the statement may apply (never a proof):
    // IAM excludes a session from NotPrincipal only when its account, role and session are all
    // listed (AWS's NotPrincipal documentation), which the evaluator does not model;
    if (statement.Effect === 'Allow' && excludesVendor(statement.NotPrincipal, keys.principalArn)) {
      opaque.push('it allows with NotPrincipal, whose exclusion of deputy\'s session IAM decides on more than the ARN')
      rest.NotPrincipal = { AWS: [] }
    }
    // role and user names are case-insensitive in IAM, so a Principal that differs from the
    // vendor's ARN only in letter case may well trust the vendor.
    const named = typeof statement.Principal === 'object' && statement.Principal !== null ? asList((statement.Principal as Record<string, unknown>).AWS) : []
    if (keys.principalArn !== undefined && named.some((p) => p !== keys.principalArn && p.toLowerCase() === keys.principalArn?.toLowerCase())) {
      opaque.push('its Principal names the vendor in another letter case, which IAM may resolve to the vendor')
      rest.Principal = '*'
    }
    return {
      index,
      label: statementLabel(statement, index),
      statement,
      decidable: Object.keys(decidable).length === 0 ? rest : { ...rest, Condition: decidable },
      opaque
    }
  })
  return { split, patterns }
}

/** Whether a NotPrincipal names the vendor, its account or everyone (in any letter case). */
function excludesVendor (notPrincipal: unknown, principalArn: string | undefined): boolean {
  if (notPrincipal === undefined) return false
  if (typeof notPrincipal !== 'object' || notPrincipal === null || principalArn === undefined) return true
  const account = principalArn.split(':')[4] ?? ''
  const named = asList((notPrincipal as Record<string, unknown>).AWS).map((p) => p.toLowerCase())
  return named.some((p) => p === '*' || p === principalArn.toLowerCase() || p === account || p.endsWith(`::${account}:root`))
}

/** Stars one StringLike pattern on a varying key may have; more make its condition opaque. */
export const MAX_STARS_PER_PATTERN = 16
const starsIn = (pattern: string): number => pattern.split('*').length - 1

function opaqueBecause (operator: string, key: string, raw: unknown, keys: KeyKinds): string | undefined {
  const name = key.toLowerCase()
  const wanted = asList(raw)
  if (!keys.constants.has(name) && !keys.variables.has(name)) return `the condition key ${key} is not fixed by deputy's request (its value is not known in advance)`
  const colon = operator.indexOf(':')
  const prefix = colon === -1 ? undefined : operator.slice(0, colon)
  const parsed = prefix === undefined || prefix === 'ForAnyValue' || prefix === 'ForAllValues' ? parseOperator(operator) : undefined
  if (parsed === undefined || !OPERATORS.includes(parsed.base)) return `the operator ${operator} is not one the analysis knows`
  // IAM replaces policy variables with request values; the evaluator does not.
  if (wanted.some((w) => w.includes('${'))) return `${operator} on ${key} uses a policy variable`
  if (keys.constants.has(name)) return undefined
  // 1.0 is read as "1" here; what IAM compares a JSON number with is not documented.
  if (parsed.base !== 'Null' && [raw].flat().some((w) => typeof w !== 'string')) return `${operator} on ${key} compares with a value that is not a string`
  // IAM folds case per character as Java does (ſ is s, İ is i); JavaScript's toLowerCase does not.
  if (/IgnoreCase$/.test(parsed.base) && wanted.some((w) => /[^\x20-\x7e]/.test(w))) return `${operator} on ${key} compares, ignoring case, with a character outside ASCII`
  if (parsed.base !== 'Null' && !(STRING_OPERATORS as readonly string[]).includes(parsed.base)) return `${operator} on ${key} is outside the fragment (string operators and Null only)`
  // Each star multiplies the positions a glob's automaton can be at; `?` adds one and no choice.
  if (/Like$/.test(parsed.base) && wanted.some((w) => starsIn(w) > MAX_STARS_PER_PATTERN)) return `${operator} on ${key} has a pattern with more than ${MAX_STARS_PER_PATTERN} wildcards *`
  return undefined
}
