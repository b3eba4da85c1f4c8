// Evaluates an IAM role trust policy for an AssumeRole request, as IAM does: an explicit Deny
// wins, otherwise some Allow must match, otherwise the request is implicitly denied. Each action
// the request needs (sts:AssumeRole, and sts:SetSourceIdentity / sts:TagSession when asked for)
// must be allowed on its own. Pure: the STS emulator decides AssumeRole with it, and the static
// proof (trust-policy-analysis/) evaluates each statement with it, so both follow one semantics.
//
// Written for deputy (Apache-2.0) rather than borrowed: the only full evaluator on npm,
// @cloud-copilot/iam-simulate, is AGPL-3.0 and may not ship in deputy. Its semantics are the
// reference we follow where IAM's documentation is silent; test/aws/trust-policy.test.ts pins
// them case by case and against it. Supported: Principal / NotPrincipal (AWS: account root,
// account id, IAM user or role ARN, role session ARN, "*"), Action / NotAction with wildcards,
// and the condition operators listed in OPERATORS with ...IfExists and ForAnyValue:/ForAllValues:.

import { globMatch } from './glob.js'

/** A string is a single-valued key; a list is a multivalued key (sts:TransitiveTagKeys, aws:TagKeys). */
export type ConditionValue = string | string[] | undefined

export interface RequestContext {
  /** The caller's identity: an IAM user ARN or an assumed-role session ARN. */
  principalArn: string
  /** For a session: the role's ARN (aws:PrincipalArn is the role, not the session). */
  principalRoleArn?: string | undefined
  principalAccount: string
  keys: Record<string, ConditionValue>
}

export interface Decision {
  allowed: boolean
  reason: 'allowed' | 'explicit_deny' | 'implicit_deny'
  /** The action that decided a refusal. */
  action?: string
}

type PolicyScalar = string | number | boolean

export interface Statement {
  Sid?: string
  Effect: 'Allow' | 'Deny'
  Principal?: unknown
  NotPrincipal?: unknown
  Action?: string | string[]
  NotAction?: string | string[]
  Condition?: Record<string, Record<string, PolicyScalar | PolicyScalar[]>>
}

export class MalformedPolicyError extends Error {
  override name = 'MalformedPolicyError'
}

export const asList = (value: unknown): string[] =>
  value === undefined ? [] : (Array.isArray(value) ? value : [value]).map((v) => String(v))

function principalMatches (principal: unknown, ctx: RequestContext): boolean {
  if (principal === '*') return true
  if (typeof principal !== 'object' || principal === null) return false
  const aws = asList((principal as Record<string, unknown>).AWS)
  const identities = [ctx.principalArn, ctx.principalRoleArn].filter((v): v is string => v !== undefined)
  return aws.some((entry) => {
    if (entry === '*') return true
    if (/^\d{12}$/.test(entry)) return entry === ctx.principalAccount
    const root = /^arn:[\w-]+:iam::(\d{12}):root$/.exec(entry)
    if (root !== null) return root[1] === ctx.principalAccount
    return identities.includes(entry)
  })
}

/**
 * Compares one policy value with one request value: true or false, or undefined when either is
 * not of the operator's type (not an ARN, a date, a number, a boolean). Undefined never
 * satisfies an operator, negated or not: an unparsable value is a non-match.
 */
type Comparator = (wanted: string, actual: string) => boolean | undefined

const typed = <T>(parse: (value: string) => T | undefined, test: (wanted: T, actual: T) => boolean): Comparator =>
  (wanted, actual) => {
    const w = parse(wanted)
    const a = parse(actual)
    return w === undefined || a === undefined ? undefined : test(w, a)
  }

/** The six ARN components; the sixth (resource) keeps any further colons. */
function arnComponents (value: string): string[] | undefined {
  const parts = value.split(':')
  if (parts.length < 6 || parts[0] !== 'arn') return undefined
  return [...parts.slice(0, 5), parts.slice(5).join(':')]
}

/**
 * IAM checks each of the six ARN components on its own, so a wildcard never spans a colon between
 * them. A request value that is not an ARN cannot be compared (no ARN operator holds on it); a
 * policy pattern that is not an ARN matches no ARN (so ArnNotLike, "negated matching", holds).
 */
const arnLike: Comparator = (wanted, actual) => {
  const value = arnComponents(actual)
  if (value === undefined) return undefined
  const pattern = arnComponents(wanted)
  return pattern !== undefined && pattern.every((p, i) => globMatch(p, value[i] ?? ''))
}

/**
 * Epoch seconds (all digits), or a W3C profile of ISO 8601 from YYYY-MM on; a time needs a zone,
 * as the profile says (JavaScript would otherwise read it as local time).
 */
