// Rate limits shared across replicas (REDIS_URL): two deputy replicas on one database and the
// machine's Redis give an address one request budget and one failure budget, not one each; a
// token proven on one replica is proven on the other; each throttled window is audited once,
// by whichever replica is running when it ends. When Redis cannot answer (down, or hung), no
// request fails and no limit is lifted: each replica counts in its own memory until Redis is back.
import { randomBytes } from 'node:crypto'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { REDIS_COMMAND_TIMEOUT_MS } from '../../src/plugins/rate-limit-redis.js'
import { ADMIN_TOKEN, buildTestApp, buildTestAppOn, type TestApp } from '../helpers/app.js'
import { createApiClient } from '../helpers/fixtures.js'
import { keysUnder, privateRedis, REDIS_URL, redisClient, uniquePrefix } from '../helpers/redis.js'

const randomToken = (): string => `dpt_${randomBytes(32).toString('base64url')}`

const from = (app: FastifyInstance, remoteAddress: string, token?: string): Promise<LightMyRequestResponse> =>
  app.inject({ method: 'GET', url: '/v1/customers', remoteAddress, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })

const label = (r: LightMyRequestResponse): string => r.statusCode === 429 ? `429 ${r.json<{ code: string }>().code}` : String(r.statusCode)

function tally (responses: LightMyRequestResponse[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const r of responses) counts[label(r)] = (counts[label(r)] ?? 0) + 1
  return counts
}

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

async function waitFor (check: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(50)) {
    if (await check()) return true
  }
  return false
}

