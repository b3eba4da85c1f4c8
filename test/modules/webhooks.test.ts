// Outbound webhooks, end to end: deputy on a real database and pg-boss, real HTTP receivers that
// check every delivery with their own implementation of the documented Standard Webhooks
// algorithm, and the STS emulator for connection events. The audit trail is the outbox: a change
// writes its audit event and nothing else, the relay hands sealed notified events to one pg-boss
// queue per endpoint, and the workers build each body from the trail when they send it. A refused
// change sends nothing, a late commit is still sent, deliveries are retried with backoff across a
// receiver outage and dead-lettered after the last attempt, a job forged in pg-boss's table is
// never signed, a hanging receiver holds up only itself, and neither freezes nor the deputy
// command depend on pg-boss.
import { createHmac, randomBytes, randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import pg from 'pg'
import { PgBoss } from 'pg-boss'
import t, { type Test } from 'tap'
import { main } from '../../src/cli/main.js'
import { ConfigError, loadConfig } from '../../src/config.js'
import { openPgPool } from '../../src/db/database.js'
import { NOTIFIED_EVENTS } from '../../src/modules/webhooks/events.js'
import { DEAD_LETTER_QUEUE, deliveryJobId, queueOf, worstCaseRetrySeconds } from '../../src/modules/webhooks/queues.js'
import { decodeWebhookSecret, signWebhook } from '../../src/modules/webhooks/signature.js'
import { ADMIN_TOKEN, buildTestApp, buildTestAppOn, call } from '../helpers/app.js'
import { interleavingOn } from '../helpers/interleaving.js'
import { policy, startTestAws, VENDOR_ARN, roleArn } from '../helpers/aws.js'
import { connectRole, createCustomer } from '../helpers/fixtures.js'
import { createTestDatabase } from '../helpers/postgres.js'
import { parseMetrics } from '../helpers/prometheus.js'
import { newSecret, receiverVerifies, startReceiver, type Attempt, type WebhookBody as Body } from '../helpers/webhook-receiver.js'

// The apps below are independent (each its own database and receivers): build and run them side by side.
t.jobs = 3

const endpointsEnv = (...endpoints: object[]): string => JSON.stringify(endpoints)
// Tiny delays so the file stays fast: first retry after 1-2 s, then 2-4 s (pg-boss's backoff); the
// sealer and the relay run every 50 and 100 ms.
const FAST = { WEBHOOK_RETRY_DELAY_SECONDS: '1', WEBHOOK_POLL_INTERVAL_MS: '500', WEBHOOK_TIMEOUT_MS: '2000', WEBHOOK_RELAY_INTERVAL_MS: '100', AUDIT_SEAL_INTERVAL_MS: '50' }
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** A pg-boss client of the test's own, as an operator (or an attacker) would use, closed before the database is dropped. */
async function testBoss (t: Test, databaseUrl: string): Promise<PgBoss> {
  const pool = openPgPool({ connectionString: databaseUrl, max: 2 })
  const boss = new PgBoss({ db: { executeSql: async (text, values) => pool.pool.query(text, values) }, supervise: false, schedule: false, migrate: false })
  boss.on('error', () => {})
  await boss.start()
  t.teardown(async () => {
    await boss.stop({ graceful: false })
    await pool.end()
  })
  return boss
}

t.test('signature: the documented algorithm, round trip and refusals', async (t) => {
  const secret = newSecret()
  const key = decodeWebhookSecret(secret)
  if (key === undefined) throw new Error('a fresh secret does not decode')
  const body = '{"type":"issuance.frozen"}'
  const now = Math.floor(Date.now() / 1000)
  const signature = signWebhook(key, 'msg_1', now, body)
  t.equal(signature, `v1,${createHmac('sha256', key).update(`msg_1.${now}.${body}`).digest('base64')}`)
  t.ok(receiverVerifies(secret, { 'webhook-id': 'msg_1', 'webhook-timestamp': String(now), 'webhook-signature': `v1,bm9wZQ== ${signature}` }, body), 'one of several signatures matches')
  // The receiver's check as README.md documents it (its own code, not deputy's): deputy signs
  // id.timestamp.body, so a replayed delivery cannot take a fresh timestamp.
  const headers = (id: string, at: number, sig = signWebhook(key, id, at, body)) => ({ 'webhook-id': id, 'webhook-timestamp': String(at), 'webhook-signature': sig })
  t.ok(receiverVerifies(secret, headers('msg_1', now), body, now))
  t.notOk(receiverVerifies(secret, headers('msg_1', now), body + ' ', now), 'a changed body')
  t.notOk(receiverVerifies(secret, headers('msg_2', now, signature), body, now), 'another id')
  t.notOk(receiverVerifies(secret, headers('msg_1', now + 1, signature), body, now), 'another timestamp under the same signature')
  t.notOk(receiverVerifies(newSecret(), headers('msg_1', now), body, now), 'another secret')
  t.ok(receiverVerifies(secret, headers('msg_1', now - 300), body, now), 'signed 5 minutes ago: accepted')
  t.notOk(receiverVerifies(secret, headers('msg_1', now - 301), body, now), 'older than 5 minutes: refused as a replay')
  t.notOk(receiverVerifies(secret, headers('msg_1', now + 301), body, now), 'more than 5 minutes ahead: refused')
  t.equal(decodeWebhookSecret(newSecret(23)), undefined, 'fewer than 24 bytes')
  t.equal(decodeWebhookSecret(newSecret(65)), undefined, 'more than 64 bytes')
  t.equal(decodeWebhookSecret(`whsec_${randomBytes(32).toString('base64url').replace(/^./, '-')}`), undefined, 'base64url is not base64')
  t.equal(decodeWebhookSecret(randomBytes(32).toString('base64')), undefined, 'no whsec_ prefix')
})

t.test('configuration: endpoints are validated and no message shows a secret or a URL', async (t) => {
  const secret = newSecret()
  const url = 'https://hooks.example.com/deputy?token=do-not-print-me'
  const refused = (endpoints: string, message: RegExp, what: string): void => {
    try {
      loadConfig({ WEBHOOK_ENDPOINTS: endpoints })
      t.fail(`${what}: accepted`)
    } catch (error) {
      t.ok(error instanceof ConfigError, what)
      t.equal((error as ConfigError).variable, 'WEBHOOK_ENDPOINTS')
      t.match((error as Error).message, message, what)
      t.notOk((error as Error).message.includes(secret.slice(6, 20)), `${what}: the secret is not in the message`)
      t.notOk((error as Error).message.includes('do-not-print-me'), `${what}: the URL is not in the message`)
    }
  }
  refused(`[{"name":"ops","url":"${url}","secret":"${secret}"`, /not valid JSON \(at character \d+\)/, 'broken JSON')
  refused(`{"name":"ops","url":"${url}","secret":"${secret}"}`, /must be a JSON array/, 'an object, not a list')
  refused(endpointsEnv({ name: 'Ops Team', url, secret }), /name must be/, 'a name that cannot label a metric')
  refused(endpointsEnv({ name: 'ops', url, secret }, { name: 'ops', url, secret }), /two endpoints are named "ops"/, 'duplicate names')
  refused(endpointsEnv({ name: 'ops', url: 'ftp://hooks.example.com/do-not-print-me', secret }), /url must be an https:\/\//, 'not http(s)')
  refused(endpointsEnv({ name: 'ops', url: 'http://hooks.example.com/deputy?token=do-not-print-me', secret }), /url must be https:\/\/ \(http:\/\/ only to this machine/, 'plain http across a network')
  refused(endpointsEnv({ name: 'ops', url: 'http://10.0.0.7/do-not-print-me', secret }), /url must be https/, 'plain http to a private address')
  refused(endpointsEnv({ name: 'ops', url: 'http://127.example.com/do-not-print-me', secret }), /url must be https/, 'a name that only starts like a loopback address')
  refused(endpointsEnv({ name: 'ops', url: 'https://user:do-not-print-me@hooks.example.com/', secret }), /without a user or password/, 'credentials in the URL')
  refused(endpointsEnv({ name: 'ops', url, secret: secret.slice(6) }), /secret must be whsec_/, 'no whsec_ prefix')
  refused(endpointsEnv({ name: 'ops', url, secret: newSecret(16) }), /24 to 64 random bytes/, 'a short secret')
  refused(endpointsEnv({ name: 'ops', url, secret, events: ['customer.created'] }), /"customer.created" is not a notified event/, 'an event deputy does not notify')
  refused(endpointsEnv({ name: 'ops', url, secret, events: [] }), /events must be a list/, 'an empty event list')
  refused(endpointsEnv({ name: 'ops', url, secret, secrets: [secret] }), /unknown fields \("secrets"\)/, 'a misspelt field')
  t.throws(() => loadConfig({ WEBHOOK_MAX_ATTEMPTS: '0' }), { name: 'ConfigError', variable: 'WEBHOOK_MAX_ATTEMPTS' })
  t.throws(() => loadConfig({ WEBHOOK_RETRY_DELAY_SECONDS: '0' }), { name: 'ConfigError', variable: 'WEBHOOK_RETRY_DELAY_SECONDS' })
  t.throws(() => loadConfig({ WEBHOOK_POLL_INTERVAL_MS: '100' }), { name: 'ConfigError', variable: 'WEBHOOK_POLL_INTERVAL_MS' })
  t.throws(() => loadConfig({ WEBHOOK_RELAY_INTERVAL_MS: '0' }), { name: 'ConfigError', variable: 'WEBHOOK_RELAY_INTERVAL_MS' })
  t.throws(() => loadConfig({ WEBHOOK_RETRY_DELAY_SECONDS: '60', WEBHOOK_RETRY_DELAY_MAX_SECONDS: '30' }), { name: 'ConfigError', variable: 'WEBHOOK_RETRY_DELAY_MAX_SECONDS' }, 'a cap below the base delay')
  t.throws(() => loadConfig({ WEBHOOK_ALLOW_HTTP: 'yes' }), { name: 'ConfigError', variable: 'WEBHOOK_ALLOW_HTTP' })

  // Loopback receivers (tests, a sidecar) may use http; anything else needs WEBHOOK_ALLOW_HTTP.
  for (const local of ['http://127.0.0.1:8080/in', 'http://127.8.9.10/in', 'http://[::1]:8080/in', 'http://localhost:8080/in', 'http://LOCALHOST/in']) {
    t.equal(loadConfig({ WEBHOOK_ENDPOINTS: endpointsEnv({ name: 'ops', url: local, secret }) }).webhooks.endpoints[0]?.url, new URL(local).href, `${local} is loopback`)
  }
  t.equal(loadConfig({ WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ENDPOINTS: endpointsEnv({ name: 'ops', url: 'http://hooks.internal/in', secret }) }).webhooks.endpoints[0]?.url, 'http://hooks.internal/in', 'WEBHOOK_ALLOW_HTTP=true allows plain http')

  // pg-boss deletes a delivery waiting for a retry 14 days after it was enqueued: a retry schedule
  // that could outlast a week is refused rather than losing deliveries.
  const schedule = (env: Record<string, string>): number => worstCaseRetrySeconds(loadConfig(env).webhooks)
  t.ok(schedule({}) < 3600, `the default schedule (8 attempts, 10 s doubling, 1 h cap) ends within ${Math.round(schedule({}) / 60)} minutes`)
  t.ok(schedule({ WEBHOOK_MAX_ATTEMPTS: '50' }) < 3 * 24 * 3600, `50 attempts under the 1 h cap: ${Math.round(schedule({ WEBHOOK_MAX_ATTEMPTS: '50' }) / 3600)} hours`)
  t.throws(() => loadConfig({ WEBHOOK_MAX_ATTEMPTS: '50', WEBHOOK_RETRY_DELAY_MAX_SECONDS: '86400' }), { name: 'ConfigError', variable: 'WEBHOOK_MAX_ATTEMPTS', message: /can take up to 9\d\d(\.\d)? h, more than the 168 h/ })
  t.throws(() => loadConfig({ WEBHOOK_MAX_ATTEMPTS: '12', WEBHOOK_RETRY_DELAY_SECONDS: '3600', WEBHOOK_RETRY_DELAY_MAX_SECONDS: '86400' }), { name: 'ConfigError', variable: 'WEBHOOK_MAX_ATTEMPTS' })

  const config = loadConfig({ WEBHOOK_ENDPOINTS: endpointsEnv({ name: 'ops', url, secret }, { name: 'sec', url, secret, events: ['issuance.frozen', 'issuance.frozen'] }) })
  t.same(config.webhooks.endpoints.map((e) => [e.name, e.events]), [['ops', [...NOTIFIED_EVENTS]], ['sec', ['issuance.frozen']]])
  t.match(config.webhooks, { maxAttempts: 8, retryDelaySeconds: 10, retryDelayMaxSeconds: 3600, timeoutMs: 10_000, pollIntervalMs: 2000, relayIntervalMs: 1000 }, 'defaults')
  const printed = JSON.stringify(config) + (await import('node:util')).inspect(config, { depth: 10 })
  t.notOk(printed.includes(secret.slice(6)), 'the config object prints and serialises without the secret')
  t.same(loadConfig({}).webhooks.endpoints, [], 'no endpoints by default')
})

t.test('without endpoints nothing of pg-boss runs', async (t) => {
  const { database } = await buildTestApp(t)
  const [schema] = await database.prisma.$queryRaw<Array<{ name: string | null }>>`SELECT to_regnamespace('pgboss')::text AS name`
  t.equal(schema?.name, null, 'no pgboss schema in the database')
  t.same(await database.prisma.webhookRelayCursor.findMany({ select: { throughSeq: true } }), [{ throughSeq: null }], 'the relay cursor is not started')
})

t.test('turning webhooks on notifies what happens from then on, not the trail\'s history', async (t) => {
  const secret = newSecret()
  const receiver = await startReceiver(t, secret)
  const databaseUrl = await createTestDatabase(t)
  // Months of history, as far as deputy can tell: a freeze, sealed, before any webhook endpoint.
  const before = await buildTestAppOn(t, databaseUrl, { AUDIT_SEAL_INTERVAL_MS: '0', LOG_LEVEL: 'warn' })
  t.equal((await call(before.app, 'POST', '/v1/admin/freeze', { token: ADMIN_TOKEN, body: { reason: 'history' } })).statusCode, 200)
  await before.app.auditSealer.runOnce()
  // Committed, not sealed yet when webhooks start: after the starting point, so notified.
  t.equal((await call(before.app, 'POST', '/v1/admin/unfreeze', { token: ADMIN_TOKEN, body: {} })).statusCode, 200)
  const { app, database } = await buildTestAppOn(t, databaseUrl, { ...FAST, WEBHOOK_ENDPOINTS: endpointsEnv({ name: 'ops', url: receiver.url, secret }) })
  const sealed = (await database.prisma.auditSeal.aggregate({ _max: { throughSeq: true } }))._max.throughSeq
  t.ok(sealed !== null)
  t.equal((await call(app, 'POST', '/v1/admin/freeze', { token: ADMIN_TOKEN, body: { reason: 'with webhooks' } })).statusCode, 200)
  await receiver.until('the two events after the starting point', () => receiver.delivered().length === 2)
  await sleep(500)
  const sent = receiver.delivered().map((a) => JSON.parse(a.body) as Body)
  t.same(sent.map((b) => [b.type, b.data.details.reason ?? null]).sort(), [['issuance.frozen', 'with webhooks'], ['issuance.unfrozen', null]], 'the sealed history was not replayed')
  t.ok(sent.every((b) => BigInt(b.data.seq) > (sealed ?? 0n)), 'everything sent is after the sealed horizon at the first start')
})

t.test('webhooks', async (t) => {
  // A generous STS timeout: this file starts three apps at once, and none of its tests is about STS.
  const aws = await startTestAws(t, { STS_TIMEOUT_MS: '5000' })
  const opsSecret = newSecret()
  const freezeSecret = newSecret(64)
  const ops = await startReceiver(t, opsSecret)
  const freezes = await startReceiver(t, freezeSecret)
  const endpoints = endpointsEnv(
    { name: 'ops', url: ops.url, secret: opsSecret },
    { name: 'freezes', url: freezes.url, secret: freezeSecret, events: ['issuance.frozen', 'issuance.unfrozen'] }
  )
  const started = performance.now()
  const { app, database, databaseUrl, logs } = await buildTestApp(t, { ...aws.env, ...FAST, WEBHOOK_MAX_ATTEMPTS: '6', WEBHOOK_ENDPOINTS: endpoints })
  t.comment(`app with webhooks ready in ${Math.round(performance.now() - started)} ms`)
  const post = (url: string, body: object = {}) => call(app, 'POST', url, { token: ADMIN_TOKEN, body })
  const { sql, holdAudit, held } = interleavingOn(databaseUrl)
  const eventOf = async (id: string) => database.prisma.auditEvent.findUniqueOrThrow({ where: { id } })
  const lastSeq = async () => (await database.prisma.auditEvent.aggregate({ _max: { seq: true } }))._max.seq ?? 0n
  const notifiedSince = async (seq: bigint) => database.prisma.auditEvent.findMany({ where: { seq: { gt: seq }, action: { in: [...NOTIFIED_EVENTS] } }, orderBy: { seq: 'asc' } })
  const bodies = (attempts: Attempt[]): Body[] => attempts.map((a) => JSON.parse(a.body) as Body)
  const scrape = async () => parseMetrics((await call(app, 'GET', '/metrics', { token: ADMIN_TOKEN })).body)

  t.test('each notified change is delivered once, signed, with the documented body', async (t) => {
    const customer = await createCustomer(app)
    const { connection, account } = await connectRole(app, aws.emulator, customer.id)
    const other = await connectRole(app, aws.emulator, customer.id)
    t.equal((await post('/v1/admin/freeze', { reason: 'incident 42' })).statusCode, 200)
    t.equal((await post('/v1/admin/unfreeze')).statusCode, 200)
    t.equal((await post(`/v1/customers/${customer.id}/suspend`, { reason: 'unpaid' })).statusCode, 200)
    t.equal((await post(`/v1/customers/${customer.id}/resume`)).statusCode, 200)
    // The customer's role loses its external-ID condition: the probe finds it insecure.
    aws.emulator.putRole({ arn: roleArn(account), trustPolicy: policy({ Effect: 'Allow', Principal: { AWS: VENDOR_ARN }, Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'] }) })
    t.equal((await post(`/v1/connections/${connection.id}/verify`)).json().status, 'insecure')
    t.equal((await post(`/v1/connections/${connection.id}/revoke`, { reason: 'insecure' })).statusCode, 200)
    t.equal((await post(`/v1/customers/${customer.id}/offboard`, { reason: 'contract ended' })).statusCode, 200)
    const expected = ['issuance.frozen', 'issuance.unfrozen', 'customer.suspended', 'customer.resumed', 'connection.status_changed', 'connection.revoked', 'connection.revoked', 'customer.offboarded']
    await ops.until('every event at ops', () => ops.delivered().length >= expected.length)
    await freezes.until('the freezes at freezes', () => freezes.delivered().length >= 2)

    t.ok(ops.attempts.every((a) => a.valid) && freezes.attempts.every((a) => a.valid), 'every delivery verifies with the documented algorithm')
    t.same(bodies(ops.delivered()).map((b) => b.type).sort(), [...expected].sort(), 'ops: every notified event, nothing else (no customer.created, connection.created, external_id.*)')
    t.equal(new Set(ops.delivered().map((a) => a.id)).size, expected.length, 'one delivery per event')
    // Deliveries run concurrently: a receiver orders events by data.seq, not by arrival.
    t.same(bodies(freezes.delivered()).map((b) => b.type).sort(), ['issuance.frozen', 'issuance.unfrozen'], 'freezes: only the events it subscribed to')
    t.same(freezes.delivered().map((a) => a.id).sort(), ops.delivered().filter((a) => (JSON.parse(a.body) as Body).type.startsWith('issuance.')).map((a) => a.id).sort(), 'the webhook-id is the event id, the same for every endpoint')

    const lags: number[] = []
    for (const attempt of ops.delivered()) {
      const body = JSON.parse(attempt.body) as Body
      const event = await eventOf(attempt.id)
      t.same(body, {
        type: event.action,
        timestamp: event.occurredAt.toISOString(),
        data: { eventId: event.id, seq: event.seq.toString(), customerId: event.customerId, resourceType: event.resourceType, resourceId: event.resourceId, outcome: event.outcome, details: event.details }
      }, `${body.type}: the body is the audit event`)
      lags.push(attempt.at - event.occurredAt.getTime())
    }
    lags.sort((a, b) => a - b)
    t.comment(`from the change to its delivery (seal every 50 ms, relay every 100 ms, poll every 500 ms): median ${lags[Math.floor(lags.length / 2)]} ms, max ${lags.at(-1)} ms`)
    const byType = new Map(bodies(ops.delivered()).map((b) => [b.type, b]))
    t.match(byType.get('issuance.frozen')?.data, { resourceType: 'issuance_freeze', details: { reason: 'incident 42' } })
    t.match(byType.get('customer.suspended')?.data, { customerId: customer.id, resourceId: customer.id, details: { reason: 'unpaid', from: 'active', to: 'suspended' } })
    t.match(byType.get('connection.status_changed')?.data, { resourceId: connection.id, details: { from: 'active', to: 'insecure' } })
    t.match(byType.get('customer.offboarded')?.data, { details: { revokedConnections: [other.connection.id] } })
    const metrics = await scrape()
    t.equal(metrics.get('deputy_webhook_deliveries_total{endpoint="ops",result="delivered"}'), expected.length)
    t.equal(metrics.get('deputy_webhook_delivery_lag_seconds_count{endpoint="freezes"}'), 2)
    t.equal(metrics.get('deputy_webhook_queue_up'), 1)
    t.equal(metrics.get('deputy_webhook_relay_lag_events'), 0, 'the relay has caught up')
    const jobs = await sql('SELECT name, count(*)::int AS n FROM pgboss.job WHERE name LIKE $1 GROUP BY name ORDER BY name', ['deputy-webhooks.%'])
    t.same(jobs.rows, [{ name: queueOf('freezes'), n: 2 }, { name: queueOf('ops'), n: expected.length }], 'one job per event and subscribed endpoint, in the endpoint\'s own queue')
    const data = await sql('SELECT DISTINCT jsonb_object_keys(data) AS key FROM pgboss.job WHERE name LIKE $1', ['deputy-webhooks.%'])
    t.same(data.rows, [{ key: 'eventId' }], 'a job holds the event id and nothing else')
  })

  t.test('a refused or rolled-back change sends nothing', async (t) => {
    const before = { ops: ops.attempts.length, freezes: freezes.attempts.length }
    const customer = await createCustomer(app)
    t.equal((await post(`/v1/customers/${customer.id}/resume`)).json().code, 'customer_not_suspended')
    t.equal((await post('/v1/admin/unfreeze')).json().code, 'issuance_not_frozen')
    // A freeze whose transaction fails at COMMIT, after its audit event was written in it (a
    // deferred trigger raises): the event, and so its notification, never exist.
    await sql(`CREATE FUNCTION fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.details->>'reason' = 'fail at commit' THEN RAISE EXCEPTION 'refused at commit'; END IF; RETURN NULL; END $$;
      CREATE CONSTRAINT TRIGGER fail_at_commit AFTER INSERT ON audit_events DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_at_commit();`)
    t.teardown(() => sql('DROP TRIGGER IF EXISTS fail_at_commit ON audit_events'))
    t.equal((await post('/v1/admin/freeze', { reason: 'fail at commit' })).statusCode, 500)
    t.same((await sql('SELECT bool_or(frozen) AS frozen FROM issuance_freeze')).rows[0], { frozen: false }, 'the freeze rolled back')
    t.equal((await post('/v1/admin/freeze', { reason: 'marker' })).statusCode, 200)
    t.equal((await post('/v1/admin/unfreeze')).statusCode, 200)
    await freezes.until('the marker events', () => freezes.attempts.length >= before.freezes + 2)
    await ops.until('the marker events', () => ops.attempts.length >= before.ops + 2)
    t.same(bodies(freezes.attempts.slice(before.freezes)).map((b) => b.type).sort(), ['issuance.frozen', 'issuance.unfrozen'], 'only the two committed changes arrived')
    t.same(bodies(ops.attempts.slice(before.ops)).map((b) => b.type).sort(), ['issuance.frozen', 'issuance.unfrozen'])
    t.notOk([...ops.attempts, ...freezes.attempts].some((a) => a.body.includes('fail at commit')), 'the rolled-back freeze was never sent')
  })

  t.test('an event that commits late, after later events were sealed, is still delivered', async (t) => {
    const before = ops.attempts.length
    const freezesBefore = freezes.attempts.length
    const customer = await createCustomer(app)
    // The suspension takes its seq, then waits inside its transaction; a freeze commits after it.
    const release = await holdAudit(t, 'customer.suspended')
    const suspension = post(`/v1/customers/${customer.id}/suspend`, { reason: 'late commit' })
    t.ok(await held(), 'the suspension is held inside its transaction')
    t.equal((await post('/v1/admin/freeze', { reason: 'after the held suspension' })).statusCode, 200)
    // Many seal and relay intervals: the freeze is committed, but the horizon cannot pass the
    // suspension's seq while its transaction is open, so neither is relayed yet.
    await sleep(1000)
    t.equal(ops.attempts.length, before, 'nothing past the open transaction was sent')
    await release()
    t.equal((await suspension).statusCode, 200)
    await ops.until('both events', () => ops.attempts.length >= before + 2)
    const sent = bodies(ops.attempts.slice(before))
    t.same(sent.map((b) => b.type).sort(), ['customer.suspended', 'issuance.frozen'], 'the late commit was not skipped')
    const seqOf = (type: string): bigint => BigInt(sent.find((b) => b.type === type)?.data.seq ?? '0')
    t.ok(seqOf('customer.suspended') < seqOf('issuance.frozen'), 'the late event has the lower seq')
    t.equal((await post('/v1/admin/unfreeze')).statusCode, 200)
    await ops.until('the unfreeze', () => ops.attempts.length >= before + 3)
    await freezes.until('the freeze and the unfreeze', () => freezes.attempts.length >= freezesBefore + 2)
  })

  t.test('a freeze, from the API or the deputy command, does not depend on pg-boss; the running server delivers it', async (t) => {
    const before = { ops: ops.attempts.length, freezes: freezes.attempts.length }
    const seq = await lastSeq()
    // pg-boss cannot do anything while its job table is locked: fetches, inserts, the relay wait.
    const locker = new pg.Client({ connectionString: databaseUrl })
    await locker.connect()
    let locked = true
    const unlock = async (): Promise<void> => {
      if (!locked) return
      locked = false
      await locker.query('COMMIT')
      await locker.end()
    }
    t.teardown(unlock)
    await locker.query('BEGIN; LOCK TABLE pgboss.job IN ACCESS EXCLUSIVE MODE')
    const timed = async <T>(run: () => Promise<T>): Promise<[T, number]> => {
      const start = performance.now()
      return [await run(), performance.now() - start]
    }
    const [frozen, apiMs] = await timed(async () => post('/v1/admin/freeze', { reason: 'while pg-boss is stuck' }))
    t.equal(frozen.statusCode, 200)
    // Each test file is its own process, so this environment belongs to this file alone.
    Object.assign(process.env, { DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent', WEBHOOK_ENDPOINTS: endpoints })
    t.teardown(() => { delete process.env.WEBHOOK_ENDPOINTS })
    const [code, cliMs] = await timed(async () => main(['unfreeze']))
    t.equal(code, 0)
    t.equal(await main(['freeze', '--reason', 'from the command line']), 0)
    t.ok(apiMs < 1000 && cliMs < 2000, `answered at once (API ${Math.round(apiMs)} ms, command ${Math.round(cliMs)} ms)`)
    t.same((await sql('SELECT frozen FROM issuance_freeze')).rows, [{ frozen: true }], 'the freeze is in force')
    await sleep(500)
    t.equal(ops.attempts.length, before.ops, 'nothing is delivered while pg-boss is stuck')
    await unlock()
    t.equal((await post('/v1/admin/unfreeze')).statusCode, 200)
    const ids = (await notifiedSince(seq)).map((e) => e.id).sort()
    t.equal(ids.length, 4)
    await freezes.until('the four events', () => freezes.attempts.length >= before.freezes + 4)
    await ops.until('the four events', () => ops.attempts.length >= before.ops + 4)
    t.same(freezes.attempts.slice(before.freezes).map((a) => a.id).sort(), ids)
    t.same(ops.attempts.slice(before.ops).map((a) => a.id).sort(), ids, 'the command\'s events too, relayed from the trail')
    t.ok([...ops.attempts, ...freezes.attempts].every((a) => a.valid))
  })

  t.test('a job forged in pg-boss\'s table is never signed: deputy sends only what its audit trail says', async (t) => {
    const before = ops.attempts.length
    const dropped = () => logs.filter((line) => line.includes('webhook delivery job dropped')).map((line) => JSON.parse(line) as { level: number, endpoint: string, reason: string })
    const droppedBefore = dropped().length
    const boss = await testBoss(t, databaseUrl)
    const customer = await createCustomer(app)
    t.equal((await post(`/v1/customers/${customer.id}/suspend`, { reason: 'forgery test' })).statusCode, 200)
    t.equal((await post(`/v1/customers/${customer.id}/resume`)).statusCode, 200)
    await ops.until('the suspension and the resumption', () => ops.attempts.length >= before + 2)
    const created = await database.prisma.auditEvent.findFirstOrThrow({ where: { action: 'customer.created', resourceId: customer.id } })
    const suspended = await database.prisma.auditEvent.findFirstOrThrow({ where: { action: 'customer.suspended', resourceId: customer.id } })
    const frozen = await database.prisma.auditEvent.findFirstOrThrow({ where: { action: 'issuance.frozen' }, orderBy: { seq: 'asc' } })
    const forged = '{"type":"issuance.unfrozen","data":{"forged":true}}'
    await boss.send(queueOf('ops'), { eventId: randomUUID(), body: forged })
    await boss.send(queueOf('ops'), { eventId: created.id })
    await boss.send(queueOf('ops'), { eventId: 'not an id', body: forged })
    await boss.send(queueOf('freezes'), { eventId: suspended.id })
    // A real event: deputy sends it again (receivers deduplicate on webhook-id), with its real body.
    await boss.send(queueOf('ops'), { eventId: frozen.id, body: forged })
    await ops.until('the replayed real event', () => ops.attempts.length > before + 2)
    for (let i = 0; i < 100 && dropped().length < droppedBefore + 4; i++) await sleep(50)
    t.equal(ops.attempts.length, before + 3, 'one attempt: the real event')
    t.same(JSON.parse(ops.attempts.at(-1)?.body ?? '{}'), JSON.parse(ops.delivered().find((a) => a.id === frozen.id)?.body ?? 'null'), 'with the body built from the audit trail, not the job\'s')
    t.notOk(ops.attempts.some((a) => a.body.includes('forged')), 'nothing from a job\'s data is ever sent')
    t.same(dropped().slice(droppedBefore).map((l) => [l.level, l.endpoint, l.reason]).sort(), [
      [50, 'freezes', 'its audit event is not one this endpoint is notified of (customer.suspended)'],
      [50, 'ops', 'its audit event is not one this endpoint is notified of (customer.created)'],
      [50, 'ops', 'its data names no audit event id'],
      [50, 'ops', 'no audit event has its id']
    ], 'each forged job is dropped with an error log')
    const metrics = await scrape()
    t.equal(metrics.get('deputy_webhook_deliveries_total{endpoint="ops",result="dropped"}'), 3)
    t.equal(metrics.get('deputy_webhook_deliveries_total{endpoint="freezes",result="dropped"}'), 1)
    // Whatever a job says, labels name only configured endpoints (each worker serves one).
    t.notOk([...metrics.keys()].some((key) => key.startsWith('deputy_webhook_deliveries_total') && !/endpoint="(ops|freezes)"/.test(key)))
    t.equal(deliveryJobId(frozen.id, 'ops'), deliveryJobId(frozen.id, 'ops'), 'job ids are derived from the event and the endpoint')
  })

  t.test('receiver outage: every event arrives at least once, retried with backoff, the same id and body each time', async (t) => {
    const before = ops.attempts.length
    const seq = await lastSeq()
    ops.answer(503)
    const customer = await createCustomer(app)
    t.equal((await post(`/v1/customers/${customer.id}/suspend`, { reason: 'outage test' })).statusCode, 200)
    t.equal((await post('/v1/admin/freeze', { reason: 'outage test' })).statusCode, 200)
    t.equal((await post(`/v1/customers/${customer.id}/resume`)).statusCode, 200)
    t.equal((await post('/v1/admin/unfreeze')).statusCode, 200)
    const during = await notifiedSince(seq)
    t.equal(during.length, 4)
    const ids = during.map((e) => e.id)
    const refusedAt = (id: string) => ops.attempts.slice(before).filter((a) => a.id === id && a.status === 503)
    await ops.until('a refused attempt of every event', () => ids.every((id) => refusedAt(id).length >= 1))
    ops.answer(200)
    await ops.until('every event delivered after the outage', () => ids.every((id) => ops.delivered().some((a) => a.id === id)), 15_000)
    for (const id of ids) {
      const attempts = ops.attempts.slice(before).filter((a) => a.id === id)
      t.ok(attempts.length >= 2 && attempts.every((a) => a.valid), `${id}: ${attempts.length} attempts, each signed`)
      t.equal(new Set(attempts.map((a) => a.body)).size, 1, 'the same body on every attempt')
      const gaps = attempts.slice(1).map((a, i) => a.at - (attempts[i]?.at ?? 0))
      t.ok(gaps.every((gap) => gap >= 900), `retried after a backoff of at least the base delay (${gaps.join(', ')} ms)`)
      t.ok(Number(attempts.at(-1)?.timestamp) > Number(attempts[0]?.timestamp), 'webhook-timestamp is the time of each attempt')
    }
    t.ok(freezes.delivered().length >= 2, 'the other endpoint was not held up')
    const metrics = await scrape()
    t.ok((metrics.get('deputy_webhook_deliveries_total{endpoint="ops",result="failed"}') ?? 0) >= 4, 'failed attempts are counted')
    const warnings = logs.filter((line) => line.includes('webhook delivery failed; it will be retried'))
    t.ok(warnings.length >= 4, 'each failed attempt is logged')
    t.match(JSON.parse(warnings[0] ?? '{}'), { level: 40, endpoint: 'ops', reason: 'answered HTTP 503', attempt: 1, maxAttempts: 6 })
    const all = logs.join('\n')
    for (const secret of [opsSecret, freezeSecret]) t.notOk(all.includes(secret.slice(6)), 'no log line holds a secret')
    t.notOk(all.includes('url-token-0123456789'), 'no log line holds an endpoint URL')
  })
})

t.test('a hanging endpoint holds up only its own deliveries', async (t) => {
  const secret = newSecret()
  const hangs = await startReceiver(t, secret)
  hangs.answer('hang')
  const healthy = await startReceiver(t, secret)
  const { app } = await buildTestApp(t, {
    ...FAST,
    WEBHOOK_TIMEOUT_MS: '30000',
    WEBHOOK_ENDPOINTS: endpointsEnv({ name: 'hangs', url: hangs.url, secret }, { name: 'healthy', url: healthy.url, secret })
  })
  // Answer what is still hanging before the app stops (its stop waits for attempts in flight).
  t.teardown(() => { hangs.answer(204) })
  const post = (url: string, body: object = {}) => call(app, 'POST', url, { token: ADMIN_TOKEN, body })
  const start = performance.now()
  for (let i = 0; i < 4; i++) {
    t.equal((await post('/v1/admin/freeze', { reason: `hang test ${i}` })).statusCode, 200)
    t.equal((await post('/v1/admin/unfreeze')).statusCode, 200)
  }
  await healthy.until('every event at the healthy endpoint', () => healthy.delivered().length === 8, 15_000)
  const took = performance.now() - start
  t.ok(took < 15_000, `the healthy endpoint had all 8 events ${Math.round(took)} ms after the first change (the other's attempts wait 30 s for an answer)`)
  t.equal(hangs.attempts.filter((a) => a.status !== 0).length, 0, 'while the other has answered none')
  t.ok(hangs.attempts.length >= 1 && hangs.attempts.length <= 4, `and holds ${hangs.attempts.length} of its own attempts (at most 4 at once per replica)`)
})

t.test('deputy starts and serves when pg-boss cannot start, and starts it later', async (t) => {
  const secret = newSecret()
  const receiver = await startReceiver(t, secret)
  // Something already in schema pgboss that pg-boss cannot install over.
  const databaseUrl = await createTestDatabase(t)
  const { sql } = interleavingOn(databaseUrl)
  await sql('CREATE SCHEMA pgboss; CREATE TABLE pgboss.job (not_a_job int)')
  const { app, logs } = await buildTestAppOn(t, databaseUrl, { ...FAST, WEBHOOK_ENDPOINTS: endpointsEnv({ name: 'ops', url: receiver.url, secret }) })
  const failed = () => logs.filter((line) => line.includes('could not start the webhook delivery queue'))
  for (let i = 0; i < 100 && failed().length === 0; i++) await sleep(50)
  t.match(JSON.parse(failed()[0] ?? '{}'), { level: 50, attempt: 1, retryInMs: 1000 }, 'logged, with when it is tried again')
  t.equal((await call(app, 'POST', '/v1/admin/freeze', { token: ADMIN_TOKEN, body: { reason: 'pg-boss is down' } })).statusCode, 200, 'the freeze works')
  t.equal((await call(app, 'GET', '/readyz')).statusCode, 200, 'deputy is ready')
  const metrics = parseMetrics((await call(app, 'GET', '/metrics', { token: ADMIN_TOKEN })).body)
  t.equal(metrics.get('deputy_webhook_queue_up'), 0)
  await sql('DROP SCHEMA pgboss CASCADE')
  await receiver.until('the freeze, once pg-boss runs', () => receiver.delivered().length === 1, 10_000)
  t.equal((JSON.parse(receiver.delivered()[0]?.body ?? '{}') as Body).data.details.reason, 'pg-boss is down')
  t.equal(parseMetrics((await call(app, 'GET', '/metrics', { token: ADMIN_TOKEN })).body).get('deputy_webhook_queue_up'), 1)
})

t.test('after the last attempt a delivery is dead-lettered, counted, and can be redriven', async (t) => {
  const secret = newSecret()
  // Three ways to fail: a redirect (never followed), no answer, nobody listening.
  const redirects = await startReceiver(t, secret)
  const elsewhere = await startReceiver(t, secret)
  redirects.answer(307, { location: elsewhere.url })
  const hangs = await startReceiver(t, secret)
  hangs.answer('hang')
  const closed = createServer()
  closed.listen(0, '127.0.0.1')
  await once(closed, 'listening')
  const closedUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/`
  await new Promise((resolve) => closed.close(resolve))
  const { app, databaseUrl, logs } = await buildTestApp(t, {
    ...FAST,
    WEBHOOK_MAX_ATTEMPTS: '2',
    WEBHOOK_TIMEOUT_MS: '1000',
    WEBHOOK_ENDPOINTS: endpointsEnv({ name: 'redirects', url: redirects.url, secret }, { name: 'hangs', url: hangs.url, secret }, { name: 'closed', url: closedUrl, secret })
  })
  t.equal((await call(app, 'POST', '/v1/admin/freeze', { token: ADMIN_TOKEN, body: { reason: 'dead letter test' } })).statusCode, 200)
  const result = (scrape: Map<string, number>, endpoint: string, outcome: string) => scrape.get(`deputy_webhook_deliveries_total{endpoint="${endpoint}",result="${outcome}"}`)
  const scrapeOf = async () => parseMetrics((await call(app, 'GET', '/metrics', { token: ADMIN_TOKEN })).body)
  const endpoints = ['redirects', 'hangs', 'closed']
  let scrape = await scrapeOf()
  for (let i = 0; i < 200 && !endpoints.every((e) => result(scrape, e, 'dead_lettered') === 1); i++) {
    await sleep(50)
    scrape = await scrapeOf()
  }
  for (const endpoint of endpoints) {
    t.equal(result(scrape, endpoint, 'failed'), 1, `${endpoint}: one failed attempt, retried`)
    t.equal(result(scrape, endpoint, 'dead_lettered'), 1, `${endpoint}: the last one, dead-lettered`)
  }
  t.equal(redirects.attempts.length, 2)
  t.equal(elsewhere.attempts.length, 0, 'the redirect was not followed')
  t.equal(hangs.attempts.length, 2)
  const lastWords = logs.filter((line) => line.includes('webhook delivery failed for the last time')).map((line) => JSON.parse(line) as { endpoint: string, reason: string })
  t.same(lastWords.map((l) => [l.endpoint, l.reason]).sort(), [['closed', 'could not connect (ECONNREFUSED)'], ['hangs', 'no answer within 1000 ms'], ['redirects', 'answered HTTP 307']])

  // What the README tells an operator to do: look at the dead letters, then redrive them.
  const boss = await testBoss(t, databaseUrl)
  for (const endpoint of endpoints) {
    t.match(await boss.findJobs(queueOf(endpoint)), [{ state: 'failed', retryCount: 1 }], `${endpoint}: failed for good, no attempt after the last one`)
  }
  const dead = await boss.findJobs<{ eventId: string }>(DEAD_LETTER_QUEUE)
  const eventId = redirects.attempts[0]?.id
  t.match(dead.find((job) => job.sourceName === queueOf('redirects')), { data: { eventId }, sourceRetryCount: 1, sourceOutput: { reason: 'answered HTTP 307', attempt: 2 } })
  t.same(dead.map((job) => job.sourceName).sort(), endpoints.map(queueOf).sort())
  t.ok(dead.every((job) => Math.abs(job.keepUntil.getTime() - Date.now() - 14 * 24 * 3600 * 1000) < 60_000), 'kept 14 days')
  t.notOk(JSON.stringify(dead).includes(secret.slice(6)) || JSON.stringify(dead).includes('url-token-0123456789'), 'the jobs hold neither the secret nor the URL')
  redirects.answer(204)
  hangs.answer(200)
  t.equal(await boss.redrive(DEAD_LETTER_QUEUE), 3)
  await redirects.until('the redriven delivery', () => redirects.delivered().length === 1)
  await hangs.until('the redriven delivery', () => hangs.delivered().length === 1)
  t.same([redirects.delivered()[0]?.id, hangs.delivered()[0]?.id], [eventId, eventId], 'the same webhook-id')
  t.ok([...redirects.attempts, ...hangs.attempts].every((a) => a.valid))
})
