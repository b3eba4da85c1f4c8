// Verifies AWS Signature Version 4 on incoming STS requests by recomputing the signature with
// @smithy/signature-v4 (the signer the AWS SDK itself uses) over exactly the signed headers.
import { timingSafeEqual } from 'node:crypto'
import { SignatureV4 } from '@smithy/signature-v4'
import { NodeSha256 } from '../node-sha256.js'

export interface SignedRequest {
  method: string
  path: string
  query: Record<string, string>
  headers: Record<string, string | string[] | undefined>
  body: string
}

export interface ParsedAuthorization {
  accessKeyId: string
  date: string
  region: string
  service: string
  signedHeaders: string[]
  signature: string
}

const AUTH = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/

export function parseAuthorization (header: string | undefined): ParsedAuthorization | undefined {
  const match = header === undefined ? null : AUTH.exec(header.trim())
  if (match === null) return undefined
  const [, accessKeyId = '', date = '', region = '', service = '', signedHeaders = '', signature = ''] = match
  return { accessKeyId, date, region, service, signedHeaders: signedHeaders.split(';'), signature }
}

/** Parses x-amz-date (20261128T010203Z). */
export function parseAmzDate (value: string | undefined): Date | undefined {
  const match = value === undefined ? null : /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value)
  if (match === null) return undefined
  const [, y, mo, d, h, mi, s] = match.map(Number)
  return new Date(Date.UTC(y ?? 0, (mo ?? 1) - 1, d ?? 1, h ?? 0, mi ?? 0, s ?? 0))
}

export async function signatureMatches (request: SignedRequest, auth: ParsedAuthorization, credentials: { accessKeyId: string, secretAccessKey: string, sessionToken?: string | undefined }, signingDate: Date): Promise<boolean> {
  const headers: Record<string, string> = {}
  for (const name of auth.signedHeaders) {
    const value = request.headers[name]
    if (value === undefined) return false
    headers[name] = Array.isArray(value) ? value.join(',') : value
  }
  const signer = new SignatureV4({
    service: auth.service,
    region: auth.region,
    credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey, ...(credentials.sessionToken === undefined ? {} : { sessionToken: credentials.sessionToken }) },
    sha256: NodeSha256,
    // Sign exactly the headers the caller signed: left on, the signer adds x-amz-content-sha256,
    // which botocore does not sign for STS, and every boto3 or AWS CLI request failed.
    applyChecksum: false
  })
  const [hostname = '', port] = (headers.host ?? '').split(':')
  const signed = await signer.sign({
    method: request.method,
    protocol: 'http:',
    hostname,
    ...(port === undefined ? {} : { port: Number(port) }),
    path: request.path,
    query: request.query,
    headers,
    body: request.body
  }, { signingDate })
  const expected = parseAuthorization(String(signed.headers.authorization ?? signed.headers.Authorization))
  if (expected === undefined) return false
  const a = Buffer.from(expected.signature)
  const b = Buffer.from(auth.signature)
  return a.length === b.length && timingSafeEqual(a, b) && expected.signedHeaders.join(';') === auth.signedHeaders.join(';')
}
