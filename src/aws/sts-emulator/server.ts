// The STS emulator as a real HTTP server: the STS query protocol (form-encoded requests, XML
// answers, SigV4-signed) on "/", and IAM's GetRole in the same protocol (signed for service iam), and a small JSON admin interface under "/_emulator/" for
// creating principals and roles, injecting faults and reading the call record. It binds to
// loopback by default: the admin interface has no authentication, so any process on the machine
// could mint keys or rewrite roles with it. Tests and benchmarks want it; the sandbox drives its
// emulator in-process and starts it with `admin: false` (no admin route is served).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createStsEmulator, faultProblem, StsError, type Fault, type Principal, type StsEmulator } from './emulator.js'
import { parseAmzDate, parseAuthorization, signatureMatches } from './sigv4.js'
import { errorXml, IAM_NS, resultXml } from './xml.js'

/** The IAM actions this server answers; every other action is STS's. */
const IAM_ACTIONS = new Set(['GetRole'])

const MAX_BODY_BYTES = 64 * 1024
const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000

async function readBody (req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY_BYTES) throw new Error('body too large')
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

function send (res: ServerResponse, status: number, contentType: string, body: string, requestId?: string): void {
  res.writeHead(status, { 'content-type': contentType, ...(requestId === undefined ? {} : { 'x-amzn-requestid': requestId }) })
  res.end(body)
}

