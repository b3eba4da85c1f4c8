// The same role as AWS CLI commands for a POSIX shell (bash, zsh, sh): create-role with the trust
// policy inline, attach-role-policy per managed policy, put-role-policy for the inline policy.
// Every argument is single-quoted, so no value is expanded or split by the shell. Pure: no I/O.
import type { RoleSpec } from './cloudformation.js'
import { INLINE_POLICY_NAME, inlinePolicyDocument, READ_TRUST_POLICY_NAME, readTrustPolicyDocument } from './permission-set.js'
import type { TrustPolicy } from './trust-policy.js'

/** One shell word: single quotes, each embedded ' written as '\'' (close, escaped quote, reopen). */
export const shellQuote = (value: string): string => `'${value.replace(/'/g, "'\\''")}'`

const command = (words: string[]): string => words.join(' \\\n  ')

/**
 * The commands. During a rotation the role exists already: the only change is its trust policy
 * (update-assume-role-policy). Commands are joined with && so that nothing runs after a failed
 * one: permissions are never attached to a role whose creation failed (say, an existing role of
 * the same name with a different trust policy).
 */
export function renderAwsCli (role: RoleSpec, trustPolicy: TrustPolicy, comment: string, options: { rotation?: boolean, ownArn?: string } = {}): string {
  const name = shellQuote(role.roleName)
  // IAM reads roles of the caller's own account only, so without the account an ARN with "*"
  // for it still names this role alone.
  const ownArn = options.ownArn ?? `arn:${role.vendorPrincipalArn.split(':')[1] ?? 'aws'}:iam::*:role/${role.roleName}`
  const inline = inlinePolicyDocument(role.permissions)
  const commands = options.rotation === true
    ? [command([`aws iam update-assume-role-policy --role-name ${name}`, `--policy-document ${shellQuote(JSON.stringify(trustPolicy))}`])]
    : [
        command([
          `aws iam create-role --role-name ${name}`,
          `--max-session-duration ${role.maxSessionDuration}`,
          ...(role.permissionsBoundaryArn === undefined ? [] : [`--permissions-boundary ${shellQuote(role.permissionsBoundaryArn)}`]),
          `--assume-role-policy-document ${shellQuote(JSON.stringify(trustPolicy))}`
        ]),
        ...role.permissions.managedPolicyArns.map((arn) => `aws iam attach-role-policy --role-name ${name} --policy-arn ${shellQuote(arn)}`),
        ...(inline === null
          ? []
          : [command([`aws iam put-role-policy --role-name ${name} --policy-name ${shellQuote(INLINE_POLICY_NAME)}`, `--policy-document ${shellQuote(JSON.stringify(inline))}`])]),
        command([`aws iam put-role-policy --role-name ${name} --policy-name ${shellQuote(READ_TRUST_POLICY_NAME)}`, `--policy-document ${shellQuote(JSON.stringify(readTrustPolicyDocument(ownArn)))}`])
      ]
  const header = comment.split('\n').map((line) => `# ${line}`.trimEnd()).join('\n')
  // && rather than `set -e`: pasted into an interactive shell, set -e would close the shell.
  return `${header}\n${commands.join(' &&\n')}\n`
}
