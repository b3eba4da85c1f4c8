// The same role as AWS CLI commands for a POSIX shell (bash, zsh, sh): create-role with the trust
// policy inline, attach-role-policy per managed policy, put-role-policy for the inline policy.
// Every argument is single-quoted, so no value is expanded or split by the shell. Pure: no I/O.
import type { RoleSpec } from './cloudformation.js'
import { INLINE_POLICY_NAME, inlinePolicyDocument } from './permission-set.js'
import type { TrustPolicy } from './trust-policy.js'

/** One shell word: single quotes, each embedded ' written as '\'' (close, escaped quote, reopen). */
export const shellQuote = (value: string): string => `'${value.replace(/'/g, "'\\''")}'`

const command = (words: string[]): string => words.join(' \\\n  ')

export function renderAwsCli (role: RoleSpec, trustPolicy: TrustPolicy, comment: string): string {
  const name = shellQuote(role.roleName)
  const inline = inlinePolicyDocument(role.permissions)
  const commands = [
    command([
      `aws iam create-role --role-name ${name}`,
      `--max-session-duration ${role.maxSessionDuration}`,
      ...(role.permissionsBoundaryArn === undefined ? [] : [`--permissions-boundary ${shellQuote(role.permissionsBoundaryArn)}`]),
      `--assume-role-policy-document ${shellQuote(JSON.stringify(trustPolicy))}`
    ]),
    ...role.permissions.managedPolicyArns.map((arn) => `aws iam attach-role-policy --role-name ${name} --policy-arn ${shellQuote(arn)}`),
    ...(inline === null
      ? []
      : [command([`aws iam put-role-policy --role-name ${name} --policy-name ${shellQuote(INLINE_POLICY_NAME)}`, `--policy-document ${shellQuote(JSON.stringify(inline))}`])])
  ]
  const header = comment.split('\n').map((line) => `# ${line}`.trimEnd()).join('\n')
  // No `set -e`: pasted into an interactive shell it would close the shell on the first error.
  return `${header}\n${commands.join('\n')}\n`
}
