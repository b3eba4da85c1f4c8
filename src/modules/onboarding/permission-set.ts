// The vendor's permission set: what the role a customer deploys grants the vendor (AWS managed or
// customer managed policy ARNs, and inline statements), read from ONBOARDING_PERMISSIONS_FILE and
// checked at start against IAM's grammar and limits, so no customer is handed a template that IAM
// refuses or that quietly grants administrator access. Pure: no I/O.
import { grantsEverything, policyLength, POLICY_VERSION, ROLE_INLINE_POLICIES_MAX_CHARS, statementsProblems, type IamStatement, type PolicyDocument } from '../../iam/policy-document.js'

export interface PermissionSet {
  managedPolicyArns: string[]
  /** Statements of the role's one inline policy (INLINE_POLICY_NAME); empty: no inline policy. */
  statements: IamStatement[]
}

export const NO_PERMISSIONS: PermissionSet = { managedPolicyArns: [], statements: [] }

/**
 * Managed policies per role: IAM's default quota is 10 (20 once the account's owner has it
 * raised). The role is created in the customer's account, whose quota the vendor does not know,
 * so deputy keeps to the default: an 11th policy would fail the customer's deployment.
 */
export const MANAGED_POLICIES_MAX = 10

/** The name of the role's inline policy in every generated document. */
export const INLINE_POLICY_NAME = 'DeputyPermissions'

export const MANAGED_POLICY_ARN = /^arn:(aws|aws-cn|aws-us-gov):iam::(aws|[0-9]{12}):policy\/([\x21-\x7e]*\/)?[\w+=,.@-]{1,128}$/
const ADMINISTRATOR_ACCESS = /^arn:[\w-]+:iam::aws:policy\/AdministratorAccess$/

export class PermissionSetError extends Error {
  override name = 'PermissionSetError'
}

export interface ParsedPermissionSet {
  permissions: PermissionSet
  /** What the vendor should know before handing this to customers (admin access allowed, ...). */
  warnings: string[]
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)

/**
 * Checks a permission set `{"managedPolicyArns": [...], "statements": [...]}`: valid IAM
 * statements (no Principal), well-formed and distinct managed policy ARNs, at most
 * MANAGED_POLICIES_MAX of them, an inline policy within IAM's size limit, and no grant of every
 * action on every resource (statement or AdministratorAccess) unless `allowAdmin`.
 */
export function parsePermissionSet (value: unknown, options: { allowAdmin: boolean }): ParsedPermissionSet {
  if (!isObject(value)) throw new PermissionSetError('must be a JSON object {"managedPolicyArns": [...], "statements": [...]}')
  const unknown = Object.keys(value).filter((key) => key !== 'managedPolicyArns' && key !== 'statements')
  if (unknown.length > 0) throw new PermissionSetError(`has unknown fields (${unknown.map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}); allowed: managedPolicyArns, statements`)
  const { managedPolicyArns = [], statements = [] } = value
  if (!Array.isArray(managedPolicyArns)) throw new PermissionSetError('managedPolicyArns must be a list of policy ARNs')
  if (!Array.isArray(statements)) throw new PermissionSetError('statements must be a list of IAM policy statements')

  const badArn = managedPolicyArns.find((arn) => typeof arn !== 'string' || !MANAGED_POLICY_ARN.test(arn))
  if (badArn !== undefined) throw new PermissionSetError(`managedPolicyArns: ${JSON.stringify(badArn).slice(0, 120)} is not a managed policy ARN (arn:aws:iam::aws:policy/ReadOnlyAccess or arn:aws:iam::123456789012:policy/name)`)
  const arns = managedPolicyArns as string[]
  const repeated = arns.find((arn, i) => arns.indexOf(arn) !== i)
  if (repeated !== undefined) throw new PermissionSetError(`managedPolicyArns: ${repeated} is listed twice`)
  if (arns.length > MANAGED_POLICIES_MAX) {
    throw new PermissionSetError(`managedPolicyArns: ${arns.length} policies, but IAM attaches at most ${MANAGED_POLICIES_MAX} to a role unless the customer's account has a raised quota; merge some into statements`)
  }

  if (statements.length > 0) {
    const problems = statementsProblems(statements, 'identity')
    if (problems.length > 0) throw new PermissionSetError(`statements are not a valid IAM policy: ${problems.slice(0, 5).join('; ')}`)
  }
  const permissions: PermissionSet = { managedPolicyArns: [...arns], statements: statements as IamStatement[] }
  const document = inlinePolicyDocument(permissions)
  if (document !== null && policyLength(document) + READ_TRUST_POLICY_CHARS > ROLE_INLINE_POLICIES_MAX_CHARS) {
    throw new PermissionSetError(`the inline policy is ${policyLength(document)} characters minified; IAM allows ${ROLE_INLINE_POLICIES_MAX_CHARS} for a role's inline policies, ${READ_TRUST_POLICY_CHARS} of which the kit's ${READ_TRUST_POLICY_NAME} takes (move statements into a managed policy)`)
  }

  const warnings: string[] = []
  const everything = [
    ...(permissions.statements.map((s, i) => grantsEverything(s) ? `statement ${i}` : undefined)),
    ...arns.filter((arn) => ADMINISTRATOR_ACCESS.test(arn))
  ].filter((what): what is string => what !== undefined)
  if (everything.length > 0) {
    const why = `grants every action on every resource (${everything.join(', ')}): administrator access to every customer account`
    if (!options.allowAdmin) throw new PermissionSetError(`${why}. Grant only what the vendor needs, or set ONBOARDING_ALLOW_ADMIN=true to hand this out knowingly`)
    warnings.push(`The permission set ${why} (allowed by ONBOARDING_ALLOW_ADMIN).`)
  }
  permissions.statements.forEach((s, i) => {
    if (s.Effect === 'Allow' && s.NotAction !== undefined && !grantsEverything(s)) {
      warnings.push(`Statement ${i} allows every action except those in NotAction: it grants any action AWS adds later.`)
    }
  })
  return { permissions, warnings }
}

/**
 * The role's second inline policy: it may read itself (iam:GetRole on its own ARN, nothing else),
 * so deputy can read the trust policy with the probe's session and prove it admits no other
 * external ID (the probe's static check). Without it that check reports `unavailable`.
 */
export const READ_TRUST_POLICY_NAME = 'DeputyReadTrustPolicy'

export const readTrustPolicyDocument = <R>(ownArn: R): { Version: typeof POLICY_VERSION, Statement: [{ Sid: string, Effect: 'Allow', Action: 'iam:GetRole', Resource: R }] } =>
  ({ Version: POLICY_VERSION, Statement: [{ Sid: 'ReadOwnTrustPolicy', Effect: 'Allow', Action: 'iam:GetRole', Resource: ownArn }] })

/** What the read grant takes of the role's inline-policy allowance (the longest ARN it can have). */
const READ_TRUST_POLICY_CHARS = policyLength(readTrustPolicyDocument(`arn:aws-us-gov:iam::123456789012:role/${'x'.repeat(64)}`))

/** The role's inline policy, or null when the permission set has no statements. */
export function inlinePolicyDocument (permissions: PermissionSet): PolicyDocument | null {
  return permissions.statements.length === 0 ? null : { Version: POLICY_VERSION, Statement: permissions.statements }
}
