// Real AWS clients nobody here wrote, against deputy listening on 127.0.0.1 with the STS emulator
// behind it: AWS CLI v2 (Debian's awscli), AWS CLI v1 and boto3 (Python), and the JavaScript SDK
// v3's default provider chain. Only environment variables or a config file tell them where
// credentials come from: the container provider variables pointing at
// GET /v1/connections/{id}/container-credentials, or a credential_process running
// `deputy credentials`. Each must get credentials, be the customer's role on the emulator,
// refresh by itself as the session nears its end, and fail with deputy's reason when refused.
// A client missing on this machine fails the test, naming it.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { ADMIN_TOKEN, buildTestApp, call } from '../helpers/app.js'
import { startTestAws } from '../helpers/aws.js'
import { connectRole, createApiClient, createCustomer } from '../helpers/fixtures.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const HERE = fileURLToPath(new URL('.', import.meta.url))
const CLI_V2 = '/usr/bin/aws'

interface Ran { code: number | null, stdout: string, stderr: string }

function run (command: string, args: string[], env: Record<string, string>, stdin = ''): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, timeout: 60_000 })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.end(stdin)
  })
}

/** The clients on this machine, or why each is missing. */
async function findClients (): Promise<{ cliV2?: string, cliV1?: string, python?: string, node?: true, missing: string[] }> {
  const found: { cliV2?: string, cliV1?: string, python?: string, node?: true, missing: string[] } = { missing: [] }
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' }
  const v2 = existsSync(CLI_V2) ? await run(CLI_V2, ['--version'], env) : undefined
  if (v2 !== undefined && /^aws-cli\/2\./.test(v2.stdout)) found.cliV2 = CLI_V2
  else found.missing.push(`AWS CLI v2 at ${CLI_V2} (Debian's awscli: apt-get install -y awscli)`)
  // The interpreter itself, not pyenv's shim (which needs the user's HOME to find it).
  const py = await run('python3', ['-c', 'import sys, boto3; print(sys.executable)'], env).catch(() => undefined)
  if (py?.code === 0) found.python = py.stdout.trim()
  else found.missing.push(`boto3 for python3 on PATH (${py?.stderr.trim().split('\n').at(-1) ?? 'no python3'})`)
  const v1Path = found.python === undefined ? undefined : join(dirname(found.python), 'aws')
  const v1 = v1Path !== undefined && existsSync(v1Path) ? await run(v1Path, ['--version'], env) : undefined
  if (v1Path !== undefined && /^aws-cli\/1\./.test(`${v1?.stdout ?? ''}${v1?.stderr ?? ''}`)) found.cliV1 = v1Path
  else found.missing.push(`AWS CLI v1 beside python3 (${v1Path ?? 'no python3 with boto3'}; pip install awscli)`)
  try {
    createRequire(import.meta.url).resolve('@aws-sdk/credential-providers')
    found.node = true
  } catch {
    found.missing.push('@aws-sdk/credential-providers (npm ci)')
  }
  return found
}

