// The grammar of IAM policy documents, checked without AWS: what IAM would refuse as malformed
// (MalformedPolicyDocument), for identity policies (a role's inline policy) and trust policies.
// Pure: deputy's configuration checks the vendor's permission set with it at start, and the tests
// check every document deputy generates with it. It checks shape, not meaning: an action name
// that no service has passes, as it does in IAM.
import { globMatch } from './glob.js'

/** IAM's limit on the inline policies of one role together, counted without whitespace. */
export const ROLE_INLINE_POLICIES_MAX_CHARS = 10_240

export const POLICY_VERSION = '2012-10-17'

export type ConditionScalar = string | number | boolean
export type ConditionBlock = Record<string, Record<string, ConditionScalar | ConditionScalar[]>>

/** A statement of an identity policy (no Principal). */
export interface IamStatement {
  Sid?: string
  Effect: 'Allow' | 'Deny'
  Action?: string | string[]
  NotAction?: string | string[]
  Resource?: string | string[]
  NotResource?: string | string[]
  Condition?: ConditionBlock
}

export interface PolicyDocument<S = IamStatement> {
  Version: typeof POLICY_VERSION
  Statement: S[]
}

// Every condition operator IAM knows; each but Null also takes the IfExists suffix.
const CONDITION_OPERATORS = new Set([
  'StringEquals', 'StringNotEquals', 'StringEqualsIgnoreCase', 'StringNotEqualsIgnoreCase', 'StringLike', 'StringNotLike',
  'NumericEquals', 'NumericNotEquals', 'NumericLessThan', 'NumericLessThanEquals', 'NumericGreaterThan', 'NumericGreaterThanEquals',
  'DateEquals', 'DateNotEquals', 'DateLessThan', 'DateLessThanEquals', 'DateGreaterThan', 'DateGreaterThanEquals',
  'Bool', 'BinaryEquals', 'IpAddress', 'NotIpAddress', 'ArnEquals', 'ArnLike', 'ArnNotEquals', 'ArnNotLike'
])

const ACTION = /^(\*|[A-Za-z0-9*?-]+:[A-Za-z0-9*?]+)$/
const RESOURCE = /^(\*|arn:[^:]*:[^:]*:[^:]*:[^:]*:.+)$/
// IAM allows only letters and digits in the Sid of an IAM policy.
const SID = /^[A-Za-z0-9]*$/
const CONDITION_KEY = /^[\x21-\x7e]{1,256}$/
const PRINCIPAL_TYPES = new Set(['AWS', 'Service', 'Federated', 'CanonicalUser'])

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)
const show = (value: unknown): string => JSON.stringify(value)?.slice(0, 80) ?? String(value)

export function isConditionOperator (name: string): boolean {
  const colon = name.indexOf(':')
  const prefix = colon === -1 ? undefined : name.slice(0, colon)
  if (prefix !== undefined && prefix !== 'ForAnyValue' && prefix !== 'ForAllValues') return false
  const base = name.slice(colon + 1)
  if (base === 'Null') return true
  return CONDITION_OPERATORS.has(base.endsWith('IfExists') ? base.slice(0, -'IfExists'.length) : base)
}

/** A string or a non-empty list of strings, each matching `pattern`. */
function listProblems (where: string, name: string, value: unknown, pattern: RegExp, what: string): string[] {
  const list = Array.isArray(value) ? value : [value]
  if (Array.isArray(value) && value.length === 0) return [`${where}: ${name} is an empty list`]
  const bad = list.filter((entry) => typeof entry !== 'string' || !pattern.test(entry))
  return bad.length === 0 ? [] : [`${where}: ${name} ${show(bad[0])} is not ${what}`]
}

function conditionProblems (where: string, condition: unknown): string[] {
  if (!isObject(condition)) return [`${where}: Condition must be an object of operators`]
  const problems: string[] = []
  for (const [operator, block] of Object.entries(condition)) {
    if (!isConditionOperator(operator)) problems.push(`${where}: ${show(operator)} is not an IAM condition operator`)
    if (!isObject(block) || Object.keys(block).length === 0) {
      problems.push(`${where}: Condition ${operator} must be an object of condition keys`)
      continue
    }
    for (const [key, value] of Object.entries(block)) {
      if (!CONDITION_KEY.test(key)) problems.push(`${where}: condition key ${show(key)} is not valid`)
      const values = Array.isArray(value) ? value : [value]
      if (Array.isArray(value) && value.length === 0) problems.push(`${where}: condition ${operator} ${key} has an empty list of values`)
      if (values.some((v) => !['string', 'number', 'boolean'].includes(typeof v))) problems.push(`${where}: condition ${operator} ${key} values must be strings, numbers or booleans`)
    }
  }
  return problems
}

function principalProblems (where: string, name: string, principal: unknown): string[] {
  if (principal === '*') return []
  if (!isObject(principal) || Object.keys(principal).length === 0) return [`${where}: ${name} must be "*" or an object such as {"AWS": "<ARN>"}`]
  const problems: string[] = []
  for (const [type, value] of Object.entries(principal)) {
    if (!PRINCIPAL_TYPES.has(type)) problems.push(`${where}: ${name} type ${show(type)} is not AWS, Service, Federated or CanonicalUser`)
    problems.push(...listProblems(where, `${name} ${type}`, value, /^\S+$/, 'a principal'))
  }
  return problems
}

/**
 * The problems IAM would find in one statement. `kind` decides the elements: an identity policy
 * names resources and no principal, a trust policy names a principal and no resource.
 */
