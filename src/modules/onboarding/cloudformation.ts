// CloudFormation for the customer's role: the per-customer template (the external ID as the
// parameter's default) and the generic one the vendor publishes at ONBOARDING_TEMPLATE_URL for
// quick-create links (no default: the link or the customer supplies the ID). In both the
// ExternalId parameter is constrained (AllowedPattern, MinLength, MaxLength) so CloudFormation
// refuses an empty or malformed value before any role exists, and the trust policy's condition
// is `!Ref ExternalId`, so the condition cannot be left out.
//
// Also the reverse: parseCloudFormationYaml reads a template with the short-form tags, and
// instantiateRoleTemplate resolves its role with parameters the way CloudFormation would (the
// parameter constraints included), for tests and for an emulated account. Pure: no I/O.
import { Document, parse, Scalar, visit, YAMLSeq, type Tags } from 'yaml'
import { POLICY_VERSION, type PolicyDocument } from '../../iam/policy-document.js'
import { allowedPatternMatches, PatternError } from './allowed-pattern.js'
import { INLINE_POLICY_NAME, inlinePolicyDocument, READ_TRUST_POLICY_NAME, readTrustPolicyDocument, type PermissionSet } from './permission-set.js'
import { checkExternalIds, checkVendorPrincipal, EXTERNAL_ID_PATTERN, trustedActions, type ExternalIds, type TrustPolicy } from './trust-policy.js'

/** Everything about the role except the external IDs. */
export interface RoleSpec {
  vendorPrincipalArn: string
  /** Also trust sts:SetSourceIdentity (deputy sets a source identity on every session). */
  sourceIdentity: boolean
  /** Also trust sts:TagSession (deputy tags every session: SESSION_TAGS). */
  tagSession?: boolean | undefined
  roleName: string
  maxSessionDuration: number
  permissions: PermissionSet
  permissionsBoundaryArn?: string | undefined
}

export const EXTERNAL_ID_PARAMETER = 'ExternalId'
export const PREVIOUS_EXTERNAL_ID_PARAMETER = 'PreviousExternalId'
const HAS_PREVIOUS = 'HasPreviousExternalId'
const ROLE_RESOURCE = 'Role'

const tagged = (tag: string, value: string): Scalar => Object.assign(new Scalar(value), { tag })
const taggedSeq = (tag: string, items: unknown[]): YAMLSeq => Object.assign(new YAMLSeq(), { tag, items })
const ref = (name: string): Scalar => tagged('!Ref', name)

const EXTERNAL_ID_CONSTRAINT = 'must be the external ID the vendor gave you for this account: a lowercase UUID such as 1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b'

function externalIdParameter (description: string, defaultValue: string | undefined): Record<string, unknown> {
  return {
    Type: 'String',
    Description: description,
    AllowedPattern: EXTERNAL_ID_PATTERN,
    ConstraintDescription: EXTERNAL_ID_CONSTRAINT,
    MinLength: 36,
    MaxLength: 36,
    // Not a secret: the customer and the vendor both keep it; shown so it can be checked.
    NoEcho: false,
    ...(defaultValue === undefined ? {} : { Default: defaultValue })
  }
}

const CURRENT_DESCRIPTION = 'The external ID the vendor assigned to this AWS account. The role refuses the vendor without exactly this value.'
const PREVIOUS_DESCRIPTION = 'During an external-ID rotation only: the ID being replaced, accepted until the vendor has switched to the new one.'

function roleResource (role: RoleSpec, externalIdValue: unknown): Record<string, unknown> {
  checkVendorPrincipal(role.vendorPrincipalArn)
  const inline = inlinePolicyDocument(role.permissions)
  return {
    Type: 'AWS::IAM::Role',
    Properties: {
      RoleName: role.roleName,
      MaxSessionDuration: role.maxSessionDuration,
      ...(role.permissionsBoundaryArn === undefined ? {} : { PermissionsBoundary: role.permissionsBoundaryArn }),
      AssumeRolePolicyDocument: {
        Version: POLICY_VERSION,
        Statement: [{
          Effect: 'Allow',
          Principal: { AWS: role.vendorPrincipalArn },
          Action: trustedActions(role.sourceIdentity, role.tagSession),
          Condition: { StringEquals: { 'sts:ExternalId': externalIdValue } }
        }]
      },
      ...(role.permissions.managedPolicyArns.length === 0 ? {} : { ManagedPolicyArns: role.permissions.managedPolicyArns }),
      Policies: [
        ...(inline === null ? [] : [{ PolicyName: INLINE_POLICY_NAME, PolicyDocument: inline }]),
        // The role's own ARN by Fn::Sub on its name: a Ref or GetAtt of the role inside its own
        // Policies would be a circular dependency.
        { PolicyName: READ_TRUST_POLICY_NAME, PolicyDocument: readTrustPolicyDocument(tagged('!Sub', `arn:\${AWS::Partition}:iam::\${AWS::AccountId}:role/${role.roleName}`)) }
      ]
    }
  }
}