t.test('real AWS clients get, use and refresh credentials from deputy, and show its refusals', async (t) => {
  const clients = await findClients()
  for (const missing of clients.missing) t.fail(`AWS client missing on this machine: ${missing}`)

  // The emulator's clock runs 12 minutes behind (its signature check allows 15), so a session it
  // issues ends 12 minutes early: 3600 s sessions have 48 minutes left, fresh to every client;
  // 900 s sessions (AWS's minimum) 3 minutes, inside botocore's refresh windows (15 min advisory,
  // 10 min mandatory) and the JS SDK's (5 min), yet still valid.
  const aws = await startTestAws(t, {}, { now: () => new Date(Date.now() - 12 * 60_000) })
  const { app, database } = await buildTestApp(t, { ...aws.env, RATE_LIMIT_MAX: '100000', AUTH_FAILURE_LIMIT_MAX: '100000' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  const deputyUrl = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
  const customer = await createCustomer(app)
  const worker = await createApiClient(app, ['credentials:issue'])
  const { connection, account } = await connectRole(app, aws.emulator, customer.id)
  const revoked = await connectRole(app, aws.emulator, customer.id)
  t.equal((await call(app, 'POST', `/v1/connections/${revoked.connection.id}/revoke`, { token: ADMIN_TOKEN, body: { reason: 'customer left' } })).statusCode, 200)
  const roleSession = new RegExp(`^arn:aws:sts::${account}:assumed-role/DeputyAccess/`)

  const home = mkdtempSync(join(tmpdir(), 'deputy-aws-clients-'))
  t.teardown(() => { rmSync(home, { recursive: true, force: true }) })
  const tokenFile = join(home, 'token')
  // No trailing newline: botocore refuses a token with one ("not a legal header value").
  writeFileSync(tokenFile, `Bearer ${worker.token}`, { mode: 0o600 })
  const wrongToken = 'dpt_wrong-token-0123456789abcdefghijklmnopqrstuvwxyz'
  // Nothing of this process's AWS environment (deputy's own emulator keys) reaches the clients.
  const isolated = { PATH: process.env.PATH ?? '', HOME: home, AWS_CONFIG_FILE: join(home, 'no-config'), AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-credentials'), AWS_REGION: 'us-east-1', AWS_DEFAULT_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true', AWS_PAGER: '' }

  /** The two environment variables of the container provider (or the token as a file). */
  const container = (purpose: string, opts: { durationSeconds?: number, connectionId?: string, token?: string, file?: boolean } = {}): Record<string, string> => ({
    ...isolated,
    AWS_CONTAINER_CREDENTIALS_FULL_URI: `${deputyUrl}/v1/connections/${opts.connectionId ?? connection.id}/container-credentials?purpose=${encodeURIComponent(purpose)}${opts.durationSeconds === undefined ? '' : `&durationSeconds=${opts.durationSeconds}`}`,
    ...(opts.file === true ? { AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile } : { AWS_CONTAINER_AUTHORIZATION_TOKEN: `Bearer ${opts.token ?? worker.token}` })
  })
  /** A config file whose profile's credential_process is `deputy credentials`. */
  let configs = 0
  const processProfile = (purpose: string, opts: { durationSeconds?: number, token?: string } = {}): Record<string, string> => {
    const config = join(home, `config-${++configs}`)
    const command = [process.execPath, '--import', 'tsx', join(ROOT, 'src/cli/index.ts'), 'credentials', '--connection', connection.id, '--purpose', `"${purpose}"`, ...(opts.durationSeconds === undefined ? [] : ['--duration', String(opts.durationSeconds)])]
    writeFileSync(config, `[profile deputy]\ncredential_process = ${command.join(' ')}\n`)
    const token: Record<string, string> = opts.token === undefined ? { DEPUTY_TOKEN_FILE: tokenFile } : { DEPUTY_TOKEN: opts.token }
    return { ...isolated, AWS_CONFIG_FILE: config, AWS_PROFILE: 'deputy', DEPUTY_URL: deputyUrl, ...token }
  }

  interface Outcome { arn?: string, error?: string, log?: string }
  const cli = async (path: string | undefined, env: Record<string, string>): Promise<Outcome[]> => {
    if (path === undefined) return []
    const ran = await run(path, ['sts', 'get-caller-identity', '--endpoint-url', aws.url, '--output', 'json'], env)
    return [ran.code === 0 ? { arn: (JSON.parse(ran.stdout) as { Arn: string }).Arn } : { error: ran.stderr }]
  }
  const batch = async (command: string | undefined, args: string[], scenarios: Array<{ env: Record<string, string>, calls: number }>): Promise<Outcome[][]> => {
    if (command === undefined) return scenarios.map(() => [])
    const ran = await run(command, args, { PATH: isolated.PATH, HOME: home }, JSON.stringify({ scenarios: scenarios.map((s) => ({ ...s, endpoint: aws.url })) }))
    if (ran.code !== 0) throw new Error(`${command} failed: ${ran.stderr}`)
    return JSON.parse(ran.stdout) as Outcome[][]
  }
  const boto3 = (scenarios: Array<{ env: Record<string, string>, calls: number }>) => batch(clients.python, [join(HERE, 'boto3-client.py')], scenarios)
  const node = (scenarios: Array<{ env: Record<string, string>, calls: number }>) => batch(clients.node === true ? process.execPath : undefined, [join(HERE, 'node-client.mjs')], scenarios)
  // Refusals cost each SDK its retry pauses (botocore 3 x 1 s, the JS SDK 3 x 1 s): one process
  // per refused scenario, all at once, rather than one after another.
  const apart = async (client: typeof boto3, scenarios: Array<{ env: Record<string, string>, calls: number }>): Promise<Outcome[][]> =>
    (await Promise.all(scenarios.map(async (scenario) => client([scenario])))).map((outcomes) => outcomes[0] ?? [])
  /** How often deputy issued for this purpose: one credentials.issued event per fetch. */
  const fetches = (purpose: string) => database.prisma.auditEvent.count({ where: { action: 'credentials.issued', resourceId: connection.id, details: { path: ['purpose'], equals: purpose } } })
  const assumed = (t: Test, outcomes: Outcome[], calls: number, what: string) => {
    if (outcomes.length === 0) return // missing client, already failed above
    t.equal(outcomes.length, calls, `${what}: ${JSON.stringify(outcomes.find((o) => o.error !== undefined) ?? '')}`)
    for (const outcome of outcomes) t.match(outcome.arn, roleSession, `${what}: GetCallerIdentity names the customer's role session`)
  }

  t.test('container provider and credential_process: credentials that work, fetched once while fresh', async (t) => {
    // 3600 s sessions: 48 minutes left, more than every client's refresh window.
    const [v2c, v2p, v1c, py, js] = await Promise.all([
      cli(clients.cliV2, container('cli v2 container', { durationSeconds: 3600 })),
      cli(clients.cliV2, processProfile('cli v2 process', { durationSeconds: 3600 })),
      cli(clients.cliV1, container('cli v1 container', { durationSeconds: 3600 })),
      boto3([
        { env: container('boto3 container', { durationSeconds: 3600 }), calls: 3 },
        { env: container('boto3 token file', { durationSeconds: 3600, file: true }), calls: 1 },
        { env: processProfile('boto3 process', { durationSeconds: 3600 }), calls: 3 }
      ]),
      node([
        { env: container('node container', { durationSeconds: 3600 }), calls: 3 },
        { env: container('node token file', { durationSeconds: 3600, file: true }), calls: 1 },
        { env: processProfile('node process', { durationSeconds: 3600 }), calls: 2 }
      ])
    ])
    assumed(t, v2c, 1, 'CLI v2, container provider')
    assumed(t, v2p, 1, 'CLI v2, credential_process')
    assumed(t, v1c, 1, 'CLI v1, container provider')
    assumed(t, py[0] ?? [], 3, 'boto3, container provider')
    assumed(t, py[1] ?? [], 1, 'boto3, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE')
    assumed(t, py[2] ?? [], 3, 'boto3, credential_process')
    assumed(t, js[0] ?? [], 3, 'JS SDK v3, container provider')
    assumed(t, js[1] ?? [], 1, 'JS SDK v3, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE')
    assumed(t, js[2] ?? [], 2, 'JS SDK v3, credential_process')
    const counts: Record<string, number> = {}
    for (const purpose of ['cli v2 container', 'cli v2 process', 'cli v1 container', 'boto3 container', 'boto3 token file', 'boto3 process', 'node container', 'node token file', 'node process']) counts[purpose] = await fetches(purpose)
    const present = { 'cli v2 container': clients.cliV2, 'cli v2 process': clients.cliV2, 'cli v1 container': clients.cliV1, 'boto3 container': clients.python, 'boto3 token file': clients.python, 'boto3 process': clients.python, 'node container': clients.node, 'node token file': clients.node, 'node process': clients.node }
    t.same(counts, Object.fromEntries(Object.entries(present).map(([purpose, found]) => [purpose, found === undefined ? 0 : 1])), 'one fetch per client while the session is fresh, however many calls')
  })

  t.test('near the end of the session, each client fetches again by itself', async (t) => {
    // 900 s sessions: 3 minutes left when they arrive (the emulator's clock, above).
    const [v2c, v2p, py, js] = await Promise.all([
      cli(clients.cliV2, container('cli v2 near')),
      cli(clients.cliV2, processProfile('cli v2 process near')),
      boto3([
        { env: container('boto3 near'), calls: 3 },
        { env: processProfile('boto3 process near'), calls: 2 }
      ]),
      node([{ env: container('node near'), calls: 3 }])
    ])
    assumed(t, v2c, 1, 'CLI v2, container provider, near expiry')
    assumed(t, v2p, 1, 'CLI v2, credential_process, near expiry')
    assumed(t, py[0] ?? [], 3, 'boto3, container provider, near expiry')
    assumed(t, py[1] ?? [], 2, 'boto3, credential_process, near expiry')
    assumed(t, js[0] ?? [], 3, 'JS SDK v3, near expiry')
    // botocore loads credentials, then refreshes before signing each call (less than 10 min left).
    if (clients.cliV2 !== undefined) {
      t.equal(await fetches('cli v2 near'), 2, 'CLI v2: loaded, then refreshed before its one call')
      t.equal(await fetches('cli v2 process near'), 2, 'CLI v2: the credential_process ran again before its one call')
    }
    if (clients.python !== undefined) {
      t.equal(await fetches('boto3 near'), 4, 'boto3: loaded, then refreshed before each of 3 calls')
      t.equal(await fetches('boto3 process near'), 3, 'boto3: the credential_process ran again before each of 2 calls')
    }
    // The JS SDK refreshes credentials with less than 5 minutes left, in the background.
    if (clients.node === true) t.ok(await fetches('node near') >= 2, `JS SDK v3 fetched again (${await fetches('node near')} fetches for 3 calls)`)
  })

  /** The client's error output carries deputy's code and message. */
  const refused = (t: Test, outcomes: Outcome[], code: string, message: RegExp, what: string) => {
    if (outcomes.length === 0) return
    const error = outcomes.find((o) => o.error !== undefined)
    t.notOk(outcomes.some((o) => o.arn !== undefined), `${what}: no call succeeded`)
    t.match(error?.error, code, `${what}: deputy's code in the client's error`)
    t.match(error?.error, message, `${what}: deputy's message in the client's error`)
  }
  /**
   * The JS SDK v3's default chain fails, but shows none of deputy's answer: credential-provider-http
   * 3.972 attaches the body's `Code`/`Message` to an error that the chain then drops for
   * fromContainerMetadata's and, last, "Could not load credentials from any providers". deputy's
   * reason is then in its own audit trail (credentials.denied, auth.failed), checked here.
   */
  const refusedJs = async (t: Test, outcomes: Outcome[], audited: { action: string, reason: string, purpose?: string }) => {
    if (outcomes.length === 0) return
    t.notOk(outcomes.some((o) => o.arn !== undefined), 'JS SDK v3: no call succeeded')
    t.match(outcomes.at(-1)?.error, /CredentialsProviderError: Could not load credentials from any providers/, 'JS SDK v3: the call fails')
    t.match(outcomes.at(-1)?.log, /credential-provider-http - fromHttp/, 'JS SDK v3: it asked deputy')
    const events = await database.prisma.auditEvent.findMany({ where: { action: audited.action, details: { path: ['reason'], equals: audited.reason } } })
    const purposeOf = (details: unknown) => (details as { purpose?: string }).purpose
    t.ok(events.some((e) => audited.purpose === undefined || purposeOf(e.details) === audited.purpose), `JS SDK v3: deputy audited the refusal (${audited.action}, ${audited.reason})`)
  }

  t.test('a wrong token and a revoked connection: the client fails with deputy\'s reason', async (t) => {
    const [v2w, v2r, v2p, v1w, v1r, py, js] = await Promise.all([
      cli(clients.cliV2, container('wrong token', { token: wrongToken })),
      cli(clients.cliV2, container('revoked', { connectionId: revoked.connection.id })),
      cli(clients.cliV2, processProfile('wrong token', { token: wrongToken })),
      cli(clients.cliV1, container('wrong token', { token: wrongToken })),
      cli(clients.cliV1, container('revoked', { connectionId: revoked.connection.id })),
      apart(boto3, [
        { env: container('wrong token', { token: wrongToken }), calls: 1 },
        { env: container('revoked', { connectionId: revoked.connection.id }), calls: 1 },
        { env: processProfile('wrong token', { token: wrongToken }), calls: 1 }
      ]),
      apart(node, [
        { env: container('wrong token', { token: wrongToken }), calls: 1 },
        { env: container('node revoked', { connectionId: revoked.connection.id }), calls: 1 }
      ])
    ])
    const invalid = /this API token is not valid/
    const isRevoked = new RegExp(`connection ${revoked.connection.id} is revoked`)
    refused(t, v2w, 'unauthorized', invalid, 'CLI v2, wrong token')
    refused(t, v2r, 'connection_not_active', isRevoked, 'CLI v2, revoked connection')
    refused(t, v2p, 'unauthorized', invalid, 'CLI v2, credential_process, wrong token')
    refused(t, v1w, 'unauthorized', invalid, 'CLI v1, wrong token')
    refused(t, v1r, 'connection_not_active', isRevoked, 'CLI v1, revoked connection')
    refused(t, py[0] ?? [], 'unauthorized', invalid, 'boto3, wrong token')
    refused(t, py[1] ?? [], 'connection_not_active', isRevoked, 'boto3, revoked connection')
    refused(t, py[2] ?? [], 'unauthorized', invalid, 'boto3, credential_process, wrong token')
    await refusedJs(t, js[0] ?? [], { action: 'auth.failed', reason: 'unknown_token' })
    await refusedJs(t, js[1] ?? [], { action: 'credentials.denied', reason: 'connection_not_active', purpose: 'node revoked' })
  })

  t.test('a frozen deputy: the client fails with the operator\'s reason', async (t) => {
    t.equal((await call(app, 'POST', '/v1/admin/freeze', { token: ADMIN_TOKEN, body: { reason: 'incident 7 under investigation' } })).statusCode, 200)
    t.teardown(async () => { await call(app, 'POST', '/v1/admin/unfreeze', { token: ADMIN_TOKEN, body: {} }) })
    const [v2c, v2p, v1c, py, js] = await Promise.all([
      cli(clients.cliV2, container('frozen')),
      cli(clients.cliV2, processProfile('frozen')),
      cli(clients.cliV1, container('frozen')),
      apart(boto3, [{ env: container('frozen'), calls: 1 }, { env: processProfile('frozen'), calls: 1 }]),
      node([{ env: container('node frozen'), calls: 1 }])
    ])
    const reason = /incident 7 under investigation/
    refused(t, v2c, 'issuance_frozen', reason, 'CLI v2, frozen')
    refused(t, v2p, 'issuance_frozen', reason, 'CLI v2, credential_process, frozen')
    refused(t, v1c, 'issuance_frozen', reason, 'CLI v1, frozen')
    refused(t, py[0] ?? [], 'issuance_frozen', reason, 'boto3, frozen')
    refused(t, py[1] ?? [], 'issuance_frozen', reason, 'boto3, credential_process, frozen')
    await refusedJs(t, js[0] ?? [], { action: 'credentials.denied', reason: 'issuance_frozen', purpose: 'node frozen' })
  })
})
