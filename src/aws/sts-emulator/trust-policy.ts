// Evaluates an IAM role trust policy for an AssumeRole request, as IAM does: an explicit Deny
// wins, otherwise some Allow must match, otherwise the request is implicitly denied. Each action
// the request needs (sts:AssumeRole, and sts:SetSourceIdentity / sts:TagSession when asked for)
// must be allowed on its own.
//
// Written for deputy (Apache-2.0) rather than borrowed: the only full evaluator on npm,
// @cloud-copilot/iam-simulate, is AGPL-3.0 and may not ship in deputy. Its semantics are the
// reference we follow; test/aws/trust-policy.test.ts pins them case by case. Supported:
// Principal / NotPrincipal (AWS: account root, account id, IAM user or role ARN, "*"),
// Action / NotAction with wildcards, and the condition operators listed in OPERATORS with
// ...IfExists and ForAnyValue:/ForAllValues: prefixes.

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

interface Statement {
  Sid?: string
  Effect: 'Allow' | 'Deny'
  Principal?: unknown
  NotPrincipal?: unknown
  Action?: string | string[]
  NotAction?: string | string[]
  Condition?: Record<string, Record<string, string | string[] | boolean>>
}

export class MalformedPolicyError extends Error {
  override name = 'MalformedPolicyError'
}

const asList = (value: unknown): string[] =>
  value === undefined ? [] : (Array.isArray(value) ? value : [value]).map((v) => String(v))

/** IAM wildcards: * any run of characters, ? one character. */
function globMatch (pattern: string, value: string, ignoreCase = false): boolean {
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')
  return new RegExp(`^${escaped}$`, ignoreCase ? 'is' : 's').test(value)
}

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

type Comparator = (wanted: string, actual: string) => boolean

const COMPARATORS: Record<string, { compare: Comparator, negated: boolean }> = {
  StringEquals: { compare: (w, a) => w === a, negated: false },
  StringNotEquals: { compare: (w, a) => w === a, negated: true },
  StringEqualsIgnoreCase: { compare: (w, a) => w.toLowerCase() === a.toLowerCase(), negated: false },
  StringNotEqualsIgnoreCase: { compare: (w, a) => w.toLowerCase() === a.toLowerCase(), negated: true },
  StringLike: { compare: (w, a) => globMatch(w, a), negated: false },
  StringNotLike: { compare: (w, a) => globMatch(w, a), negated: true },
  ArnEquals: { compare: (w, a) => globMatch(w, a), negated: false },
  ArnLike: { compare: (w, a) => globMatch(w, a), negated: false },
  ArnNotEquals: { compare: (w, a) => globMatch(w, a), negated: true },
  ArnNotLike: { compare: (w, a) => globMatch(w, a), negated: true },
  Bool: { compare: (w, a) => w.toLowerCase() === a.toLowerCase(), negated: false }
}

export const OPERATORS = [...Object.keys(COMPARATORS), 'Null']

function conditionHolds (operatorName: string, key: string, wantedRaw: string | string[] | boolean, ctx: RequestContext): boolean {
  let operator = operatorName
  let setMode: 'single' | 'any' | 'all' = 'single'
  if (operator.startsWith('ForAnyValue:')) { setMode = 'any'; operator = operator.slice('ForAnyValue:'.length) }
  if (operator.startsWith('ForAllValues:')) { setMode = 'all'; operator = operator.slice('ForAllValues:'.length) }
  const ifExists = operator.endsWith('IfExists')
  if (ifExists) operator = operator.slice(0, -'IfExists'.length)
  const wanted = asList(wantedRaw)
  const actualRaw = ctx.keys[key] ?? ctx.keys[Object.keys(ctx.keys).find((k) => k.toLowerCase() === key.toLowerCase()) ?? '']
  const actual = actualRaw === undefined ? [] : asList(actualRaw)

  if (operator === 'Null') {
    const expectAbsent = wanted.some((w) => w.toLowerCase() === 'true')
    return expectAbsent === (actual.length === 0)
  }
  const comparator = COMPARATORS[operator]
  if (comparator === undefined) throw new MalformedPolicyError(`unsupported condition operator ${operatorName}`)
  if (actual.length === 0) {
    if (ifExists) return true
    if (setMode === 'all') return true // ForAllValues over an empty set is vacuously true
    return comparator.negated
  }
  const matchesAny = (value: string): boolean => wanted.some((w) => comparator.compare(w, value))
  if (setMode === 'all') return actual.every((v) => comparator.negated ? !matchesAny(v) : matchesAny(v))
  // Single-valued keys and ForAnyValue: some value matches some wanted value.
  return comparator.negated ? !actual.some(matchesAny) : actual.some(matchesAny)
}

function conditionsHold (condition: Statement['Condition'], ctx: RequestContext): boolean {
  if (condition === undefined) return true
  return Object.entries(condition).every(([operator, block]) =>
    Object.entries(block).every(([key, wanted]) => conditionHolds(operator, key, wanted, ctx)))
}

function actionMatches (statement: Statement, action: string): boolean {
  if (statement.Action !== undefined) return asList(statement.Action).some((a) => globMatch(a, action, true))
  if (statement.NotAction !== undefined) return !asList(statement.NotAction).some((a) => globMatch(a, action, true))
  return false
}

function statementApplies (statement: Statement, action: string, ctx: RequestContext): boolean {
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