/**
 * Strings a YAML 1.1 reader (CloudFormation's, cfn-lint's js-yaml) could take for something else
 * when unquoted: booleans (yes, on, n), nulls, numbers, dates ("2012-10-17"), sexagesimals, merge
 * keys. Deliberately broad: quoting a string that needed none costs nothing.
 */
const AMBIGUOUS = /^$|^[-+.0-9]|^(y|n|yes|no|true|false|on|off|null|~|<<|=)$/i

function render (header: string, body: Record<string, unknown>): string {
  const doc = new Document(null, { version: '1.1' })
  doc.contents = doc.createNode(body) as typeof doc.contents
  // Quoted by this rule, not left to the schema's own tests (which other code in the process
  // may have changed): the output is the same wherever it is rendered.
  visit(doc, {
    Scalar (_key, node) {
      if (node.tag === undefined && typeof node.value === 'string' && AMBIGUOUS.test(node.value)) node.type = 'QUOTE_DOUBLE'
    }
  })
  doc.commentBefore = header
  return doc.toString({ lineWidth: 0, directives: false })
}

function description (role: RoleSpec): string {
  return `IAM role ${role.roleName} for ${role.vendorPrincipalArn}, usable only with this account's external ID (AWS Well-Architected SEC03-BP09).`
}

const outputs = {
  RoleArn: { Description: 'Give this ARN to the vendor.', Value: tagged('!GetAtt', `${ROLE_RESOURCE}.Arn`) }
}

/**
 * The per-customer template: ExternalId defaults to this customer's ID (and PreviousExternalId to
 * the ID being replaced, during a rotation). Deploying it unchanged gives exactly `trustPolicy`.
 */
export function renderRoleTemplate (role: RoleSpec, externalIds: ExternalIds): string {
  checkExternalIds(externalIds)
  const [current, previous] = externalIds
  const parameters: Record<string, unknown> = { [EXTERNAL_ID_PARAMETER]: externalIdParameter(CURRENT_DESCRIPTION, current) }
  if (previous !== undefined) parameters[PREVIOUS_EXTERNAL_ID_PARAMETER] = externalIdParameter(PREVIOUS_DESCRIPTION, previous)
  const value = previous === undefined ? ref(EXTERNAL_ID_PARAMETER) : [ref(EXTERNAL_ID_PARAMETER), ref(PREVIOUS_EXTERNAL_ID_PARAMETER)]
  return render(
    ` Generated by deputy for one AWS account. The role trusts ${role.vendorPrincipalArn} only, and only\n with the external ID below: review it, then deploy it (it needs CAPABILITY_NAMED_IAM).`,
    { AWSTemplateFormatVersion: '2010-09-09', Description: description(role), Parameters: parameters, Resources: { [ROLE_RESOURCE]: roleResource(role, value) }, Outputs: outputs })
}

/**
 * The generic template (`deputy onboarding template`, published at ONBOARDING_TEMPLATE_URL):
 * ExternalId has no default and must be a UUID; PreviousExternalId may stay empty (it is set only
 * during a rotation) and then drops out of the condition, which still requires ExternalId.
 */
export function renderGenericTemplate (role: RoleSpec): string {
  const parameters = {
    [EXTERNAL_ID_PARAMETER]: externalIdParameter(CURRENT_DESCRIPTION, undefined),
    [PREVIOUS_EXTERNAL_ID_PARAMETER]: {
      Type: 'String',
      Description: `${PREVIOUS_DESCRIPTION} Leave empty otherwise.`,
      AllowedPattern: `^(${EXTERNAL_ID_PATTERN.slice(1, -1)})?$`,
      ConstraintDescription: `must be empty or ${EXTERNAL_ID_CONSTRAINT.replace('must be ', '')}`,
      MaxLength: 36,
      NoEcho: false,
      Default: ''
    }
  }
  const value = taggedSeq('!If', [HAS_PREVIOUS, [ref(EXTERNAL_ID_PARAMETER), ref(PREVIOUS_EXTERNAL_ID_PARAMETER)], ref(EXTERNAL_ID_PARAMETER)])
  return render(
    ` Generated by deputy. The role trusts ${role.vendorPrincipalArn} only, and only with the external ID\n the vendor gave you for this account (the ExternalId parameter). It needs CAPABILITY_NAMED_IAM.`,
    {
      AWSTemplateFormatVersion: '2010-09-09',
      Description: description(role),
      Parameters: parameters,
      Conditions: { [HAS_PREVIOUS]: taggedSeq('!Not', [taggedSeq('!Equals', [ref(PREVIOUS_EXTERNAL_ID_PARAMETER), ''])]) },
      Resources: { [ROLE_RESOURCE]: roleResource(role, value) },
      Outputs: outputs
    })
}

