// The static proof: which external IDs does a trust policy admit for the vendor principal? Every
// combination of key classes (key-classes.ts) is one request shape; each statement is evaluated on
// it with the emulator's own evaluator (trust-policy-evaluator.ts) through the class's witness,
// which stands for every value of its class. A statement with opaque parts (statements.ts) "may
// apply" (three-valued, Kleene), and a decision that depends on one is `maybe`. The verdict:
//   proved    - no combination whose external ID is not one of ours (or is absent) is allowed, and
//               none may be;
//   violation - one is allowed for certain: its witness is a request AWS would accept;
//   unknown   - none is allowed for certain but one may be (an opaque part decides), or the
//               policy is outside what the analysis reads, or a size cap was reached.
// Pure: no I/O.
import { MalformedPolicyError, parseTrustPolicy, statementApplies, type ConditionValue, type RequestContext } from '../trust-policy-evaluator.js'
import { keyClasses, type KeyClass, type VariableKey } from './key-classes.js'
import { caseRepeatedConditionKey, firstDuplicateKey } from './duplicate-keys.js'
import { splitStatements, type SplitStatement } from './statements.js'

export const EXTERNAL_ID_KEY = 'sts:ExternalId'

export interface AnalysisInput {
  /** sessionArnPrefix: for a vendor role, what its sessions' ARNs start with. */
  principal: { arn: string, roleArn?: string | undefined, account: string, sessionArnPrefix?: string | undefined }
  /** Keys whose value deputy's request fixes (undefined: the request never has the key). */
  constants: Record<string, ConditionValue>
  /** Keys whose value varies; one of them is sts:ExternalId, pinned to deputy's own IDs. */
  variables: VariableKey[]
  /** The external IDs that are deputy's for this role (one; two during a rotation). */
  ours: string[]
  /** Actions every request needs, and the ones a present key adds (sts:SourceIdentity -> sts:SetSourceIdentity). */
  actions: string[]
  actionsWhenPresent: Record<string, string>
}

/** One request the policy admits although its external ID is not one of ours. */
export interface Witness {
  /** The key values of the request (absent keys left out). */
  values: Record<string, string>
  /** The statements that allow it. */
  allowedBy: string[]
}

export type AnalysisVerdict =
  | { verdict: 'proved', detail: string, combinations: number }
  | { verdict: 'violation', detail: string, witness: Witness, others: Witness[], statement: string }
  | { verdict: 'unknown', detail: string, statement: string | null }

/** How many request shapes (products of key classes) one analysis may evaluate. */
export const MAX_COMBINATIONS = 20_000
/** Request shapes × statements: bounds the evaluation's time whatever the policy (~0.1 s). */
export const MAX_EVALUATIONS = 100_000

type Tri = 'yes' | 'no' | 'maybe'
type Decision = 'allowed' | 'refused' | 'maybe'

interface Combination { values: Record<string, string | undefined> }

function * product (keys: VariableKey[], classes: KeyClass[][], at = 0, values: Record<string, string | undefined> = {}): Generator<Combination> {
  const key = keys[at]
  if (key === undefined) {
    yield { values: { ...values } }
    return
  }
  for (const c of classes[at] ?? []) yield * product(keys, classes, at + 1, { ...values, [key.name]: c.witness })
}

/** Kleene: how the statements decide one action on one request. */
function decideAction (split: SplitStatement[], action: string, ctx: RequestContext): { decision: Decision, yes: string[], maybe: string[] } {
  const tri = split.map((s): Tri => !statementApplies(s.decidable, action, ctx) ? 'no' : s.opaque.length > 0 ? 'maybe' : 'yes')
  const pick = (effect: 'Allow' | 'Deny', value: Tri): SplitStatement[] => split.filter((s, i) => s.statement.Effect === effect && tri[i] === value)
  const maybe = [...pick('Allow', 'maybe'), ...pick('Deny', 'maybe')].map((s) => s.label)
  if (pick('Deny', 'yes').length > 0) return { decision: 'refused', yes: [], maybe: [] }
  const allowYes = pick('Allow', 'yes')
  if (allowYes.length > 0 && pick('Deny', 'maybe').length === 0) return { decision: 'allowed', yes: allowYes.map((s) => s.label), maybe: [] }
  if (allowYes.length === 0 && pick('Allow', 'maybe').length === 0) return { decision: 'refused', yes: [], maybe: [] }
  return { decision: 'maybe', yes: allowYes.map((s) => s.label), maybe }
}

export interface AnalysisLimits {
  maxProductStates?: number
  maxCombinations?: number
}

