// IAM GetRole over the IAM query protocol, signed with @smithy/signature-v4 (the AWS SDK's own
// signer): deputy reads a customer role's trust policy with the session the probe's first call
// obtained. @aws-sdk/client-iam would do the same; until it is a dependency this one request is
// made by hand. Failures are thrown in the SDK's error shape (name, $fault, $metadata), so
// sts-gateway.ts classifies and retries them like any other AWS call.
import { SignatureV4 } from '@smithy/signature-v4'
import { parsePrincipalArn } from './arn.js'
import { NodeSha256 } from './node-sha256.js'

export interface IamTarget {
  /** Explicit endpoint (the sandbox's emulator); else AWS_ENDPOINT_URL_IAM, AWS_ENDPOINT_URL, the partition's. */
  endpoint?: string | undefined
  timeoutMs: number
}

export interface RoleDocument {
  arn: string
  /** The trust policy as IAM stores it (JSON text). */
  trustPolicy: string
}

// IAM is global per partition: one endpoint, signed for the partition's home region.
const PARTITION_ENDPOINTS: Record<string, { url: string, region: string }> = {
  aws: { url: 'https://iam.amazonaws.com', region: 'us-east-1' },
  'aws-cn': { url: 'https://iam.cn-north-1.amazonaws.com.cn', region: 'cn-north-1' },
  'aws-us-gov': { url: 'https://iam.us-gov.amazonaws.com', region: 'us-gov-west-1' }
}

const unescapeXml = (text: string): string => text
  .replace(/&#(\d+);/g, (_, code: string) => String.fromCodePoint(Number(code)))
  .replace(/&#x([0-9a-f]+);/gi, (_, code: string) => String.fromCodePoint(parseInt(code, 16)))
  .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&')

const element = (xml: string, name: string): string | undefined => {
  const match = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)
  return match?.[1] === undefined ? undefined : unescapeXml(match[1])
}

const awsError = (name: string, message: string, status: number | undefined, requestId: string | undefined): Error =>
  Object.assign(new Error(message), { name, $fault: status !== undefined && status < 500 ? 'client' : 'server', $metadata: { httpStatusCode: status, requestId } })

export async function iamGetRole (target: IamTarget, credentials: { accessKeyId: string, secretAccessKey: string, sessionToken: string }, roleArn: string): Promise<{ value: RoleDocument, requestId: string | null }> {
  const role = parsePrincipalArn(roleArn)
  if (role === undefined || role.kind !== 'role') throw awsError('ValidationError', `not a role ARN: ${roleArn}`, 400, undefined)
  const home = PARTITION_ENDPOINTS[role.partition] ?? PARTITION_ENDPOINTS.aws as { url: string, region: string }
  const url = new URL(target.endpoint ?? process.env.AWS_ENDPOINT_URL_IAM ?? process.env.AWS_ENDPOINT_URL ?? home.url)
  const body = new URLSearchParams({ Action: 'GetRole', RoleName: role.name, Version: '2010-05-08' }).toString()
  const signer = new SignatureV4({ service: 'iam', region: home.region, credentials, sha256: NodeSha256 })
  const signed = await signer.sign({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port === '' ? {} : { port: Number(url.port) }),
    path: url.pathname,
    headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body
  })
  let response: Response
  try {
    response = await fetch(url, { method: 'POST', headers: signed.headers, body, signal: AbortSignal.timeout(target.timeoutMs) })
  } catch (error) {
    const timedOut = (error as Error).name === 'TimeoutError' || (error as Error).name === 'AbortError'
    throw awsError(timedOut ? 'TimeoutError' : 'NetworkingError', (error as Error).message, undefined, undefined)
  }
  const text = await response.text()
  const requestId = response.headers.get('x-amzn-requestid') ?? element(text, 'RequestId') ?? null
  if (!response.ok) throw awsError(element(text, 'Code') ?? `Http${response.status}`, element(text, 'Message') ?? text.slice(0, 200), response.status, requestId ?? undefined)
  const document = element(text, 'AssumeRolePolicyDocument')
  if (document === undefined) throw awsError('IncompleteResponse', 'GetRole returned no AssumeRolePolicyDocument', response.status, requestId ?? undefined)
  // IAM sends the document URL-encoded (RFC 3986) inside the XML.
  return { value: { arn: element(text, 'Arn') ?? roleArn, trustPolicy: decodeURIComponent(document) }, requestId }
}