// These tests count 429s: a loaded machine's event-loop lag must not turn answers into 503 overloaded.
const NO_SHEDDING = { OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0' }

/** Two replicas of deputy on one database, sharing their limits through Redis under a prefix of this test's own. */
async function twoReplicas (t: Test, env: Record<string, string>, redisUrl = REDIS_URL): Promise<{ a: TestApp, b: TestApp, prefix: string }> {
  const prefix = uniquePrefix(t, redisClient(t, redisUrl))
  const shared = { ...NO_SHEDDING, REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix, ...env }
  const a = await buildTestApp(t, shared)
  const b = await buildTestAppOn(t, a.databaseUrl, shared)
  return { a, b, prefix }
}

t.test('the request limit holds across two replicas: RATE_LIMIT_MAX per address in all, where in memory each replica would give it again', async (t) => {
  const env = { ...NO_SHEDDING, RATE_LIMIT_MAX: '10', AUTH_FAILURE_LIMIT_MAX: '1000' }
  const { a, b } = await twoReplicas(t, env)
  const address = '198.51.100.1'
  const responses: LightMyRequestResponse[] = []
  for (let sent = 0; sent < 16; sent++) responses.push(await from(sent % 2 === 0 ? a.app : b.app, address))
  t.same(responses.map(label), [...Array<string>(10).fill('401'), ...Array<string>(6).fill('429 rate_limited')], 'ten answers over both replicas, then 429 from both')
  t.same(responses.slice(0, 10).map((r) => r.headers['x-ratelimit-remaining']), ['9', '8', '7', '6', '5', '4', '3', '2', '1', '0'], 'one count, whichever replica answers')
  t.ok(Number(responses[12]?.headers['retry-after']) > 0, 'Retry-After on a rate_limited answer')

  // The control: the same two replicas without REDIS_URL each give the address its own budget.
  const memoryA = await buildTestAppOn(t, a.databaseUrl, env)
  const memoryB = await buildTestAppOn(t, a.databaseUrl, env)
  const inMemory: LightMyRequestResponse[] = []
  for (let sent = 0; sent < 16; sent++) inMemory.push(await from(sent % 2 === 0 ? memoryA.app : memoryB.app, address))
  t.same(tally(inMemory), { 401: 16 }, 'in memory: 8 per replica, within each one\'s 10')
})

t.test('a token proven on one replica is proven on the other: its own bucket there, and it works while the address is throttled', async (t) => {
  const { a, b } = await twoReplicas(t, { RATE_LIMIT_MAX: '20', AUTH_FAILURE_LIMIT_MAX: '2' })
  const address = '198.51.100.2'
  const client = await createApiClient(a.app, ['customers:read'])
  t.equal((await from(a.app, address, client.token)).statusCode, 200, 'proven on replica A')
  await sleep(50) // the proof is written to Redis beside the answer, not before it
  const onB = await from(b.app, address, client.token)
  t.equal(onB.statusCode, 200)
  t.equal(onB.headers['x-ratelimit-remaining'], '19', 'on replica B it counts against its own token bucket (the address bucket has 18 left)')
  t.equal((await from(b.app, address, randomToken())).statusCode, 401)
  t.equal((await from(a.app, address, randomToken())).statusCode, 401)
  t.equal((await from(b.app, address, randomToken())).json().code, 'auth_throttled', 'the address is throttled on B')
  t.equal((await from(b.app, address, client.token)).statusCode, 200, 'the proven token still works on B')
  const unproven = await createApiClient(a.app, ['customers:read'])
  t.equal((await from(a.app, address, unproven.token)).json().code, 'auth_throttled', 'a valid token never used from there waits, on A too')
})

t.test('the failure budget holds across replicas, also for concurrent guesses: AUTH_FAILURE_LIMIT_MAX lookups in all', async (t) => {
  const { a, b, prefix } = await twoReplicas(t, { AUTH_FAILURE_LIMIT_MAX: '4' })
  const address = '198.51.100.3'
  const tokens = Array.from({ length: 60 }, randomToken)
  const responses = await Promise.all(tokens.map((token, i) => from(i % 2 === 0 ? a.app : b.app, address, token)))
  t.same(tally(responses), { 401: 4, '429 auth_throttled': 56 }, '4 lookups over both replicas, 56 refused without one')
  t.equal(await a.database.prisma.auditEvent.count({ where: { action: 'auth.failed', sourceIp: address } }), 4, 'four auth.failed rows')
  t.ok(responses.filter((r) => r.statusCode === 429).every((r) => Number(r.headers['retry-after']) > 0 && Number(r.headers['retry-after']) <= 60), 'Retry-After: the rest of the window')

  // What Redis holds: tokens only as hashes, and every key expires.
  const redis = redisClient(t)
  const keys = await keysUnder(redis, prefix)
  t.ok(keys.length > 0)
  for (const key of keys) {
    t.ok(await redis.pttl(key) > 0, `${key} expires`)
    const type = await redis.type(key)
    const content = type === 'hash' ? JSON.stringify(await redis.hgetall(key)) : type === 'zset' ? JSON.stringify(await redis.zrange(key, '0', '-1')) : String(await redis.get(key))
    t.notOk(`${key} ${content}`.includes('dpt_'), `${key}: no token in the key or its value`)
  }
})

t.test('one auth.throttled event per address and window across replicas, with both replicas\' counts, written even after the replicas that refused have stopped', async (t) => {
  const env = { ...NO_SHEDDING, RATE_LIMIT_MAX: '14', AUTH_FAILURE_LIMIT_MAX: '2', AUTH_FAILURE_WINDOW_MS: '4000' }
  const { a, b } = await twoReplicas(t, env)
  const address = '198.51.100.4'
  const responses = await Promise.all(Array.from({ length: 12 }, (_, i) => from(i % 2 === 0 ? a.app : b.app, address, randomToken())))
  t.same(tally(responses), { 401: 2, '429 auth_throttled': 10 })
  const more: LightMyRequestResponse[] = []
  for (let sent = 0; sent < 4; sent++) more.push(await from(sent % 2 === 0 ? a.app : b.app, address, randomToken()))
  t.same(more.map(label), ['429 auth_throttled', '429 auth_throttled', '429 rate_limited', '429 rate_limited'], 'then the address bucket (14) is spent')
  // A third replica that refused nothing; A and B stop while the window is still open.
  const c = await buildTestAppOn(t, a.databaseUrl, { REDIS_URL, REDIS_KEY_PREFIX: a.config.rateLimit.redis?.keyPrefix ?? '', ...env })
  await a.app.close()
  await b.app.close()
  t.equal(await c.database.prisma.auditEvent.count({ where: { action: 'auth.throttled' } }), 0, 'nothing written while the window is open, at shutdown either: another replica will')
  t.ok(await waitFor(async () => await c.database.prisma.auditEvent.count({ where: { action: 'auth.throttled' } }) > 0), 'written once the window has ended')
  await sleep(2500)
  const events = await c.database.prisma.auditEvent.findMany({ where: { action: 'auth.throttled' } })
  t.equal(events.length, 1, 'exactly one event (each replica sweeps every second)')
  t.match(events[0], { outcome: 'denied', actorClientId: null, sourceIp: address, details: { address, refused: 12, rateLimited: 2, failedAuthentications: 2, limit: 2, windowMs: 4000, method: 'GET', route: '/v1/customers' } })
  const details = events[0]?.details as { windowStartedAt: string, windowEndedAt: string, firstRefusedAt: string, lastRefusedAt: string }
  t.equal(Date.parse(details.windowEndedAt) - Date.parse(details.windowStartedAt), 4000)
  t.ok(details.firstRefusedAt <= details.lastRefusedAt)
})

t.test('a sustained guesser across replicas and windows: one event per window, the counts adding up to what was answered', async (t) => {
  const { a, b } = await twoReplicas(t, { AUTH_FAILURE_LIMIT_MAX: '1', AUTH_FAILURE_WINDOW_MS: '1000' })
  const address = '198.51.100.5'
  const responses: LightMyRequestResponse[] = []
  for (const started = Date.now(); Date.now() - started < 3500; await sleep(25)) {
    responses.push(await from(responses.length % 2 === 0 ? a.app : b.app, address, randomToken()))
  }
  const answered = tally(responses)
  t.ok((answered['401'] ?? 0) >= 3 && (answered['401'] ?? 0) <= 5, `one lookup per window of 1 s (${answered['401']} in 3.5 s)`)
  const windows = answered['401'] ?? 0
  await a.app.close()
  const written = async (): Promise<Array<{ refused: number, failedAuthentications: number, windowStartedAt: string }>> =>
    (await b.database.prisma.auditEvent.findMany({ where: { action: 'auth.throttled' }, orderBy: { seq: 'asc' } })).map((e) => e.details as { refused: number, failedAuthentications: number, windowStartedAt: string })
  t.ok(await waitFor(async () => (await written()).reduce((sum, d) => sum + d.refused, 0) >= (answered['429 auth_throttled'] ?? 0), 5000), 'every window with refusals written by the replica still running')
  await sleep(1500)
  const details = await written()
  const events = details
  t.equal(new Set(details.map((d) => d.windowStartedAt)).size, events.length, 'no window written twice')
  t.equal(details.reduce((sum, d) => sum + d.refused, 0), answered['429 auth_throttled'], 'every auth_throttled answer counted once')
  t.ok(details.reduce((sum, d) => sum + d.failedAuthentications, 0) >= windows - 1, 'and the failed lookups of those windows (the last one may have had no refusal, so no event)')
})

t.test('Redis down: no request fails and no limit is lifted (each replica counts in memory); Redis back: shared again', async (t) => {
  const redis = await privateRedis(t)
  const { a, b } = await twoReplicas(t, { RATE_LIMIT_MAX: '1000', AUTH_FAILURE_LIMIT_MAX: '3' }, redis.url)
  const client = await createApiClient(a.app, ['customers:read'])
  t.equal((await from(a.app, '198.51.100.6', client.token)).statusCode, 200, 'proven while Redis is up (on A)')
  t.equal((await from(b.app, '198.51.100.6', client.token)).statusCode, 200, 'and on B, through Redis')
  await redis.stop()

  const address = '198.51.100.7'
  const onA = await Promise.all(Array.from({ length: 10 }, () => from(a.app, address, randomToken())))
  const onB = await Promise.all(Array.from({ length: 10 }, () => from(b.app, address, randomToken())))
  t.same(tally(onA), { 401: 3, '429 auth_throttled': 7 }, 'replica A enforces the failure budget on its own')
  t.same(tally(onB), { 401: 3, '429 auth_throttled': 7 }, 'and so does B: at most N x the budget with N replicas, never unlimited')
  t.equal((await from(a.app, '198.51.100.6', client.token)).statusCode, 200, 'a token proven while Redis was up still works on A')
  t.equal((await from(b.app, '198.51.100.6', client.token)).statusCode, 200, 'and on B')
  t.equal((await a.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200, 'deputy stays ready: Redis is not on the critical path')
  t.ok(await waitFor(async () => a.logs.some((line) => line.includes('Redis (REDIS_URL) cannot be reached'))), 'the outage is logged')
  t.notOk(a.logs.some((line) => line.includes(redis.url)), 'the log does not carry the URL (it may hold a password)')

  await redis.start()
  // Shared again once a request on B continues the count a request on A started (each replica
  // reconnects on its own, within a few seconds).
  let probe = 0
  const sharedAgain = async (): Promise<boolean> => {
    const address = `198.51.100.${100 + probe++}`
    const first = await from(a.app, address)
    const second = await from(b.app, address)
    return Number(second.headers['x-ratelimit-remaining']) === Number(first.headers['x-ratelimit-remaining']) - 1
  }
  t.ok(await waitFor(sharedAgain, 20_000), 'both replicas count in Redis again')
  t.ok(a.logs.some((line) => line.includes('Redis (REDIS_URL) answers again')), 'the recovery is logged')
  const again = '198.51.100.9'
  const shared = await Promise.all(Array.from({ length: 10 }, (_, i) => from(i % 2 === 0 ? a.app : b.app, again, randomToken())))
  t.same(tally(shared), { 401: 3, '429 auth_throttled': 7 }, 'one budget over both replicas again')
})

t.test('a hung Redis costs a request at most the command timeout, once; then the replica counts in memory until it answers', async (t) => {
  const redis = await privateRedis(t)
  const { a } = await twoReplicas(t, { AUTH_FAILURE_LIMIT_MAX: '3' }, redis.url)
  t.equal((await from(a.app, '198.51.100.10', ADMIN_TOKEN)).statusCode, 200)
  redis.pause()
  t.teardown(() => { redis.resume() })
  const started = Date.now()
  const first = await from(a.app, '198.51.100.10', ADMIN_TOKEN)
  const firstMs = Date.now() - started
  t.equal(first.statusCode, 200, 'answered, from memory')
  t.ok(firstMs < REDIS_COMMAND_TIMEOUT_MS * 4 + 1000, `the first request waited about the timeout (${firstMs} ms)`)
  const address = '198.51.100.11'
  const guesses = await Promise.all(Array.from({ length: 8 }, () => from(a.app, address, randomToken())))
  t.same(tally(guesses), { 401: 3, '429 auth_throttled': 5 }, 'the failure budget in memory meanwhile')
  redis.resume()
})
