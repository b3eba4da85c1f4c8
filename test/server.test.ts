// The real process: starts on PGlite and on Postgres, refuses bad configuration clearly,
// migrates safely with several replicas at once, and shuts down gracefully on SIGTERM.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { databaseUrl, withAdminClient } from './helpers/postgres.js'
import { spawnDeputy, waitForReady } from './helpers/process.js'

const TOKEN = 'dpt_server-test-bootstrap-token-000000000000000'

t.test('bad configuration: exit 2 with the variable named', async (t) => {
  const deputy = spawnDeputy(['serve'], { PORT: 'eighty' })
  const { code } = await deputy.exit
  t.equal(code, 2)
  t.match(deputy.output(), /configuration error: PORT: must be a whole number/)
})

t.test('unknown command: exit 2 with usage', async (t) => {
  const deputy = spawnDeputy(['frobnicate'], {})
  t.equal((await deputy.exit).code, 2)
  t.match(deputy.output(), /unknown command "frobnicate"[\s\S]*usage: deputy/)
})

t.test('AWS identity: refuses to start unless STS says deputy is VENDOR_PRINCIPAL_ARN', async (t) => {
  const { startStsEmulator } = await import('../src/aws/sts-emulator/server.js')
  const sts = await startStsEmulator()
  t.teardown(() => sts.close())
  const keys = sts.emulator.createUser('arn:aws:iam::111111111111:user/deputy')
  const dataDir = await mkdtemp(join(tmpdir(), 'deputy-aws-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const base = { DEPUTY_DATA_DIR: dataDir, PORT: '0', AWS_ENDPOINT_URL_STS: sts.url, AWS_ENDPOINT_URL_IAM: sts.url, AWS_ACCESS_KEY_ID: keys.accessKeyId, AWS_SECRET_ACCESS_KEY: keys.secretAccessKey, AWS_REGION: 'eu-west-1', STS_RETRY_BUDGET_MS: '200' }

  const wrong = spawnDeputy(['serve'], { ...base, VENDOR_PRINCIPAL_ARN: 'arn:aws:iam::111111111111:role/TheVendorRole' })
  t.equal((await wrong.exit).code, 1)
  t.match(wrong.output(), /belong to arn:aws:iam::111111111111:user\/deputy, not to VENDOR_PRINCIPAL_ARN arn:aws:iam::111111111111:role\/TheVendorRole/)

  const unreachable = spawnDeputy(['serve'], { ...base, VENDOR_PRINCIPAL_ARN: 'arn:aws:iam::111111111111:user/deputy', AWS_ENDPOINT_URL_STS: 'http://127.0.0.1:1' })
  t.equal((await unreachable.exit).code, 1)
  t.match(unreachable.output(), /cannot confirm deputy's AWS identity/)

  const right = spawnDeputy(['serve'], { ...base, VENDOR_PRINCIPAL_ARN: 'arn:aws:iam::111111111111:user/deputy' })
  await waitForReady(right)
  t.match(right.output(), /AWS identity confirmed/)
  t.ok(sts.emulator.calls().some((c) => c.action === 'GetCallerIdentity' && c.callerArn === 'arn:aws:iam::111111111111:user/deputy'))
  right.child.kill('SIGTERM')
  t.equal((await right.exit).code, 0)
})

t.test('embedded default: PGlite in a data directory, kept across restarts', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'deputy-pglite-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const env = { DEPUTY_DATA_DIR: dataDir, PORT: '0', DEPUTY_BOOTSTRAP_ADMIN_TOKEN: TOKEN }

  const first = spawnDeputy(['serve'], env)
  const url = await waitForReady(first)
  t.match(first.output(), /"database":"pglite"/)
  const created = await fetch(`${url}/v1/customers`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Persisted', externalRef: 'persist-1' }) })
  t.equal(created.status, 201)
  const customerId = (await created.json() as { id: string }).id
  const minted = await fetch(`${url}/v1/customers/${customerId}/external-ids`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ awsAccountId: '123456789012' }) })
  t.equal(minted.status, 201)
  first.child.kill('SIGTERM')
  t.equal((await first.exit).code, 0, 'SIGTERM exits 0')

  const second = spawnDeputy(['serve'], env)
  const url2 = await waitForReady(second)
  const list = await fetch(`${url2}/v1/customers/${customerId}/external-ids`, { headers: { authorization: `Bearer ${TOKEN}` } })
  t.equal(list.status, 200)
  t.equal((await list.json() as { items: unknown[] }).items.length, 1, 'data survived the restart')
  second.child.kill('SIGTERM')
  t.equal((await second.exit).code, 0)
})

