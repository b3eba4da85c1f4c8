// The API-token cache: resolved tokens served from memory, dropped on every replica when a client
// is revoked (NOTIFY deputy_api_clients from a trigger), and never trusted while the notification
// connection is down. The replicas here are real deputy processes on one database.
import t from 'tap'
import pg from 'pg'
import { createApiClientsRepository } from '../../src/modules/api-clients/api-clients.repository.js'
import { createApiClientsService } from '../../src/modules/api-clients/api-clients.service.js'
import { createTokenCache } from '../../src/modules/api-clients/token-cache.js'
import { createAuditRecorder } from '../../src/modules/audit/audit.recorder.js'
import { createCustomersRepository } from '../../src/modules/customers/customers.repository.js'
import type { Caller } from '../../src/lib/caller.js'
import { ADMIN_TOKEN, buildTestApp } from '../helpers/app.js'
import { ADMIN_URL, createTestDatabase } from '../helpers/postgres.js'
import { parseMetrics } from '../helpers/prometheus.js'
import { spawnDeputy, waitForReady, type Deputy } from '../helpers/process.js'

const client = { id: 'c1', name: 'svc', customerId: null, scopes: ['customers:read' as const] }

t.test('the cache itself', async (t) => {
  let now = 1_000
  const cache = createTokenCache({ maxAgeMs: 500, maxEntries: 2, now: () => now })
  cache.set('h1', client, cache.stamp())
  t.equal(cache.get('h1'), undefined, 'nothing is kept before notifications are heard')
  cache.setLive(true)
  cache.set('h1', client, cache.stamp())
  t.same(cache.get('h1'), client, 'kept while live')
  now += 500
  t.equal(cache.get('h1'), undefined, 'gone at its maximum age')

  const stamp = cache.stamp()
  cache.invalidate('someone else')
  cache.set('h1', client, stamp)
  t.equal(cache.get('h1'), undefined, 'a lookup that was in flight during an invalidation is not kept')

  cache.set('h1', client, cache.stamp())
  cache.set('h2', { ...client, id: 'c2' }, cache.stamp())
  cache.set('h3', { ...client, id: 'c3' }, cache.stamp())
  t.equal(cache.get('h1'), undefined, 'the oldest entry goes first past maxEntries')
  t.ok(cache.get('h3'))
  cache.invalidate('c3')
  t.equal(cache.get('h3'), undefined, 'invalidate drops the client\'s entries')
  t.ok(cache.get('h2'), 'and only those')
  cache.setLive(false)
  t.equal(cache.get('h2'), undefined, 'losing the notifications empties the cache')
  cache.setLive(true)
  t.equal(cache.get('h2'), undefined, 'and nothing comes back when they return')
})

t.test('the process that revokes drops the client\'s cached tokens itself, before answering (no notification needed)', async (t) => {
  const { database } = await buildTestApp(t)
  // A cache that is live but hears nothing: only the revoke itself can drop the entry.
  const cache = createTokenCache({ maxAgeMs: 300_000 })
  cache.setLive(true)
  const service = createApiClientsService({ prisma: database.prisma, apiClientsRepository: createApiClientsRepository(), customersRepository: createCustomersRepository(), audit: createAuditRecorder(), tokenCache: cache })
  const caller: Caller = { actor: { clientId: null, clientName: 'operator', customerId: null, scopes: ['admin'] }, request: { requestId: 'token-cache-test', sourceIp: null, userAgent: null } }
  const created = await service.create(caller, { name: 'local', scopes: ['customers:read'] })
  t.equal((await service.authenticate(created.token)).ok, true, 'resolved and cached')
  t.equal((await service.authenticate(created.token)).ok, true, 'served from the cache')
  await service.revoke(caller, created.id)
  t.match(await service.authenticate(created.token), { ok: false, reason: 'revoked_token' }, 'refused on the next lookup')
})