// --- Reading templates back -------------------------------------------------------------------

const scalarTag = (tag: string, fn: string, split?: (value: string) => unknown): Tags[number] =>
  ({ tag, resolve: (value: string) => ({ [fn]: split === undefined ? value : split(value) }) })
const seqTag = (tag: string, fn: string): Tags[number] =>
  ({ tag, collection: 'seq', resolve: (value) => ({ [fn]: value.toJSON() }) })

/** CloudFormation's short-form tags, resolved to the long forms (`!Ref X` -> {"Ref": "X"}). */
export const CLOUDFORMATION_TAGS: Tags = [
  scalarTag('!Ref', 'Ref'),
  scalarTag('!GetAtt', 'Fn::GetAtt', (value) => value.split('.')),
  scalarTag('!Sub', 'Fn::Sub'),
  scalarTag('!Condition', 'Condition'),
  seqTag('!GetAtt', 'Fn::GetAtt'),
  seqTag('!Sub', 'Fn::Sub'),
  ...['If', 'Equals', 'Not', 'And', 'Or', 'Join', 'Select', 'Split', 'FindInMap'].map((fn) => seqTag(`!${fn}`, `Fn::${fn}`))
]

/** A template as CloudFormation reads it, intrinsic functions in their long form. */
export function parseCloudFormationYaml (text: string): Record<string, unknown> {
  const value: unknown = parse(text, { customTags: CLOUDFORMATION_TAGS, version: '1.1' })
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TemplateError('the template is not a YAML mapping')
  return value as Record<string, unknown>
}

/** What CloudFormation would refuse (its message, in its words where it has them). */
export class TemplateError extends Error {
  override name = 'TemplateError'
}

/** The role a template creates, with the parameters substituted. */
export interface InstantiatedRole {
  roleName: string
  maxSessionDuration: number
  trustPolicy: TrustPolicy
  managedPolicyArns: string[]
  inlinePolicies: Array<{ name: string, document: PolicyDocument }>
  permissionsBoundaryArn: string | undefined
}

interface ParameterDeclaration { Type?: string, Default?: unknown, AllowedPattern?: string, MinLength?: number, MaxLength?: number, AllowedValues?: unknown[] }

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)

/** Without a backtracking RegExp (allowed-pattern.ts): the template may be anyone's. */
function matchesAllowedPattern (name: string, pattern: string, value: string): boolean {
  try {
    return allowedPatternMatches(pattern, value)
  } catch (error) {
    if (error instanceof PatternError) throw new TemplateError(`Parameter '${name}': AllowedPattern ${pattern} cannot be evaluated here: ${error.message}`)
    throw error
  }
}

/** Parameter values as CloudFormation settles them: defaults, then each declared constraint. */
function settleParameters (declared: Record<string, ParameterDeclaration>, given: Record<string, string>): Record<string, string> {
  const unknown = Object.keys(given).filter((name) => !Object.hasOwn(declared, name))
  if (unknown.length > 0) throw new TemplateError(`Parameters: [${unknown.join(', ')}] do not exist in the template`)
  const values: Record<string, string> = {}
  const missing: string[] = []
  for (const [name, spec] of Object.entries(declared)) {
    if (spec.Type !== 'String') throw new TemplateError(`parameter ${name}: only String parameters are supported here`)
    const value = given[name] ?? (spec.Default === undefined ? undefined : String(spec.Default))
    if (value === undefined) {
      missing.push(name)
      continue
    }
    if (spec.MinLength !== undefined && value.length < spec.MinLength) throw new TemplateError(`Parameter '${name}' must contain at least ${spec.MinLength} characters`)
    if (spec.MaxLength !== undefined && value.length > spec.MaxLength) throw new TemplateError(`Parameter '${name}' must contain at most ${spec.MaxLength} characters`)
    // CloudFormation matches the whole value against AllowedPattern.
    if (spec.AllowedPattern !== undefined && !matchesAllowedPattern(name, spec.AllowedPattern, value)) throw new TemplateError(`Parameter '${name}' must match pattern ${spec.AllowedPattern}`)
    if (spec.AllowedValues !== undefined && !spec.AllowedValues.map(String).includes(value)) throw new TemplateError(`Parameter '${name}' must be one of AllowedValues`)
    values[name] = value
  }
  if (missing.length > 0) throw new TemplateError(`Parameters: [${missing.join(', ')}] must have values`)
  return values
}

type Resolver = (value: unknown) => unknown

/** CloudFormation's pseudo parameters, for an account of the caller's choosing. */
export interface PseudoParameters { accountId: string, partition: string, region: string }
const DEFAULT_PSEUDO: PseudoParameters = { accountId: '123456789012', partition: 'aws', region: 'us-east-1' }

