// Terraform (HCL) for the customer's role: the trust policy through jsonencode() with the external
// ID written as a literal (a variable could be left empty or overridden), one policy attachment
// per managed policy, the inline policy, and the role ARN as an output. Rendered in the layout
// `terraform fmt` produces. Pure: no I/O.
import { INLINE_POLICY_NAME, inlinePolicyDocument, READ_TRUST_POLICY_NAME, readTrustPolicyDocument } from './permission-set.js'
import type { RoleSpec } from './cloudformation.js'
import type { TrustPolicy } from './trust-policy.js'

/**
 * An HCL quoted string: the JSON escapes, plus `$${` and `%%{` so that IAM policy variables such
 * as ${aws:username} stay literal text instead of becoming template interpolations.
 */
export function hclString (value: string): string {
  let out = ''
  for (const ch of value) {
    const code = ch.charCodeAt(0)
    if (ch === '\\') out += '\\\\'
    else if (ch === '"') out += '\\"'
    else if (ch === '\n') out += '\\n'
    else if (ch === '\r') out += '\\r'
    else if (ch === '\t') out += '\\t'
    else if (code < 0x20 || code === 0x7f) out += `\\u${code.toString(16).padStart(4, '0')}`
    else out += ch
  }
  // Replacer functions: in a replacement string "$$" would itself mean one "$".
  return `"${out.replace(/\$\{/g, () => '$${').replace(/%\{/g, () => '%%{')}"`
}

// IAM's element names (Version, StringEquals, AWS) stay bare; anything else is quoted, which also
// keeps keywords such as `for`, `null` or `true` from being read as expressions.
const hclKey = (key: string): string => /^[A-Z][A-Za-z0-9]*$/.test(key) ? key : hclString(key)

/** An HCL expression written as it is (aws_iam_role.deputy.name, jsonencode(...)). */
export class HclExpression {
  constructor (readonly text: string) {}
}

const isScalar = (value: unknown): boolean => value === null || typeof value !== 'object'

function scalar (value: unknown): string {
  if (typeof value === 'string') return hclString(value)
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  if (typeof value === 'boolean' || value === null) return String(value)
  throw new TypeError(`cannot write ${typeof value} as HCL`)
}

/** A JSON value as an HCL expression, multi-line objects indented from `indent`. */
export function hclValue (value: unknown, indent: string): string {
  if (value instanceof HclExpression) return value.text
  if (isScalar(value)) return scalar(value)
  const inner = `${indent}  `
  if (Array.isArray(value)) {
    if (value.every(isScalar)) return `[${value.map(scalar).join(', ')}]`
    return `[\n${value.map((item) => `${inner}${hclValue(item, inner)}`).join(',\n')},\n${indent}]`
  }
  const entries = Object.entries(value as Record<string, unknown>)
  if (entries.length === 0) return '{}'
  return `{\n${attributes(entries, inner)}\n${indent}}`
}

/**
 * `key = value` lines as terraform fmt lays them out: the `=` of consecutive one-line attributes
 * aligned; an attribute spanning several lines stands alone.
 */
function attributes (entries: Array<[string, unknown]>, indent: string, inBlock = false): string {
  const lines: string[] = []
  let run: Array<{ key: string, value: string }> = []
  const flush = (): void => {
    const width = Math.max(0, ...run.map((a) => a.key.length))
    for (const a of run) lines.push(`${indent}${a.key.padEnd(width)} = ${a.value}`)
    run = []
  }
  for (const [key, value] of entries) {
    // A block's arguments are identifiers; an object's keys may need quotes.
    const attribute = { key: inBlock ? key : hclKey(key), value: hclValue(value, indent) }
    if (attribute.value.includes('\n')) {
      flush()
      lines.push(`${indent}${attribute.key} = ${attribute.value}`)
    } else {
      run.push(attribute)
    }
  }
  flush()
  return lines.join('\n')
}

const block = (header: string, entries: Array<[string, unknown]>): string => `${header} {\n${attributes(entries, '  ', true)}\n}\n`

/**
 * The role as Terraform: `trustPolicy` (already built for the external IDs) embedded as it is,
 * `comment` as the header (one `#` line per line).
 */
export function renderTerraform (role: RoleSpec, trustPolicy: TrustPolicy, comment: string): string {
  const inline = inlinePolicyDocument(role.permissions)
  const jsonencode = (document: object): HclExpression => new HclExpression(`jsonencode(${hclValue(document, '  ')})`)
  const roleRef = (attribute: string): HclExpression => new HclExpression(`aws_iam_role.deputy.${attribute}`)
  return [
    comment.split('\n').map((line) => `# ${line}`.trimEnd()).join('\n') + '\n',
    block('resource "aws_iam_role" "deputy"', [
      ['name', role.roleName],
      ['max_session_duration', role.maxSessionDuration],
      ...(role.permissionsBoundaryArn === undefined ? [] : [['permissions_boundary', role.permissionsBoundaryArn] as [string, unknown]]),
      ['assume_role_policy', jsonencode(trustPolicy)]
    ]),
    ...role.permissions.managedPolicyArns.map((arn, i) => block(`resource "aws_iam_role_policy_attachment" "deputy_${i + 1}"`, [
      ['role', roleRef('name')],
      ['policy_arn', arn]
    ])),
    ...(inline === null
      ? []
      : [block('resource "aws_iam_role_policy" "deputy"', [
          ['name', INLINE_POLICY_NAME],
          ['role', roleRef('id')],
          ['policy', jsonencode(inline)]
        ])]),
    block('resource "aws_iam_role_policy" "deputy_read_trust_policy"', [
      ['name', READ_TRUST_POLICY_NAME],
      ['role', roleRef('id')],
      ['policy', jsonencode(readTrustPolicyDocument(roleRef('arn')))]
    ]),
    block('output "role_arn"', [
      ['description', 'Give this ARN to the vendor.'],
      ['value', roleRef('arn')]
    ])
  ].join('\n')
}
