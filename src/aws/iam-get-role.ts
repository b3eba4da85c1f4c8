// IAM GetRole through the AWS SDK's own IAM client: deputy reads a customer role's trust policy
// with the session the probe's first call obtained. One attempt per call (sts-gateway.ts retries,
// classified, within its budget), on the gateway's HTTP handler and timeouts.
import { GetRoleCommand, IAMClient } from '@aws-sdk/client-iam'
import type { NodeHttpHandler } from '@smithy/node-http-handler'
import { parsePrincipalArn } from './arn.js'

export interface IamTarget {
  /** Explicit endpoint (the sandbox's emulator); else the SDK's: AWS_ENDPOINT_URL_IAM, AWS_ENDPOINT_URL, the partition's. */
  endpoint?: string | undefined
  requestHandler: NodeHttpHandler
}

export interface RoleDocument {
  arn: string
  /** The trust policy as IAM stores it (JSON text). */
  trustPolicy: string
}

// IAM is global per partition: the client is made for the partition's home region.
const PARTITION_REGIONS: Record<string, string> = { aws: 'us-east-1', 'aws-cn': 'cn-north-1', 'aws-us-gov': 'us-gov-west-1' }

const awsError = (name: string, message: string, status: number | undefined, requestId: string | undefined): Error =>
  Object.assign(new Error(message), { name, $fault: status !== undefined && status < 500 ? 'client' : 'server', $metadata: { httpStatusCode: status, requestId } })

export async function iamGetRole (target: IamTarget, credentials: { accessKeyId: string, secretAccessKey: string, sessionToken: string }, roleArn: string): Promise<{ value: RoleDocument, requestId: string | null }> {
  const role = parsePrincipalArn(roleArn)
  if (role === undefined || role.kind !== 'role') throw awsError('ValidationError', `not a role ARN: ${roleArn}`, 400, undefined)
  const client = new IAMClient({
    region: PARTITION_REGIONS[role.partition] ?? 'us-east-1',
    maxAttempts: 1,
    requestHandler: target.requestHandler,
    credentials,
    ...(target.endpoint === undefined ? {} : { endpoint: target.endpoint })
  })
  // Not destroyed: destroy() would close the gateway's shared handler; the client holds no socket.
  const out = await client.send(new GetRoleCommand({ RoleName: role.name }))
  const document = out.Role?.AssumeRolePolicyDocument
  const requestId = out.$metadata.requestId ?? null
  if (document === undefined) throw awsError('IncompleteResponse', 'GetRole returned no AssumeRolePolicyDocument', out.$metadata.httpStatusCode, requestId ?? undefined)
  // IAM sends the document URL-encoded (RFC 3986); the SDK passes it on as it came.
  return { value: { arn: out.Role?.Arn ?? roleArn, trustPolicy: decodeURIComponent(document) }, requestId }
}