t.test('Postgres: three replicas start at once with MIGRATE_ON_START; SIGTERM finishes in-flight requests', async (t) => {
  const name = `deputy_test_${process.pid}_srv_${Math.random().toString(16).slice(2, 10)}`
  await withAdminClient((c) => c.query(`CREATE DATABASE "${name}"`))
  t.teardown(() => withAdminClient((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)))
  const env = { DATABASE_URL: databaseUrl(name), MIGRATE_ON_START: 'true', PORT: '0', DEPUTY_BOOTSTRAP_ADMIN_TOKEN: TOKEN }
  const replicas = [spawnDeputy(['serve'], env), spawnDeputy(['serve'], env), spawnDeputy(['serve'], env)]
  const urls = await Promise.all(replicas.map((r) => waitForReady(r)))
  const rows = await withAdminClient(async () => {
    const { default: pg } = await import('pg')
    const client = new pg.Client({ connectionString: databaseUrl(name) })
    await client.connect()
    try {
      const migrations = await client.query('SELECT count(*)::int AS n FROM _prisma_migrations')
      const admins = await client.query("SELECT count(*)::int AS n FROM api_clients WHERE 'admin' = ANY (scopes)")
      return { migrations: migrations.rows[0].n as number, admins: admins.rows[0].n as number }
    } finally {
      await client.end()
    }
  })
  t.ok(rows.migrations >= 1)
  t.equal(rows.admins, 1, 'exactly one bootstrap admin despite the race')

  // Requests the server has accepted when SIGTERM arrives must all be answered.
  const replica = replicas[0]
  const url = urls[0] ?? ''
  const customer = await fetch(`${url}/v1/customers`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', connection: 'close' }, body: JSON.stringify({ name: 'Graceful' }) })
  const customerId = (await customer.json() as { id: string }).id
  const incoming = (): number => (replica?.output().match(/"url":"\/v1\/customers\/[^"]+\/external-ids"[^\n]*"incoming request"/g) ?? []).length
  const inflight = Array.from({ length: 20 }, (_, i) => fetch(`${url}/v1/customers/${customerId}/external-ids`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ awsAccountId: String(200000000000 + i) })
  }).then((r) => r.status, (error: Error) => `${error.message}: ${String((error.cause as Error | undefined)?.message)}`))
  while (incoming() < 20) await new Promise((resolve) => setTimeout(resolve, 1))
  replica?.child.kill('SIGTERM')
  const statuses = await Promise.all(inflight)
  t.same(statuses, Array(20).fill(201), 'every accepted request got its answer')
  const exit = await replica?.exit
  t.equal(exit?.code, 0, replica?.output().split('\n').filter((l) => !l.includes('"level":30')).join('\n') ?? '')
  t.match(replica?.output() ?? '', /closing: no new connections/)
  for (const other of replicas.slice(1)) {
    other.child.kill('SIGTERM')
    t.equal((await other.exit).code, 0)
  }
})

t.test('deputy migrate and api-clients from the command line', async (t) => {
  const name = `deputy_test_${process.pid}_cli_${Math.random().toString(16).slice(2, 10)}`
  await withAdminClient((c) => c.query(`CREATE DATABASE "${name}"`))
  t.teardown(() => withAdminClient((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)))
  const env = { DATABASE_URL: databaseUrl(name) }
  const migrate = spawnDeputy(['migrate'], env)
  t.equal((await migrate.exit).code, 0)
  t.match(migrate.output(), /applied \d+ migration/)
  const again = spawnDeputy(['migrate'], env)
  t.equal((await again.exit).code, 0)
  t.match(again.output(), /applied 0 migration\(s\); \d+ already applied/)

  const create = spawnDeputy(['api-clients', 'create', '--name', 'ops', '--scopes', 'admin'], env)
  t.equal((await create.exit).code, 0, 'create exits 0')
  const created = JSON.parse(create.output()) as { id: string, token: string }
  t.match(created.token, /^dpt_/)
  const list = spawnDeputy(['api-clients', 'list'], env)
  t.equal((await list.exit).code, 0)
  t.match(list.output(), created.id)
  t.notMatch(list.output(), created.token)
  const revoke = spawnDeputy(['api-clients', 'revoke', created.id], env)
  t.equal((await revoke.exit).code, 0)
  t.match(revoke.output(), /"revokedAt": "\d{4}-/)
  const bad = spawnDeputy(['api-clients', 'create', '--name', 'x', '--scopes', 'root'], env)
  t.equal((await bad.exit).code, 2)
  t.match(bad.output(), /unknown scopes: root/)
})