t.test('two replicas', async (t) => {
  const url = await createTestDatabase(t)
  const db = new pg.Client({ connectionString: url })
  await db.connect()
  t.teardown(() => db.end())
  const env = {
    DATABASE_URL: url,
    PORT: '0',
    // debug: a replica logs each API-client notification it acts on (the test waits for it).
    LOG_LEVEL: 'debug',
    DEPUTY_BOOTSTRAP_ADMIN_TOKEN: ADMIN_TOKEN,
    // Far beyond anything measured here: a refusal seen within it comes from the notification.
    API_TOKEN_CACHE_MAX_AGE_MS: '300000',
    AUDIT_SEAL_INTERVAL_MS: '0'
  }
  const replicas: Deputy[] = [spawnDeputy(['serve'], env), spawnDeputy(['serve'], env)]
  t.teardown(async () => {
    for (const replica of replicas) replica.child.kill('SIGTERM')
    await Promise.all(replicas.map((replica) => replica.exit))
  })
  const [a, b] = await Promise.all(replicas.map((replica) => waitForReady(replica)))
  if (a === undefined || b === undefined) throw new Error('a replica did not start')

  const request = async (base: string, method: string, path: string, token: string, body?: unknown): Promise<{ status: number, json: () => Promise<any> }> => {
    const response = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
    return { status: response.status, json: async () => response.json() }
  }
  const listening = async (base: string): Promise<number | undefined> => {
    const response = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    return parseMetrics(await response.text()).get('deputy_api_token_cache_listening')
  }
  const until = async (what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> => {
    const started = Date.now()
    while (!await check()) {
      if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
  await until('both replicas to listen', async () => await listening(a) === 1 && await listening(b) === 1)
  const newToken = async (name: string): Promise<{ id: string, token: string }> => {
    const created = await request(a, 'POST', '/v1/api-clients', ADMIN_TOKEN, { name, scopes: ['customers:read'] })
    t.equal(created.status, 201)
    return created.json()
  }

  t.test('a revocation: refused at once by the replica that revoked; by another once its notification arrives', async (t) => {
    const { id, token } = await newToken('measured')
    for (const base of [a, b, a, b]) t.equal((await request(base, 'GET', '/v1/customers', token)).status, 200, 'resolved (and cached) on both replicas')
    const revoked = await request(a, 'POST', `/v1/api-clients/${id}/revoke`, ADMIN_TOKEN)
    t.equal(revoked.status, 200)
    const committed = performance.now()
    // The replica that revoked dropped its cache entry before answering: no 200 after the revoke.
    t.equal((await request(a, 'GET', '/v1/customers', token)).status, 401, 'A refuses the very next request')
    // The other replica serves its cached entry until the notification arrives (then logs it).
    const notified = `"apiClientId":"${id}","msg":"API client changed: its cached tokens are dropped"`
    const servedBefore: number[] = []
    while (!(replicas[1]?.output().includes(notified) ?? false)) {
      if (performance.now() - committed > 10_000) throw new Error('B never logged the revocation\'s notification')
      servedBefore.push((await request(b, 'GET', '/v1/customers', token)).status)
    }
    const notifiedMs = performance.now() - committed
    t.ok(servedBefore.every((status) => status === 200 || status === 401), 'before: the cached 200 or, once dropped, 401')
    t.comment(`revoke answered on A -> B dropped its entry ${notifiedMs.toFixed(1)} ms later; B answered ${servedBefore.filter((s) => s === 200).length} of ${servedBefore.length} requests in between with 200 (the cache would have kept it for 300 s)`)
    for (let i = 0; i < 3; i++) t.equal((await request(b, 'GET', '/v1/customers', token)).status, 401, 'after the notification, B refuses every request')
  })

  t.test('the cache serves, and a revocation no notification announced is dropped when the listener reconnects', async (t) => {
    const { id, token } = await newToken('silent')
    t.equal((await request(b, 'GET', '/v1/customers', token)).status, 200)
    // A change the trigger does not announce: only the cache can still accept the token.
    await db.query('ALTER TABLE "api_clients" DISABLE TRIGGER "api_clients_notify"')
    await db.query('UPDATE "api_clients" SET "revoked_at" = now() WHERE "id" = $1', [id])
    await db.query('ALTER TABLE "api_clients" ENABLE TRIGGER "api_clients_notify"')
    t.equal((await request(b, 'GET', '/v1/customers', token)).status, 200, 'B still serves the token from its cache')
    t.equal((await request(a, 'GET', '/v1/customers', token)).status, 401, 'A never cached it and looks it up')

    const dbName = new URL(url).pathname.slice(1)
    const killed = await db.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'deputy-listen-deputy_api_clients'", [dbName])
    t.equal(killed.rowCount, 2, 'each replica has one listening connection')
    await until('the listeners to come back', async () => {
      const apps = await db.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'deputy-listen-deputy_api_clients'", [dbName])
      return apps.rows[0].n === 2 && await listening(b) === 1
    })
    t.equal((await request(b, 'GET', '/v1/customers', token)).status, 401, 'the cache was emptied when the notifications were lost')
    t.ok(replicas[1]?.output().includes('not hearing API-client revocations'), 'the outage was logged')
  })

  t.test('a listener that hears nothing (LISTEN on another database) never lets the cache serve', async (t) => {
    // Connects and LISTENs fine, but revocations (and its own heartbeats) happen elsewhere.
    const deaf = spawnDeputy(['serve'], { ...env, DATABASE_DIRECT_URL: ADMIN_URL })
    replicas.push(deaf)
    const c = await waitForReady(deaf)
    const { id, token } = await newToken('deaf')
    t.equal((await request(c, 'GET', '/v1/customers', token)).status, 200)
    await new Promise((resolve) => setTimeout(resolve, 3500))
    t.equal(await listening(c), 0, 'the heartbeat never came back: the cache is off')
    await db.query('ALTER TABLE "api_clients" DISABLE TRIGGER "api_clients_notify"')
    await db.query('UPDATE "api_clients" SET "revoked_at" = now() WHERE "id" = $1', [id])
    await db.query('ALTER TABLE "api_clients" ENABLE TRIGGER "api_clients_notify"')
    t.equal((await request(c, 'GET', '/v1/customers', token)).status, 401, 'every token is looked up')
  })
})
