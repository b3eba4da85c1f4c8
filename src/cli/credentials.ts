// `deputy credentials`: the AWS credential_process for a vendor service. Asks deputy's public API
// (POST /v1/connections/{id}/credentials) for credentials and prints the document the AWS SDKs
// and CLIs read from a credential_process: {"Version": 1, AccessKeyId, SecretAccessKey,
// SessionToken, Expiration}. deputy's URL and token come from the environment (DEPUTY_URL,
// DEPUTY_TOKEN or DEPUTY_TOKEN_FILE), never from argv (which `ps` shows to every user), and the
// token is never printed. A refusal is one line on stderr, deputy's code and detail, which the
// AWS CLI and SDKs show in their error; the exit code says which kind of failure it was.
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

export const CREDENTIALS_USAGE = `usage: deputy credentials --connection ID --purpose P [--duration SECONDS]

  Prints credentials for the connection in the credential_process format (AWS config:
  credential_process = deputy credentials --connection ID --purpose "...").
  Environment: DEPUTY_URL (e.g. https://deputy.internal), and DEPUTY_TOKEN or DEPUTY_TOKEN_FILE
  (a file holding the token; "Bearer " before it and a trailing newline are ignored).`

/** Exit codes: 2 usage or environment, 3 deputy could not be reached, 4 deputy refused. */
export const EXIT = { usage: 2, unreachable: 3, refused: 4 } as const

const TIMEOUT_MS = 15_000
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

class Failure extends Error {
  constructor (message: string, readonly exitCode: number) { super(message) }
}

export interface CredentialsIo {
  env: NodeJS.ProcessEnv
  stdout: (text: string) => void
  stderr: (text: string) => void
}

function tokenFrom (env: NodeJS.ProcessEnv): string {
  const file = env.DEPUTY_TOKEN_FILE
  let raw: string | undefined
  if (file !== undefined && file !== '') {
    try {
      raw = readFileSync(file, 'utf8')
    } catch (error) {
      throw new Failure(`cannot read DEPUTY_TOKEN_FILE ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`, EXIT.usage)
    }
  } else {
    raw = env.DEPUTY_TOKEN
  }
  // The same file may serve AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, which holds "Bearer dpt_...".
  const token = raw?.trim().replace(/^Bearer[ ]+/i, '')
  if (token === undefined || token === '') throw new Failure('set DEPUTY_TOKEN or DEPUTY_TOKEN_FILE to a deputy API token with the credentials:issue scope', EXIT.usage)
  if (!/^[\x21-\x7e]{1,512}$/.test(token)) throw new Failure('the deputy token is not a single line of printable characters', EXIT.usage)
  return token
}

function baseUrl (env: NodeJS.ProcessEnv): URL {
  const raw = env.DEPUTY_URL
  if (raw === undefined || raw === '') throw new Failure('set DEPUTY_URL to deputy\'s address (e.g. https://deputy.internal)', EXIT.usage)
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new Failure('DEPUTY_URL is not a URL', EXIT.usage)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Failure('DEPUTY_URL must be http(s)', EXIT.usage)
  // The token would travel in clear text: only to this machine.
  if (url.protocol === 'http:' && !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) {
    throw new Failure(`DEPUTY_URL must be https outside loopback (the token would cross the network in clear text): ${url.host}`, EXIT.usage)
  }
  if (url.username !== '' || url.password !== '') throw new Failure('DEPUTY_URL must not hold credentials', EXIT.usage)
  return url
}

async function run (argv: string[], io: CredentialsIo): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { connection: { type: 'string' }, purpose: { type: 'string' }, duration: { type: 'string' } } })
  if (values.connection === undefined || !UUID.test(values.connection)) throw new Failure('credentials needs --connection ID (a UUID)', EXIT.usage)
  if (values.purpose === undefined) throw new Failure('credentials needs --purpose (why; it is kept in the audit trail)', EXIT.usage)
  const duration = values.duration === undefined ? undefined : Number(values.duration)
  if (duration !== undefined && !Number.isInteger(duration)) throw new Failure('--duration takes whole seconds (900-3600)', EXIT.usage)
  const token = tokenFrom(io.env)
  const url = new URL(`v1/connections/${values.connection}/credentials`, baseUrl(io.env).href.replace(/\/?$/, '/'))
  let response: Response
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'user-agent': 'deputy-credential-process' },
      body: JSON.stringify({ purpose: values.purpose, ...(duration === undefined ? {} : { durationSeconds: duration }) }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
      redirect: 'error'
    })
  } catch (error) {
    const cause = (error as { cause?: { code?: string, message?: string, errors?: Array<{ code?: string }> } }).cause
    const why = cause?.code ?? cause?.errors?.[0]?.code ?? cause?.message ?? (error as Error).message
    throw new Failure(`cannot reach deputy at ${url.origin}: ${why}`, EXIT.unreachable)
  }
  const text = await response.text()
  let body: Record<string, unknown> = {}
  try {
    body = JSON.parse(text) as Record<string, unknown>
  } catch {
    // Not deputy (a proxy's page): said below by status.
  }
  if (response.status !== 201) {
    const code = typeof body.code === 'string' ? body.code : `http_${response.status}`
    const detail = typeof body.detail === 'string' ? body.detail : 'no detail'
    throw new Failure(`${code}: ${detail}`, EXIT.refused)
  }
  const credentials = body.credentials as Record<string, unknown> | undefined
  if (typeof credentials?.accessKeyId !== 'string' || typeof credentials.secretAccessKey !== 'string' || typeof credentials.sessionToken !== 'string' || typeof credentials.expiration !== 'string') {
    throw new Failure('deputy answered 201 without credentials', EXIT.unreachable)
  }
  io.stdout(JSON.stringify({
    Version: 1,
    AccessKeyId: credentials.accessKeyId,
    SecretAccessKey: credentials.secretAccessKey,
    SessionToken: credentials.sessionToken,
    Expiration: credentials.expiration
  }) + '\n')
}

/** Runs the command; returns the exit code. */
export async function credentialsCommand (argv: string[], io: CredentialsIo): Promise<number> {
  try {
    await run(argv, io)
    return 0
  } catch (error) {
    if (error instanceof Failure) {
      io.stderr(`deputy: ${error.message}\n`)
      return error.exitCode
    }
    if (error instanceof TypeError && String((error as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`deputy: ${error.message}\n${CREDENTIALS_USAGE}\n`)
      return EXIT.usage
    }
    throw error
  }
}
