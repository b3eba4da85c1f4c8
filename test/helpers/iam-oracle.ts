// An evaluator that is not deputy's, as a judge of the static proof: @cloud-copilot/iam-simulate
// (AGPL-3.0, a devDependency used only by tests, never imported by src/). It decides whether a
// trust policy admits the vendor principal (an IAM user) with these condition-key values, for
// sts:AssumeRole and, when a source identity is set, sts:SetSourceIdentity too, as AWS requires.
import { runSimulation } from '@cloud-copilot/iam-simulate'

const ROLE = 'arn:aws:iam::222222222222:role/DeputyAccess'
const IDENTITY = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'], Resource: '*' }] }

/** true or false, or a string saying why iam-simulate gave no answer. */
export async function iamSimulateAdmits (policy: object, vendorArn: string, values: Record<string, string | undefined>): Promise<boolean | string> {
  const account = vendorArn.split(':')[4] ?? ''
  const contextVariables: Record<string, string> = { 'aws:PrincipalArn': vendorArn, 'aws:PrincipalAccount': account, 'aws:PrincipalType': 'User' }
  for (const [key, value] of Object.entries(values)) if (value !== undefined) contextVariables[key] = value
  // iam-simulate keeps only the context keys it lists for the action, and sts:ExternalId is not
  // listed for sts:SetSourceIdentity, though IAM evaluates both actions on the one request. So
  // sts:SetSourceIdentity is asked as sts:AssumeRole on the policy with the two names swapped
  // (exact for the action names tests use: these two, sts:* and *).
  const asked = values['sts:SourceIdentity'] === undefined ? [policy] : [policy, swapActions(policy)]
  for (const resourcePolicy of asked) {
    const result = await runSimulation({
      identityPolicies: [{ name: 'vendor', policy: IDENTITY }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy,
      request: { action: 'sts:AssumeRole', principal: vendorArn, resource: { accountId: '222222222222', resource: ROLE }, contextVariables }
    }, {})
    if (result.resultType === 'error') return `iam-simulate error: ${JSON.stringify(result.errors).slice(0, 300)}`
    if (result.overallResult !== 'Allowed') return false
  }
  return true
}

const SWAP: Record<string, string> = { 'sts:assumerole': 'sts:SetSourceIdentity', 'sts:setsourceidentity': 'sts:AssumeRole' }
const swapOne = (action: unknown): unknown => typeof action === 'string' ? SWAP[action.toLowerCase()] ?? action : action
const swapList = (actions: unknown): unknown => Array.isArray(actions) ? actions.map(swapOne) : swapOne(actions)

function swapActions (policy: object): object {
  const statements = (policy as { Statement?: unknown }).Statement
  const list = Array.isArray(statements) ? statements : [statements]
  return { ...policy, Statement: list.map((s: Record<string, unknown>) => ({ ...s, ...('Action' in s ? { Action: swapList(s.Action) } : {}), ...('NotAction' in s ? { NotAction: swapList(s.NotAction) } : {}) })) }
}