function parseDate (value: string): number | undefined {
  if (/^\d+$/.test(value)) return Number(value) * 1000
  if (!/^\d{4}-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?)?$/.test(value)) return undefined
  const ms = Date.parse(value)
  return Number.isNaN(ms) ? undefined : ms
}

function parseNumber (value: string): number | undefined {
  return /^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(value) ? Number(value) : undefined
}

function parseBool (value: string): boolean | undefined {
  const lower = value.toLowerCase()
  return lower === 'true' ? true : lower === 'false' ? false : undefined
}

const stringEquals: Comparator = (w, a) => w === a
const stringEqualsIgnoreCase: Comparator = (w, a) => w.toLowerCase() === a.toLowerCase()
const stringLike: Comparator = (w, a) => globMatch(w, a)
const dateEquals = typed(parseDate, (w, a) => a === w)
const dateLessThan = typed(parseDate, (w, a) => a < w)
const dateLessThanEquals = typed(parseDate, (w, a) => a <= w)
const numericEquals = typed(parseNumber, (w, a) => a === w)
const numericLessThan = typed(parseNumber, (w, a) => a < w)
const numericLessThanEquals = typed(parseNumber, (w, a) => a <= w)
const flip = (compare: Comparator): Comparator => (w, a) => compare(a, w)

interface Operator { compare: Comparator, negated: boolean }
const positive = (compare: Comparator): Operator => ({ compare, negated: false })
const negated = (compare: Comparator): Operator => ({ compare, negated: true })

const OPERATOR_BY_NAME: Record<string, Operator> = {
  StringEquals: positive(stringEquals),
  StringNotEquals: negated(stringEquals),
  StringEqualsIgnoreCase: positive(stringEqualsIgnoreCase),
  StringNotEqualsIgnoreCase: negated(stringEqualsIgnoreCase),
  StringLike: positive(stringLike),
  StringNotLike: negated(stringLike),
  ArnEquals: positive(arnLike),
  ArnLike: positive(arnLike),
  ArnNotEquals: negated(arnLike),
  ArnNotLike: negated(arnLike),
  Bool: positive(typed(parseBool, (w, a) => w === a)),
  DateEquals: positive(dateEquals),
  DateNotEquals: negated(dateEquals),
  DateLessThan: positive(dateLessThan),
  DateLessThanEquals: positive(dateLessThanEquals),
  DateGreaterThan: positive(flip(dateLessThan)),
  DateGreaterThanEquals: positive(flip(dateLessThanEquals)),
  NumericEquals: positive(numericEquals),
  NumericNotEquals: negated(numericEquals),
  NumericLessThan: positive(numericLessThan),
  NumericLessThanEquals: positive(numericLessThanEquals),
  NumericGreaterThan: positive(flip(numericLessThan)),
  NumericGreaterThanEquals: positive(flip(numericLessThanEquals))
}

export const OPERATORS = [...Object.keys(OPERATOR_BY_NAME), 'Null']

/** The operators that compare strings; only these take part in the static proof's classes. */
export const STRING_OPERATORS = ['StringEquals', 'StringNotEquals', 'StringEqualsIgnoreCase', 'StringNotEqualsIgnoreCase', 'StringLike', 'StringNotLike'] as const

export interface ParsedOperator { set: 'any' | 'all' | undefined, base: string, ifExists: boolean }

const SET_OPERATORS = { ForAnyValue: 'any', ForAllValues: 'all' } as const

export function parseOperator (name: string): ParsedOperator {
  const colon = name.indexOf(':')
  const prefix = colon === -1 ? undefined : name.slice(0, colon)
  if (prefix !== undefined && prefix !== 'ForAnyValue' && prefix !== 'ForAllValues') throw new MalformedPolicyError(`unsupported condition operator ${name}`)
  const rest = name.slice(colon + 1)
  const ifExists = rest.endsWith('IfExists')
  return {
    set: prefix === undefined ? undefined : SET_OPERATORS[prefix],
    base: ifExists ? rest.slice(0, -'IfExists'.length) : rest,
    ifExists
  }
}

/** Condition keys are case-insensitive. */
function lookUp (keys: Record<string, ConditionValue>, key: string): ConditionValue {
  if (Object.hasOwn(keys, key)) return keys[key]
  const match = Object.keys(keys).find((k) => k.toLowerCase() === key.toLowerCase())
  return match === undefined ? undefined : keys[match]
}

/** Several policy values are OR for a positive operator; a negated one must differ from them all. */
function valueHolds (operator: Operator, wanted: string[], actual: string): boolean {
  const outcomes = wanted.map((w) => operator.compare(w, actual))
  return operator.negated ? outcomes.every((o) => o === false) : outcomes.some((o) => o === true)
}

