// The sandbox as a process: the README's first command (nothing configured) starts the STS
// emulator inside deputy, prints a banner saying AWS is emulated and, at the first start only, the
// admin token, which no log line carries; /readyz says so too. The emulator serves no admin
// interface (it has no authentication, and any local process reaches it). Production configuration
// (VENDOR_PRINCIPAL_ARN, DATABASE_URL) starts no emulator and serves no sandbox route.
import { readdir, readFile, readlink, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { createTestDatabase } from './helpers/postgres.js'
import { spawnDeputy, waitForReady, type Deputy } from './helpers/process.js'

async function waitFor (deputy: Deputy, pattern: RegExp, timeoutMs = 90_000): Promise<RegExpExecArray> {
  const started = Date.now()
  for (;;) {
    const match = pattern.exec(deputy.output())
    if (match !== null) return match
    if (deputy.child.exitCode !== null || Date.now() - started > timeoutMs) throw new Error(`no ${String(pattern)} in the output:\n${deputy.output()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

async function stop (t: Test, deputy: Deputy): Promise<void> {
  deputy.child.kill('SIGTERM')
  t.equal((await deputy.exit).code, 0, 'SIGTERM exits 0')
}

/** The TCP ports a process listens on (Linux: its socket inodes in /proc/net/tcp{,6}). */
async function listeningPorts (pid: number): Promise<number[]> {
  const inodes = new Set<string>()
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1]
    if (inode !== undefined) inodes.add(inode)
  }
  const ports = new Set<number>()
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '')
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/)
      // local_address is hex ip:port; st 0A is LISTEN; the inode is the tenth field.
      if (fields[3] === '0A' && inodes.has(fields[9] ?? '')) ports.add(parseInt(fields[1]?.split(':')[1] ?? '', 16))
    }
  }
  return [...ports].sort((a, b) => a - b)
}

const logLines = (output: string): string[] => output.split('\n').filter((line) => line.startsWith('{"level"'))
const readyz = async (url: string): Promise<unknown> => (await fetch(`${url}/readyz`)).json()
const STACKS = '/v1/sandbox/accounts/123456789012/stacks'

t.test('nothing configured: the sandbox, its banner, and the admin token printed once', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'deputy-sandbox-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const first = spawnDeputy(['serve'], { DEPUTY_DATA_DIR: dataDir, PORT: '0' })
  const [, url = '', token = ''] = await waitFor(first, /^ {3}export DEPUTY=(http:\/\/127\.0\.0\.1:\d+) DEPUTY_TOKEN=(dpt_[\w-]{43})$/m)
  await waitForReady(first)
  const output = first.output()
  t.match(output, /={78}\n deputy SANDBOX: AWS is EMULATED\n={78}\n No call goes to AWS and nothing reaches a real AWS account/, 'the banner says AWS is emulated')
  t.match(output, /Or open the console, http:\/\/127\.0\.0\.1:\d+\/console\/, and sign in with the token\./, 'and where the console is')
  t.match(output, /use 123456789012 \(any 12-digit ID works\)/, 'and which customer account to use')
  t.equal(output.split(token).length - 1, 1, 'the token is printed exactly once')
  t.ok(logLines(output).length >= 5, 'the JSON log lines')
  t.notOk(logLines(output).some((line) => line.includes(token) || line.includes('dpt_')), 'no log line carries the token')
  t.ok(logLines(output).some((line) => line.includes('sandbox: AWS is emulated')), 'the log says AWS is emulated')
  t.same(await readyz(url), { status: 'ok', aws: 'emulated', sandbox: { vendorPrincipalArn: 'arn:aws:iam::111122223333:user/deputy-sandbox', customerAwsAccountId: '123456789012' } }, '/readyz says so')
  const ports = await listeningPorts(first.child.pid ?? 0)
  t.equal(ports.length, 2, 'deputy and the STS emulator listen in this one process')
  // Any local process can reach the emulator's port: it must not hand out keys or change roles.
  const stsPort = ports.find((port) => port !== Number(new URL(url).port))
  t.match(output, `to the STS emulator inside this process (http://127.0.0.1:${stsPort ?? ''})`, 'the banner names the emulator')
  const sts = `http://127.0.0.1:${stsPort ?? ''}`
  const minted = await fetch(`${sts}/_emulator/users`, { method: 'POST', body: JSON.stringify({ arn: 'arn:aws:iam::111122223333:user/deputy-sandbox' }) })
  t.equal(minted.status, 404, 'no keys from the emulator\'s admin interface')
  t.notMatch(await minted.text(), /secretAccessKey|accessKeyId/)
  t.equal((await fetch(`${sts}/_emulator/roles`, { method: 'PUT', body: JSON.stringify({ arn: 'arn:aws:iam::123456789012:role/x', trustPolicy: {} }) })).status, 404, 'no role written')
  t.equal((await fetch(`${sts}/_emulator/calls`)).status, 404, 'no call record read')

  const auth = { authorization: `Bearer ${token}` }
  const clients = await fetch(`${url}/v1/api-clients`, { headers: auth })
  t.equal(clients.status, 200, 'an admin token')
  t.match(await clients.json(), { items: [{ name: 'sandbox admin', scopes: ['admin'] }] })
  const audit = await (await fetch(`${url}/v1/audit-events?action=api_client.bootstrapped`, { headers: auth })).json() as { items: unknown[] }
  t.match(audit.items, [{ details: { source: 'sandbox' } }], 'audited as the sandbox\'s')
  const unauthorized = await fetch(`${url}${STACKS}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"template":"x"}' })
  t.equal(unauthorized.status, 401, 'the sandbox route is served (and needs a token)')
  await stop(t, first)

  // The same data directory again, now with a bootstrap token: an admin exists, so no token is
  // made, printed, or taken from the environment.
  const given = 'dpt_sandbox-test-bootstrap-token-0000000000000'
  const second = spawnDeputy(['serve'], { DEPUTY_DATA_DIR: dataDir, PORT: '0', DEPUTY_BOOTSTRAP_ADMIN_TOKEN: given })
  const [, url2 = ''] = await waitFor(second, /^ {3}export DEPUTY=(http:\/\/127\.0\.0\.1:\d+) DEPUTY_TOKEN=<that token>$/m)
  await waitForReady(second)
  t.notMatch(second.output(), /dpt_/, 'no token printed on a later start, the one given included')
  t.equal((await fetch(`${url2}/v1/api-clients`, { headers: auth })).status, 200, 'the first token still works')
  t.equal((await fetch(`${url2}/v1/api-clients`, { headers: { authorization: `Bearer ${given}` } })).status, 401, 'the bootstrap token made no second admin')
  await stop(t, second)

  const third = spawnDeputy(['serve'], { DEPUTY_DATA_DIR: dataDir, PORT: '0' })
  await waitFor(third, /An admin client exists[\s\S]*npm run deputy -- api-clients create --name me --scopes admin[\s\S]*={78}\n/)
  t.notMatch(third.output(), /dpt_/, 'no token printed; the banner says how to make one')
  t.match(third.output(), `DEPUTY_DATA_DIR=${dataDir} npm run deputy`, 'for this data directory')
  await stop(t, third)
})

t.test('VENDOR_PRINCIPAL_ARN on the embedded database: real AWS configuration, no emulator, no sandbox route', async (t) => {
  const { startStsEmulator } = await import('../src/aws/sts-emulator/server.js')
  const sts = await startStsEmulator()
  t.teardown(() => sts.close())
  const keys = sts.emulator.createUser('arn:aws:iam::111111111111:user/deputy')
  const dataDir = await mkdtemp(join(tmpdir(), 'deputy-vendor-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const deputy = spawnDeputy(['serve'], { DEPUTY_DATA_DIR: dataDir, PORT: '0', VENDOR_PRINCIPAL_ARN: 'arn:aws:iam::111111111111:user/deputy', AWS_ENDPOINT_URL_STS: sts.url, AWS_ACCESS_KEY_ID: keys.accessKeyId, AWS_SECRET_ACCESS_KEY: keys.secretAccessKey, AWS_REGION: 'eu-west-1' })
  const url = await waitForReady(deputy)
  t.match(deputy.output(), /AWS identity confirmed/)
  t.notMatch(deputy.output(), /sandbox|SANDBOX|EMULATED/, 'no banner, no sandbox log line')
  t.same(await readyz(url), { status: 'ok' })
  t.same(await listeningPorts(deputy.child.pid ?? 0), [Number(new URL(url).port)], 'deputy alone listens: no emulator started')
  const res = await fetch(`${url}${STACKS}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"template":"x"}' })
  t.equal(res.status, 404, 'no sandbox route')
  t.match(await res.json(), { code: 'route_not_found' })
  t.ok(sts.emulator.calls().some((c) => c.action === 'GetCallerIdentity' && c.callerArn === 'arn:aws:iam::111111111111:user/deputy'), 'deputy called the STS it was configured with')
  await stop(t, deputy)
})

t.test('DATABASE_URL: no sandbox either (deputy runs without AWS), and DEPUTY_SANDBOX=true next to it stops deputy', async (t) => {
  const databaseUrl = await createTestDatabase(t)
  const deputy = spawnDeputy(['serve'], { DATABASE_URL: databaseUrl, PORT: '0', DEPUTY_BOOTSTRAP_ADMIN_TOKEN: 'dpt_sandbox-test-postgres-token-00000000000000' })
  const url = await waitForReady(deputy)
  t.notMatch(deputy.output(), /sandbox|SANDBOX|EMULATED/, 'no banner, no sandbox log line')
  t.match(deputy.output(), /VENDOR_PRINCIPAL_ARN is not set: running without AWS/)
  t.same(await listeningPorts(deputy.child.pid ?? 0), [Number(new URL(url).port)], 'deputy alone listens: no emulator started')
  t.equal((await fetch(`${url}${STACKS}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"template":"x"}' })).status, 404, 'no sandbox route')
  const connections = await fetch(`${url}/v1/customers/00000000-0000-4000-8000-000000000000/connections`, {
    method: 'POST',
    headers: { authorization: 'Bearer dpt_sandbox-test-postgres-token-00000000000000', 'content-type': 'application/json' },
    body: JSON.stringify({ externalIdId: '00000000-0000-4000-8000-000000000000', roleArn: 'arn:aws:iam::123456789012:role/DeputyAccess' })
  })
  t.equal(connections.status, 503)
  t.match(await connections.json(), { code: 'aws_not_configured' })
  await stop(t, deputy)

  const refused = spawnDeputy(['serve'], { DATABASE_URL: databaseUrl, PORT: '0', DEPUTY_SANDBOX: 'true' })
  t.equal((await refused.exit).code, 2)
  t.match(refused.output(), /configuration error: DEPUTY_SANDBOX: is true, but DATABASE_URL is set/)
})
