// ARNs deputy deals with: IAM roles (what customers register), IAM users and assumed-role
// sessions (who deputy itself is), managed policies (session policy ARNs).
export const PARTITIONS = ['aws', 'aws-cn', 'aws-us-gov'] as const
export type Partition = typeof PARTITIONS[number]

// Role path: "/" or "/segments/"; role name: 1-64 of [\w+=,.@-] (AWS IAM limits).
export const ROLE_ARN_PATTERN = '^arn:(aws|aws-cn|aws-us-gov):iam::([0-9]{12}):role(/|/[\\x21-\\x7e]{1,510}/)([\\w+=,.@-]{1,64})$'
const ROLE_ARN = new RegExp(ROLE_ARN_PATTERN)

export const POLICY_ARN_PATTERN = '^arn:(aws|aws-cn|aws-us-gov):iam::([0-9]{12}|aws):policy/([\\x21-\\x7e]{1,1100})$'

export interface RoleArn {
  arn: string
  partition: Partition
  accountId: string
  path: string
  name: string
}

export function parseRoleArn (arn: string): RoleArn | undefined {
  const match = ROLE_ARN.exec(arn)
  if (match === null) return undefined
  const [, partition, accountId = '', path = '/', name = ''] = match
  return { arn, partition: partition as Partition, accountId, path, name }
}

const ASSUMED_ROLE = /^arn:(aws|aws-cn|aws-us-gov):sts::([0-9]{12}):assumed-role\/([\w+=,.@-]{1,64})\/([\w+=,.@-]{2,64})$/
const IAM_PRINCIPAL = /^arn:(aws|aws-cn|aws-us-gov):iam::([0-9]{12}):(user|role)(\/(?:[\x21-\x7e]*\/)?)?([\w+=,.@-]{1,64})$/

export interface PrincipalArn {
  partition: string
  accountId: string
  kind: 'user' | 'role' | 'assumed-role'
  name: string
}

export function parsePrincipalArn (arn: string): PrincipalArn | undefined {
  const assumed = ASSUMED_ROLE.exec(arn)
  if (assumed !== null) return { partition: assumed[1] ?? '', accountId: assumed[2] ?? '', kind: 'assumed-role', name: assumed[3] ?? '' }
  const iam = IAM_PRINCIPAL.exec(arn)
  if (iam !== null) return { partition: iam[1] ?? '', accountId: iam[2] ?? '', kind: iam[3] as 'user' | 'role', name: iam[5] ?? '' }
  return undefined
}

/**
 * True when `caller` (what GetCallerIdentity says) is the configured principal: the same IAM
 * user, or a session of the configured role (assumed-role ARNs drop the role's path).
 */
export function isSamePrincipal (configured: string, caller: string): boolean {
  if (configured === caller) return true
  const want = parsePrincipalArn(configured)
  const got = parsePrincipalArn(caller)
  if (want === undefined || got === undefined) return false
  return want.kind === 'role' && got.kind === 'assumed-role' &&
    want.partition === got.partition && want.accountId === got.accountId && want.name === got.name
}