/**
 * A missing key (or an empty list): ForAnyValue over an empty set is false whatever the operator
 * (even with IfExists), ForAllValues over it is vacuously true; otherwise ...IfExists and negated
 * operators hold and the rest do not.
 */
function missingKeyHolds (parsed: ParsedOperator, operator: Operator): boolean {
  if (parsed.set === 'any') return false
  if (parsed.set === 'all') return true
  return parsed.ifExists || operator.negated
}

function conditionHolds (operatorName: string, key: string, wantedRaw: unknown, ctx: RequestContext): boolean {
  const parsed = parseOperator(operatorName)
  const wanted = asList(wantedRaw)
  const actual = lookUp(ctx.keys, key)
  const values = asList(actual)
  if (parsed.base === 'Null') {
    const absent = values.length === 0 ? 'true' : 'false'
    return wanted.some((w) => w.toLowerCase() === absent)
  }
  const operator = OPERATOR_BY_NAME[parsed.base]
  if (operator === undefined) throw new MalformedPolicyError(`unsupported condition operator ${operatorName}`)
  if (values.length === 0) return missingKeyHolds(parsed, operator)
  if (parsed.set === 'any') return values.some((v) => valueHolds(operator, wanted, v))
  if (parsed.set === 'all') return values.every((v) => valueHolds(operator, wanted, v))
  // A multivalued key needs a set operator; a single-valued operator on it does not match.
  if (Array.isArray(actual)) return false
  return valueHolds(operator, wanted, values[0] ?? '')
}

function conditionsHold (condition: Statement['Condition'], ctx: RequestContext): boolean {
  if (condition === undefined) return true
  return Object.entries(condition).every(([operator, block]) =>
    Object.entries(block).every(([key, wanted]) => conditionHolds(operator, key, wanted, ctx)))
}

/**
 * Evaluates one policy Condition block against request keys, as IAM does for any statement:
 * every operator and every key must hold. Exported for deputy's own policy documents (the
 * revocation deny policy) so they are checked with the same evaluator the emulator uses.
 */
export function evaluateCondition (condition: Record<string, Record<string, PolicyScalar | PolicyScalar[]>>, keys: Record<string, ConditionValue>): boolean {
  return conditionsHold(condition, { principalArn: '', principalAccount: '', keys })
}

function actionMatches (statement: Statement, action: string): boolean {
  if (statement.Action !== undefined) return asList(statement.Action).some((a) => globMatch(a, action, true))
  if (statement.NotAction !== undefined) return !asList(statement.NotAction).some((a) => globMatch(a, action, true))
  return false
}

/** Whether one statement matches the request for this action (its principal, action and conditions). */
export function statementApplies (statement: Statement, action: string, ctx: RequestContext): boolean {
  const principalOk = statement.Principal !== undefined
    ? principalMatches(statement.Principal, ctx)
    : statement.NotPrincipal !== undefined && !principalMatches(statement.NotPrincipal, ctx)
  return principalOk && actionMatches(statement, action) && conditionsHold(statement.Condition, ctx)
}

export function parseTrustPolicy (document: string | object): Statement[] {
  let policy: unknown
  try {
    policy = typeof document === 'string' ? JSON.parse(document) : document
  } catch {
    throw new MalformedPolicyError('the trust policy is not valid JSON')
  }
  const statements = (policy as { Statement?: unknown }).Statement
  const list = Array.isArray(statements) ? statements : statements === undefined ? [] : [statements]
  if (list.length === 0) throw new MalformedPolicyError('the trust policy has no Statement')
  for (const s of list as Statement[]) {
    if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw new MalformedPolicyError('every statement needs Effect Allow or Deny')
    if ((s.Principal === undefined) === (s.NotPrincipal === undefined)) throw new MalformedPolicyError('a trust policy statement needs exactly one of Principal or NotPrincipal')
    if ((s.Action === undefined) === (s.NotAction === undefined)) throw new MalformedPolicyError('every statement needs exactly one of Action or NotAction')
  }
  return list as Statement[]
}

/** Decides whether every action in `actions` is allowed for the request. */
export function evaluateTrustPolicy (document: string | object, actions: string[], ctx: RequestContext): Decision {
  const statements = parseTrustPolicy(document)
  for (const action of actions) {
    const applicable = statements.filter((s) => statementApplies(s, action, ctx))
    if (applicable.some((s) => s.Effect === 'Deny')) return { allowed: false, reason: 'explicit_deny', action }
    if (!applicable.some((s) => s.Effect === 'Allow')) return { allowed: false, reason: 'implicit_deny', action }
  }
  return { allowed: true, reason: 'allowed' }
}