export function analyseTrustPolicy (document: string | object, input: AnalysisInput, limits: AnalysisLimits = {}): AnalysisVerdict {
  const maxCombinations = limits.maxCombinations ?? MAX_COMBINATIONS
  const repeated = typeof document === 'string' ? firstDuplicateKey(document) : undefined
  if (repeated !== undefined) return { verdict: 'unknown', detail: `the trust policy repeats the key ${JSON.stringify(repeated)} in one object: which value IAM enforces is not known`, statement: null }
  let statements
  try {
    statements = parseTrustPolicy(document)
  } catch (error) {
    if (error instanceof MalformedPolicyError) return { verdict: 'unknown', detail: `the trust policy cannot be read: ${error.message}`, statement: null }
    throw error
  }
  const twice = caseRepeatedConditionKey(statements)
  if (twice !== undefined) return { verdict: 'unknown', detail: `the trust policy names the condition key ${JSON.stringify(twice[0])} twice in one block, also as ${JSON.stringify(twice[1])}: condition keys ignore case, so which value IAM enforces is not known`, statement: null }
  const lower = (keys: string[]): Set<string> => new Set(keys.map((k) => k.toLowerCase()))
  const { split, patterns } = splitStatements(statements, { constants: lower(Object.keys(input.constants)), variables: lower(input.variables.map((v) => v.name)), sessionArnPrefix: input.principal.sessionArnPrefix, principalArn: input.principal.arn })

  const classes: KeyClass[][] = []
  let combinations = 1
  for (const key of input.variables) {
    const found = keyClasses(key, patterns.get(key.name.toLowerCase()) ?? [], limits.maxProductStates)
    if (!found.ok) return { verdict: 'unknown', detail: `size cap reached: ${found.reason}`, statement: null }
    classes.push(found.classes)
    combinations *= found.classes.length
  }
  // Bounded work per analysis: the request shapes times the statements each one is judged on.
  if (combinations * Math.max(1, split.length) > MAX_EVALUATIONS) return { verdict: 'unknown', detail: `size cap reached: ${combinations} request shapes × ${split.length} statements to evaluate (at most ${MAX_EVALUATIONS})`, statement: null }
  if (combinations > maxCombinations) return { verdict: 'unknown', detail: `size cap reached: ${combinations} request shapes to evaluate (at most ${maxCombinations})`, statement: null }

  const violations: Witness[] = []
  const undecided = new Map<string, string[]>()
  for (const { values } of product(input.variables, classes)) {
    const externalId = values[EXTERNAL_ID_KEY]
    if (externalId !== undefined && input.ours.includes(externalId)) continue
    const ctx: RequestContext = {
      principalArn: input.principal.arn,
      principalRoleArn: input.principal.roleArn,
      principalAccount: input.principal.account,
      keys: { ...input.constants, ...values }
    }
    const actions = [...input.actions, ...Object.entries(input.actionsWhenPresent).filter(([key]) => values[key] !== undefined).map(([, action]) => action)]
    const decided = actions.map((action) => decideAction(split, action, ctx))
    if (decided.some((d) => d.decision === 'refused')) continue
    const present = Object.fromEntries(Object.entries(values).filter((entry): entry is [string, string] => entry[1] !== undefined))
    if (decided.every((d) => d.decision === 'allowed')) {
      violations.push({ values: present, allowedBy: [...new Set(decided.flatMap((d) => d.yes))] })
    } else {
      for (const label of decided.flatMap((d) => d.maybe)) undecided.set(label, split.find((s) => s.label === label)?.opaque ?? [])
    }
  }

  if (violations.length > 0) {
    // An external ID (what the probe's random one cannot find) before a missing one, then the
    // request closest to the one deputy sends (the most keys at their pinned values).
    const unpinned = (w: Witness): number => input.variables.filter((k) => k.name !== EXTERNAL_ID_KEY && !k.pinned.includes(w.values[k.name] ?? '')).length
    const rank = (w: Witness): number => (w.values[EXTERNAL_ID_KEY] === undefined ? 100 : 0) + unpinned(w)
    const ranked = [...violations].sort((a, b) => rank(a) - rank(b))
    const witness = ranked[0] as Witness
    const id = witness.values[EXTERNAL_ID_KEY]
    return {
      verdict: 'violation',
      detail: `${witness.allowedBy.join(', ')} admit${witness.allowedBy.length === 1 ? 's' : ''} the vendor principal ${id === undefined ? 'without an external ID' : `with the external ID ${JSON.stringify(id)}, which is not this role's`}`,
      witness,
      others: ranked.slice(1, 5),
      statement: witness.allowedBy[0] ?? ''
    }
  }
  if (undecided.size > 0) {
    const [label, why] = [...undecided.entries()][0] as [string, string[]]
    return { verdict: 'unknown', detail: `${label} may admit another external ID: ${why.join('; ')}`, statement: label }
  }
  return { verdict: 'proved', detail: `no external ID but ${input.ours.length === 1 ? 'this role\'s' : 'this account\'s current ones'}, and no request without one, is admitted for the vendor principal (${combinations} request shapes)`, combinations }
}