function statementProblems (statement: unknown, index: number, kind: 'identity' | 'trust'): string[] {
  const where = `statement ${index}`
  if (!isObject(statement)) return [`${where} is not an object`]
  const allowed = kind === 'identity'
    ? ['Sid', 'Effect', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition']
    : ['Sid', 'Effect', 'Principal', 'NotPrincipal', 'Action', 'NotAction', 'Condition']
  const problems: string[] = []
  const unknown = Object.keys(statement).filter((key) => !allowed.includes(key))
  if (unknown.length > 0) problems.push(`${where} has elements a${kind === 'identity' ? 'n identity' : ' trust'} policy statement cannot have: ${unknown.map(show).join(', ')} (allowed: ${allowed.join(', ')})`)
  const { Sid: sid, Effect: effect, Condition: condition } = statement
  if (sid !== undefined && (typeof sid !== 'string' || !SID.test(sid))) problems.push(`${where}: Sid ${show(sid)} may hold only letters and digits`)
  if (effect !== 'Allow' && effect !== 'Deny') problems.push(`${where}: Effect must be "Allow" or "Deny", got ${show(effect)}`)
  const exactlyOne = (a: string, b: string): void => {
    if ((statement[a] === undefined) === (statement[b] === undefined)) problems.push(`${where} needs exactly one of ${a} or ${b}`)
  }
  exactlyOne('Action', 'NotAction')
  for (const name of ['Action', 'NotAction']) {
    if (statement[name] !== undefined) problems.push(...listProblems(where, name, statement[name], ACTION, 'an action ("service:Action", wildcards * and ? allowed, or "*")'))
  }
  if (kind === 'identity') {
    exactlyOne('Resource', 'NotResource')
    for (const name of ['Resource', 'NotResource']) {
      if (statement[name] !== undefined) problems.push(...listProblems(where, name, statement[name], RESOURCE, 'a resource ("*" or an ARN)'))
    }
  } else {
    exactlyOne('Principal', 'NotPrincipal')
    for (const name of ['Principal', 'NotPrincipal']) {
      if (statement[name] !== undefined) problems.push(...principalProblems(where, name, statement[name]))
    }
  }
  if (condition !== undefined) problems.push(...conditionProblems(where, condition))
  return problems
}

/** The problems IAM would find in these statements of one policy (an empty list: none). */
export function statementsProblems (statements: unknown, kind: 'identity' | 'trust'): string[] {
  if (!Array.isArray(statements) || statements.length === 0) return ['Statement must be a non-empty list of statements']
  const problems = statements.flatMap((s, i) => statementProblems(s, i, kind))
  const sids = statements.map((s) => (isObject(s) ? s.Sid : undefined)).filter((sid): sid is string => typeof sid === 'string' && sid !== '')
  const repeated = sids.filter((sid, i) => sids.indexOf(sid) !== i)
  if (repeated.length > 0) problems.push(`Sid ${show(repeated[0])} is used twice; Sids must be unique within a policy`)
  return problems
}

/** The problems IAM would find in a whole policy document. */
export function policyDocumentProblems (document: unknown, kind: 'identity' | 'trust'): string[] {
  if (!isObject(document)) return ['a policy document must be a JSON object']
  const problems: string[] = []
  const unknown = Object.keys(document).filter((key) => !['Version', 'Id', 'Statement'].includes(key))
  if (unknown.length > 0) problems.push(`a policy document has only Version, Id and Statement, not ${unknown.map(show).join(', ')}`)
  if (document.Version !== POLICY_VERSION) problems.push(`Version must be "${POLICY_VERSION}" (policy variables need it), got ${show(document.Version)}`)
  const statements = isObject(document.Statement) ? [document.Statement] : document.Statement
  return [...problems, ...statementsProblems(statements, kind)]
}

/**
 * Characters IAM counts against its size limits: the minified document. Whitespace inside string
 * values is counted too, so this errs on the safe side of IAM's count.
 */
export const policyLength = (document: object): number => JSON.stringify(document).length

const asList = (value: string | string[] | undefined): string[] => value === undefined ? [] : Array.isArray(value) ? value : [value]
/** IAM's glob: `*` any run of characters, `?` any one (case-insensitive, as IAM compares actions). */
const globMatches = (pattern: string, value: string): boolean => globMatch(pattern, value, true)
// A pattern that matches an action or an ARN nobody would name on purpose matches every one:
// "*", "*:*", "?*:*", "arn:aws:*:*:*:*" and the like.
const ANY_ACTION = 'zzqx9:Zzqx9Anything'
const ANY_RESOURCES = ['aws', 'aws-cn', 'aws-us-gov'].map((partition) => `arn:${partition}:zzqx9:zz-zzqx-9:000000000000:zzqx9/zzqx9`)

/**
 * True for an Allow of every action on every resource (the AdministratorAccess statement), with
 * or without conditions: actions that match any action (or every action but some, NotAction) on
 * resources that match any ARN of a partition (or every resource but some, NotResource).
 */
export function grantsEverything (statement: IamStatement): boolean {
  if (statement.Effect !== 'Allow') return false
  const everyAction = statement.NotAction !== undefined || asList(statement.Action).some((a) => globMatches(a, ANY_ACTION))
  const everyResource = statement.NotResource !== undefined || asList(statement.Resource).some((r) => ANY_RESOURCES.some((arn) => globMatches(r, arn)))
  return everyAction && everyResource
}
