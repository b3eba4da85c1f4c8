// The role ARN a person pastes, checked before it is sent: the API would answer with its regex;
// this says in words what is wrong, including a role in another account than the external ID's.
const ROLE_ARN = /^arn:aws(?:-[a-z]+)*:iam::(\d{12}):role\/(?:[\w+=,.@-]+\/)*([\w+=,.@-]+)$/

/** What is wrong with `arn` for a role in `account`, or undefined when it can be sent. */
export function roleArnProblem (arn: string, account: string): string | undefined {
  const text = arn.trim()
  if (text === '') return undefined
  const match = ROLE_ARN.exec(text)
  if (match === null) return `This is not an IAM role ARN. It reads arn:aws:iam::${account}:role/ followed by the role's name (the stack's RoleArn output).`
  if (match[1] !== account) return `This role is in account ${match[1] ?? ''}, but the external ID is for account ${account}: the role must be created in ${account}.`
  if ((match[2] ?? '').length > 64) return 'A role name has at most 64 characters.'
  return undefined
}