async function authenticate (emulator: StsEmulator, req: IncomingMessage, url: URL, body: string, service: 'sts' | 'iam'): Promise<Principal> {
  const auth = parseAuthorization(req.headers.authorization)
  if (auth === undefined) throw new StsError({ status: 403, type: 'Sender', code: 'MissingAuthenticationToken', message: 'Request is missing Authentication Token' })
  const principal = emulator.principalFor(auth.accessKeyId)
  if (principal === undefined) throw new StsError({ status: 403, type: 'Sender', code: 'InvalidClientTokenId', message: 'The security token included in the request is invalid.' })
  if (principal.sessionToken !== undefined && req.headers['x-amz-security-token'] !== principal.sessionToken) {
    throw new StsError({ status: 403, type: 'Sender', code: 'InvalidClientTokenId', message: 'The security token included in the request is invalid.' })
  }
  if (principal.expiresAt !== undefined && principal.expiresAt <= emulator.now()) {
    throw new StsError({ status: 400, type: 'Sender', code: 'ExpiredToken', message: 'The security token included in the request is expired' })
  }
  if (auth.service !== service) throw new StsError({ status: 403, type: 'Sender', code: 'SignatureDoesNotMatch', message: `Credential should be scoped to correct service: '${service}'.` })
  const signingDate = parseAmzDate(typeof req.headers['x-amz-date'] === 'string' ? req.headers['x-amz-date'] : undefined)
  if (signingDate === undefined || Math.abs(signingDate.getTime() - emulator.now().getTime()) > MAX_CLOCK_SKEW_MS) {
    throw new StsError({ status: 403, type: 'Sender', code: 'SignatureDoesNotMatch', message: 'Signature expired: the request time is too far from the server time.' })
  }
  const query = Object.fromEntries(url.searchParams)
  const ok = await signatureMatches({ method: req.method ?? 'POST', path: url.pathname, query, headers: req.headers, body }, auth, principal, signingDate)
  if (!ok) {
    throw new StsError({ status: 403, type: 'Sender', code: 'SignatureDoesNotMatch', message: 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.' })
  }
  return principal
}

async function handleSts (emulator: StsEmulator, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const requestId = emulator.newRequestId()
  const body = await readBody(req)
  const params = { ...Object.fromEntries(url.searchParams), ...Object.fromEntries(new URLSearchParams(body)) }
  const action = params.Action ?? ''
  const iam = IAM_ACTIONS.has(action)
  const ns = iam ? IAM_NS : undefined
  const recorded = { requestId, action, params: Object.fromEntries(Object.entries(params).filter(([k]) => k !== 'Action' && k !== 'Version')) }
  let caller: Principal | undefined
  try {
    const fault = emulator.takeFault(action)
    if (fault?.kind === 'latency') await new Promise((resolve) => setTimeout(resolve, fault.latencyMs ?? 1000))
    if (fault?.kind === 'hang') {
      // Read, never answered: the socket stays open until the caller gives up or close() ends it.
      emulator.record({ ...recorded, accessKeyId: null, callerArn: null, outcome: 'hung' })
      return
    }
    if (fault?.kind === 'drop') {
      emulator.record({ ...recorded, accessKeyId: null, callerArn: null, outcome: 'dropped' })
      req.socket.destroy()
      return
    }
    if (fault?.kind === 'throttle') throw new StsError({ status: 400, type: 'Sender', code: 'Throttling', message: 'Rate exceeded' })
    if (fault?.kind === 'server_error') throw new StsError({ status: 500, type: 'Receiver', code: 'InternalFailure', message: 'The request processing has failed because of an unknown error, exception or failure.' })
    if (fault?.kind === 'access_denied') throw new StsError({ status: 403, type: 'Sender', code: 'AccessDenied', message: 'User is not authorized to perform: sts:AssumeRole' })
    if (fault?.kind === 'unavailable') throw new StsError({ status: 503, type: 'Receiver', code: 'ServiceUnavailable', message: 'Service is unable to handle request.' })
    caller = await authenticate(emulator, req, url, body, iam ? 'iam' : 'sts')
    let result
    if (action === 'AssumeRole') result = emulator.assumeRole(caller, params)
    else if (action === 'GetRole') result = emulator.iamGetRole(caller, params)
    else if (action === 'GetCallerIdentity') result = emulator.getCallerIdentity(caller)
    else throw new StsError({ status: 400, type: 'Sender', code: 'InvalidAction', message: `Could not find operation ${action} for version ${params.Version ?? '(none)'}` })
    emulator.record({ ...recorded, accessKeyId: caller.accessKeyId, callerArn: caller.arn, outcome: 'ok' })
    send(res, 200, 'text/xml', resultXml(action, result, requestId, ns), requestId)
  } catch (error) {
    if (!(error instanceof StsError)) throw error
    emulator.record({ ...recorded, accessKeyId: caller?.accessKeyId ?? null, callerArn: caller?.arn ?? null, outcome: 'error', errorCode: error.shape.code })
    send(res, error.shape.status, 'text/xml', errorXml(error.shape.type, error.shape.code, error.shape.message, requestId, ns), requestId)
  }
}

async function handleAdmin (emulator: StsEmulator, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const json = (status: number, value: unknown): void => send(res, status, 'application/json', JSON.stringify(value))
  const body = req.method === 'GET' || req.method === 'DELETE' ? {} : JSON.parse((await readBody(req)) || '{}') as Record<string, unknown>
  const route = `${req.method ?? ''} ${url.pathname}`
  switch (route) {
    case 'POST /_emulator/users':
      return json(201, emulator.createUser(String(body.arn)))
    case 'PUT /_emulator/roles': {
      const role = emulator.putRole({
        arn: String(body.arn),
        trustPolicy: body.trustPolicy as object,
        ...(Array.isArray(body.permissions) ? { permissions: body.permissions as object[] } : {}),
        ...(typeof body.maxSessionDuration === 'number' ? { maxSessionDuration: body.maxSessionDuration } : {}),
        ...(typeof body.propagationDelayMs === 'number' ? { propagationDelayMs: body.propagationDelayMs } : {})
      })
      return json(200, { arn: role.arn, roleId: role.roleId, maxSessionDuration: role.maxSessionDuration })
    }
    case 'DELETE /_emulator/roles':
      return json(emulator.deleteRole(url.searchParams.get('arn') ?? '') ? 200 : 404, {})
    case 'POST /_emulator/faults': {
      const problem = faultProblem(body)
      if (problem !== undefined) return json(400, { error: problem })
      emulator.injectFault(body as unknown as Fault)
      return json(201, {})
    }
    case 'DELETE /_emulator/faults':
      emulator.clearFaults()
      return json(200, {})
    case 'GET /_emulator/calls':
      return json(200, emulator.calls())
    case 'DELETE /_emulator/calls':
      emulator.clearCalls()
      return json(200, {})
    default:
      return json(404, { error: `no route ${route}` })
  }
}

export interface RunningStsEmulator {
  url: string
  emulator: StsEmulator
  close(): Promise<void>
}

export interface StsEmulatorOptions {
  port?: number
  host?: string
  emulator?: StsEmulator
  /** Serve the unauthenticated /_emulator/ admin interface (default true). */
  admin?: boolean
}

async function noAdmin (_emulator: StsEmulator, _req: IncomingMessage, res: ServerResponse): Promise<void> {
  send(res, 404, 'application/json', JSON.stringify({ error: 'this emulator serves no admin interface' }))
}

export async function startStsEmulator (options: StsEmulatorOptions = {}): Promise<RunningStsEmulator> {
  const emulator = options.emulator ?? createStsEmulator()
  const admin = options.admin === false ? noAdmin : handleAdmin
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://emulator')
    const handler = url.pathname.startsWith('/_emulator/') ? admin : handleSts
    handler(emulator, req, res, url).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, 'text/xml', errorXml('Receiver', 'InternalFailure', (error as Error).message, emulator.newRequestId()))
    })
  })
  server.keepAliveTimeout = 5000
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    emulator,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  }
}