function makeResolver (parameters: Record<string, string>, conditions: Record<string, unknown>, pseudo: PseudoParameters): Resolver {
  const decided = new Map<string, boolean>()
  const condition = (name: string): boolean => {
    const known = decided.get(name)
    if (known !== undefined) return known
    if (!Object.hasOwn(conditions, name)) throw new TemplateError(`Unresolved condition ${name}`)
    const result = resolve(conditions[name])
    if (typeof result !== 'boolean') throw new TemplateError(`condition ${name} is not a boolean`)
    decided.set(name, result)
    return result
  }
  const resolve: Resolver = (value) => {
    if (Array.isArray(value)) return value.map(resolve)
    if (!isRecord(value)) return value
    const keys = Object.keys(value)
    const [fn] = keys
    if (keys.length === 1 && fn !== undefined && (fn === 'Ref' || fn === 'Condition' || fn.startsWith('Fn::'))) {
      const arg = value[fn]
      switch (fn) {
        case 'Ref': {
          if (typeof arg !== 'string' || !Object.hasOwn(parameters, arg)) throw new TemplateError(`Unresolved reference ${String(arg)}`)
          return parameters[arg]
        }
        case 'Condition': return condition(String(arg))
        case 'Fn::If': {
          if (!Array.isArray(arg) || arg.length !== 3) throw new TemplateError('Fn::If takes [condition, then, else]')
          return condition(String(arg[0])) ? resolve(arg[1]) : resolve(arg[2])
        }
        case 'Fn::Equals': {
          const [a, b] = (arg as unknown[]).map(resolve)
          return JSON.stringify(a) === JSON.stringify(b)
        }
        case 'Fn::Not': return !(resolve((arg as unknown[])[0]) as boolean)
        case 'Fn::Sub': {
          if (typeof arg !== 'string') throw new TemplateError('only the one-string form of Fn::Sub is supported here')
          const values: Record<string, string> = { ...parameters, 'AWS::AccountId': pseudo.accountId, 'AWS::Partition': pseudo.partition, 'AWS::Region': pseudo.region }
          return arg.replace(/\$\{([^}!]+)\}/g, (_, name: string) => {
            if (!Object.hasOwn(values, name)) throw new TemplateError(`Unresolved reference \${${name}} in Fn::Sub`)
            return values[name] as string
          })
        }
        case 'Fn::And': return (arg as unknown[]).every((c) => resolve(c) === true)
        case 'Fn::Or': return (arg as unknown[]).some((c) => resolve(c) === true)
        default: throw new TemplateError(`${fn} is not supported here`)
      }
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v)]))
  }
  return resolve
}

/**
 * The one AWS::IAM::Role of a template, as CloudFormation would create it with these parameter
 * values: defaults filled in, every parameter constraint enforced (an empty or malformed
 * ExternalId is refused here as CloudFormation refuses it), Ref/Fn::If/conditions resolved.
 */
export function instantiateRoleTemplate (text: string, parameters: Record<string, string> = {}, pseudo: Partial<PseudoParameters> = {}): InstantiatedRole {
  const template = parseCloudFormationYaml(text)
  const declared = isRecord(template.Parameters) ? template.Parameters as Record<string, ParameterDeclaration> : {}
  const resolve = makeResolver(settleParameters(declared, parameters), isRecord(template.Conditions) ? template.Conditions : {}, { ...DEFAULT_PSEUDO, ...pseudo })
  const roles = Object.values(isRecord(template.Resources) ? template.Resources : {}).filter((r) => isRecord(r) && r.Type === 'AWS::IAM::Role')
  if (roles.length !== 1) throw new TemplateError(`the template must create exactly one AWS::IAM::Role, not ${roles.length}`)
  const properties = resolve((roles[0] as Record<string, unknown>).Properties) as Record<string, unknown>
  if (!isRecord(properties) || !isRecord(properties.AssumeRolePolicyDocument)) throw new TemplateError('the role has no AssumeRolePolicyDocument')
  const policies = Array.isArray(properties.Policies) ? properties.Policies as Array<{ PolicyName: string, PolicyDocument: PolicyDocument }> : []
  return {
    roleName: String(properties.RoleName),
    maxSessionDuration: Number(properties.MaxSessionDuration ?? 3600),
    trustPolicy: properties.AssumeRolePolicyDocument as unknown as TrustPolicy,
    managedPolicyArns: Array.isArray(properties.ManagedPolicyArns) ? properties.ManagedPolicyArns.map(String) : [],
    inlinePolicies: policies.map((p) => ({ name: p.PolicyName, document: p.PolicyDocument })),
    permissionsBoundaryArn: properties.PermissionsBoundary === undefined ? undefined : String(properties.PermissionsBoundary)
  }
}
