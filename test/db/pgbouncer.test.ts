// deputy behind PgBouncer in transaction pooling mode: DATABASE_URL through a private pgbouncer
// (pool_mode = transaction, two server connections for all of deputy's pools, so consecutive
// transactions of one client land on different PostgreSQL sessions), DATABASE_DIRECT_URL
// straight to PostgreSQL for what needs a session of its own (the migration runner's lock).
// The main flow works through it: mint (also concurrently and idempotently), register and probe a
// connection, issue credentials, revoke, query the audit trail, drift and sealer runs, and a
// webhook delivery; and the migration runner never goes through the pooler.
import { existsSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import t from 'tap'
import { ADMIN_TOKEN, buildTestAppOn, call } from '../helpers/app.js'
import { startTestAws } from '../helpers/aws.js'
import { awsAccount, connectRole, createCustomer, mintExternalId } from '../helpers/fixtures.js'
import { PGBOUNCER, startPgBouncer } from '../helpers/pgbouncer.js'
import { createTestDatabase, databaseUrl, withAdminClient } from '../helpers/postgres.js'
import { spawnDeputy } from '../helpers/process.js'
import { newSecret, startReceiver, type WebhookBody } from '../helpers/webhook-receiver.js'

// Without pgbouncer these tests fail, saying how to install it: a silent skip would pass a run
// that never checked deputy behind a pooler. DEPUTY_TEST_SKIP_PGBOUNCER=1 skips them on purpose.
const optedOut = process.env.DEPUTY_TEST_SKIP_PGBOUNCER === '1'
const missing = !existsSync(PGBOUNCER)
if (missing && !optedOut) t.fail(`${PGBOUNCER} is not installed: apt-get install pgbouncer (.ci/run does), or set DEPUTY_TEST_SKIP_PGBOUNCER=1 to skip these tests on purpose`)
const skip = optedOut ? 'DEPUTY_TEST_SKIP_PGBOUNCER=1: skipped on purpose' : missing ? `${PGBOUNCER} is not installed (the failure above)` : false

// OVERLOAD_MAX_EVENT_LOOP_DELAY_MS=0: a loaded machine's event-loop lag must not shed this flow's requests.
const FAST = { OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0', WEBHOOK_RETRY_DELAY_SECONDS: '1', WEBHOOK_POLL_INTERVAL_MS: '500', WEBHOOK_TIMEOUT_MS: '2000', WEBHOOK_RELAY_INTERVAL_MS: '100', AUDIT_SEAL_INTERVAL_MS: '50' }

/** Transactions PgBouncer served for one database (its SHOW STATS row; 0 if it never saw it). */
async function transactionsThrough (show: (command: string) => Promise<Array<Record<string, unknown>>>, database: string): Promise<number> {
  const row = (await show('SHOW STATS')).find((r) => r.database === database)
  return Number(row?.total_xact_count ?? 0)
}

t.test('the main flow through PgBouncer in transaction pooling mode', { skip }, async (t) => {
  const bouncer = await startPgBouncer(t, { poolSize: 2 })
  const direct = await createTestDatabase(t)
  const name = new URL(direct).pathname.slice(1)
  const aws = await startTestAws(t)
  const secret = newSecret()
  const receiver = await startReceiver(t, secret)
  const { app, database } = await buildTestAppOn(t, bouncer.pooled(direct), {
    ...aws.env,
    ...FAST,
    DATABASE_DIRECT_URL: direct,
    WEBHOOK_ENDPOINTS: JSON.stringify([{ name: 'ops', url: receiver.url, secret, events: ['connection.revoked'] }])
  })

  const customer = await createCustomer(app)
  const minted = await Promise.all(Array.from({ length: 20 }, () => mintExternalId(app, customer.id, awsAccount())))
  t.equal(new Set(minted.map((m) => m.externalId)).size, 20, '20 concurrent mints over two server connections')
  const account = awsAccount()
  const once = { token: ADMIN_TOKEN, headers: { 'idempotency-key': `pgbouncer-${randomBytes(4).toString('hex')}` }, body: { awsAccountId: account } }
  const first = await call(app, 'POST', `/v1/customers/${customer.id}/external-ids`, once)
  const replay = await call(app, 'POST', `/v1/customers/${customer.id}/external-ids`, once)
  t.equal(first.statusCode, 201)
  t.equal(replay.headers['idempotent-replayed'], 'true', 'an Idempotency-Key replay')
  t.equal(replay.json().id, first.json().id)

  const { connection } = await connectRole(app, aws.emulator, customer.id)
  const issued = await call(app, 'POST', `/v1/connections/${connection.id}/credentials`, { token: ADMIN_TOKEN, body: { purpose: 'behind pgbouncer', durationSeconds: 900 } })
  t.equal(issued.statusCode, 201, 'credentials issued')
  t.match(issued.json(), { credentials: { accessKeyId: /^ASIA/ }, ttlSeconds: 900 })
  t.ok(await app.driftScheduler.runOnce(), 'a drift scheduler run (its claim takes a transaction-scoped advisory lock)')
  const revoked = await call(app, 'POST', `/v1/connections/${connection.id}/revoke`, { token: ADMIN_TOKEN, body: { reason: 'done' } })
  t.equal(revoked.statusCode, 200, revoked.body)
  const refused = await call(app, 'POST', `/v1/connections/${connection.id}/credentials`, { token: ADMIN_TOKEN, body: { purpose: 'after the revocation' } })
  t.equal(refused.json().code, 'connection_not_active')

  const audit = await call(app, 'GET', `/v1/audit-events?customerId=${customer.id}&limit=500`, { token: ADMIN_TOKEN })
  t.equal(audit.statusCode, 200)
  const actions = audit.json<{ items: Array<{ action: string }> }>().items.map((e) => e.action)
  for (const action of ['customer.created', 'external_id.minted', 'connection.created', 'credentials.issued', 'connection.revoked', 'credentials.denied']) t.ok(actions.includes(action), `audited: ${action}`)
  t.equal(actions.filter((a) => a === 'external_id.minted').length, 22, 'every mint audited once (the replay is not a mint)')

  await receiver.until('the connection.revoked webhook', () => receiver.delivered().some((a) => (JSON.parse(a.body) as WebhookBody).type === 'connection.revoked'), 20_000)
  const delivery = receiver.delivered().find((a) => (JSON.parse(a.body) as WebhookBody).type === 'connection.revoked')
  t.ok(delivery?.valid, 'delivered, signed, through pg-boss on the pooled URL')
  t.equal((JSON.parse(delivery?.body ?? '{}') as WebhookBody).data.resourceId, connection.id)
  const integrity = await call(app, 'GET', '/v1/audit-events/integrity?full=true', { token: ADMIN_TOKEN })
  t.equal(integrity.json().ok, true, 'the sealer ran through the pooler too, and the chain verifies')

  const pools = (await bouncer.show('SHOW POOLS')).filter((p) => p.database === name)
  t.ok(pools.length > 0 && pools.every((p) => p.pool_mode === 'transaction'), 'pool_mode = transaction')
  t.ok(await transactionsThrough(bouncer.show, name) > 100, 'deputy\'s transactions went through PgBouncer')
  const servers = (await bouncer.show('SHOW SERVERS')).filter((s) => s.database === name)
  t.ok(servers.length <= 2, `at most two PostgreSQL sessions served them (${servers.length})`)
  // A granted advisory lock on a session that is in no transaction is a session-level one.
  const leftover = await database.prisma.$queryRaw<Array<{ n: bigint }>>`SELECT count(*) AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND a.state = 'idle'`
  t.equal(leftover[0]?.n, 0n, 'no advisory lock outlives its transaction on a pooled session')
})

t.test('the migration runner takes its session lock on DATABASE_DIRECT_URL, never through the pooler', { skip }, async (t) => {
  const bouncer = await startPgBouncer(t, { poolSize: 2 })
  // An empty database: every migration is applied.
  const name = `deputy_test_${process.pid}_${randomBytes(6).toString('hex')}`
  await withAdminClient((client) => client.query(`CREATE DATABASE "${name}"`))
  t.teardown(async () => { await withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)) })
  const direct = databaseUrl(name)
  const deputy = spawnDeputy(['migrate'], { DATABASE_URL: bouncer.pooled(direct), DATABASE_DIRECT_URL: direct, LOG_LEVEL: 'warn' })
  const { code } = await deputy.exit
  t.equal(code, 0, deputy.output())
  const migrated = new pg.Client({ connectionString: direct })
  await migrated.connect()
  const applied = Number((await migrated.query<{ n: string }>('SELECT count(*) AS n FROM "_prisma_migrations" WHERE finished_at IS NOT NULL')).rows[0]?.n)
  await migrated.end()
  t.ok(applied > 0, `${applied} migrations applied`)
  t.equal(await transactionsThrough(bouncer.show, name), 0, 'PgBouncer served none of it')
})
