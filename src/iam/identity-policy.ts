// Evaluates identity policies (a role's inline policies, a session policy) for one action on one
// resource, as IAM does within one policy type: an explicit Deny wins, otherwise some Allow must
// match. Conditions go through the trust-policy evaluator's condition logic. Pure: the STS
// emulator's IAM GetRole is authorised with it.
import { globMatch } from './glob.js'
import { asList, evaluateCondition, type ConditionValue } from './trust-policy-evaluator.js'

export type IdentityDecision = 'allow' | 'deny' | 'none'

interface IdentityStatement {
  Effect?: unknown
  Action?: unknown
  NotAction?: unknown
  Resource?: unknown
  NotResource?: unknown
  Condition?: Record<string, Record<string, string | number | boolean | Array<string | number | boolean>>>
}

/** IAM wildcards: * any run of characters, ? one; actions compare case-insensitively, resources not. */
const glob = (pattern: string, value: string, ignoreCase: boolean): boolean => globMatch(pattern, value, ignoreCase)

function matches (statement: IdentityStatement, action: string, resource: string, keys: Record<string, ConditionValue>): boolean {
  const actionOk = statement.Action !== undefined
    ? asList(statement.Action).some((a) => glob(a, action, true))
    : asList(statement.NotAction).length > 0 && !asList(statement.NotAction).some((a) => glob(a, action, true))
  const resourceOk = statement.Resource !== undefined
    ? asList(statement.Resource).some((r) => glob(r, resource, false))
    : asList(statement.NotResource).length > 0 && !asList(statement.NotResource).some((r) => glob(r, resource, false))
  return actionOk && resourceOk && (statement.Condition === undefined || evaluateCondition(statement.Condition, keys))
}

/** How these policies (of one type) decide the action on the resource; malformed statements match nothing. */
export function identityDecision (documents: Array<string | object>, action: string, resource: string, keys: Record<string, ConditionValue> = {}): IdentityDecision {
  const statements = documents.flatMap((document): IdentityStatement[] => {
    try {
      const parsed = (typeof document === 'string' ? JSON.parse(document) : document) as { Statement?: unknown }
      const list = Array.isArray(parsed.Statement) ? parsed.Statement : parsed.Statement === undefined ? [] : [parsed.Statement]
      return list.filter((s): s is IdentityStatement => typeof s === 'object' && s !== null)
    } catch {
      return []
    }
  })
  const applicable = statements.filter((s) => matches(s, action, resource, keys))
  if (applicable.some((s) => s.Effect === 'Deny')) return 'deny'
  return applicable.some((s) => s.Effect === 'Allow') ? 'allow' : 'none'
}
