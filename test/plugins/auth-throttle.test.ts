// The auth-failure throttle: guessing tokens from one address is cut off after
// AUTH_FAILURE_LIMIT_MAX failures per window, before any lookup; the audit trail gets a bounded
// number of rows; tokens already proven from that address keep working.
import { randomBytes } from 'node:crypto'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { addressKey } from '../../src/plugins/rate-limit.js'
import { ADMIN_TOKEN, buildTestApp, call } from '../helpers/app.js'
import { createApiClient } from '../helpers/fixtures.js'

const randomToken = (): string => `dpt_${randomBytes(32).toString('base64url')}`

const from = (app: FastifyInstance, remoteAddress: string, token?: string, url = '/v1/customers'): Promise<LightMyRequestResponse> =>
  app.inject({ method: 'GET', url, remoteAddress, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })

function tally (responses: LightMyRequestResponse[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const r of responses) {
    const label = r.statusCode === 429 ? `429 ${r.json<{ code: string }>().code}` : String(r.statusCode)
    counts[label] = (counts[label] ?? 0) + 1
  }
  return counts
}

async function waitFor (check: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 50))) {
    if (await check()) return true
  }
  return false
}

t.test('reviewer\'s finding: 3,040 random tokens from one address get 429 after the failure limit, and the audit trail gains 31 rows, not 3,040', async (t) => {
  const { app, database } = await buildTestApp(t)
  const address = '203.0.113.10'
  const responses: LightMyRequestResponse[] = []
  // One at a time, as the reviewer sent them (concurrency: the next test).
  for (let sent = 0; sent < 3040; sent++) responses.push(await from(app, address, randomToken()))
  t.same(tally(responses), { 401: 30, '429 auth_throttled': 570, '429 rate_limited': 2440 },
    'AUTH_FAILURE_LIMIT_MAX (30) lookups, then auth_throttled until the address bucket (RATE_LIMIT_MAX 600) is spent, then rate_limited')
  const throttled = responses.find((r) => r.statusCode === 429 && r.json().code === 'auth_throttled')
  t.match(throttled?.json(), { type: 'urn:deputy:problem:auth_throttled', status: 429, title: 'Too many failed authentications' })
  t.equal(throttled?.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.ok(Number(throttled?.headers['retry-after']) > 0 && Number(throttled?.headers['retry-after']) <= 60, 'Retry-After: the rest of the window')
  t.notOk(throttled?.headers['www-authenticate'], 'a throttled request is not told to authenticate')

  t.equal(await database.prisma.auditEvent.count({ where: { action: 'auth.failed', sourceIp: address } }), 30, 'one auth.failed row per failed authentication, 30 in all')
  t.equal(await database.prisma.auditEvent.count({ where: { action: 'auth.throttled' } }), 0, 'the throttled window is audited when it ends')
  await app.close()
  const events = await database.prisma.auditEvent.findMany({ where: { action: 'auth.throttled' } })
  t.equal(events.length, 1, 'one auth.throttled event for the window (written at shutdown, as the window had not ended)')
  t.match(events[0], { outcome: 'denied', actorClientId: null, sourceIp: address, details: { address, refused: 570, rateLimited: 2440, failedAuthentications: 30, limit: 30, windowMs: 60000, method: 'GET', route: '/v1/customers' } })
  t.equal(await database.prisma.auditEvent.count({ where: { sourceIp: address } }), 31, '3,040 refused requests, 31 audit rows')
})

t.test('concurrent guesses cannot overshoot the failure limit: 300 at once from one address, exactly AUTH_FAILURE_LIMIT_MAX looked up', async (t) => {
  const { app, database } = await buildTestApp(t)
  const address = '203.0.113.11'
  const responses = await Promise.all(Array.from({ length: 300 }, () => from(app, address, randomToken())))
  t.same(tally(responses), { 401: 30, '429 auth_throttled': 270 })
  t.equal(await database.prisma.auditEvent.count({ where: { action: 'auth.failed', sourceIp: address } }), 30)
  await app.close()
  const [event, ...more] = await database.prisma.auditEvent.findMany({ where: { action: 'auth.throttled', sourceIp: address } })
  t.equal(more.length, 0, 'one auth.throttled event')
  t.match(event?.details, { refused: 270, failedAuthentications: 30 }, 'counting every concurrent refusal')
})

t.test('a throttled address: tokens proven there keep working; unproven ones, valid or not, wait for the window; other addresses and probes are unaffected', async (t) => {
  const { app, database } = await buildTestApp(t, { AUTH_FAILURE_LIMIT_MAX: '3' })
  const address = '203.0.113.20'
  const proven = await createApiClient(app, ['customers:read'])
  const unproven = await createApiClient(app, ['customers:read'])
  const revoked = await createApiClient(app, ['customers:read'])
  t.equal((await from(app, address, proven.token)).statusCode, 200, 'proven from this address by a success')
  t.equal((await from(app, address, revoked.token)).statusCode, 200)
  t.equal((await call(app, 'POST', `/v1/api-clients/${revoked.id}/revoke`, { token: ADMIN_TOKEN })).statusCode, 200)

  t.equal((await from(app, address, revoked.token)).statusCode, 401, 'a revoked token fails even though it was proven here, and counts')
  t.equal((await from(app, address, randomToken())).statusCode, 401)
  t.equal((await from(app, address)).statusCode, 401, 'a missing token counts too')
  const failedBefore = await database.prisma.auditEvent.count({ where: { action: 'auth.failed', sourceIp: address } })
  t.equal(failedBefore, 3)

  const guess = await from(app, address, randomToken())
  t.equal(guess.statusCode, 429)
  t.equal(guess.json().code, 'auth_throttled')
  t.equal((await from(app, address, revoked.token)).json().code, 'auth_throttled', 'a revoked token is no longer proven here')
  t.equal((await from(app, address)).json().code, 'auth_throttled')
  const waiting = await from(app, address, unproven.token)
  t.equal(waiting.statusCode, 429, 'a valid token never used from this address is refused like a guess: the answer must not tell a valid guess from a wrong one')
  t.equal(waiting.json().code, 'auth_throttled')
  const works = await from(app, address, proven.token)
  t.equal(works.statusCode, 200, 'a token proven from this address still works')
  t.ok(Number(works.headers['x-ratelimit-remaining']) > 0, 'on its own per-token bucket')
  t.equal(await database.prisma.auditEvent.count({ where: { action: 'auth.failed', sourceIp: address } }), failedBefore, 'refusals look nothing up and write no auth.failed rows')
  t.equal((await from(app, address, undefined, '/healthz')).statusCode, 200, 'health probes are exempt')
  t.equal((await from(app, address, undefined, '/readyz')).statusCode, 200, 'readiness probes are exempt')
  t.equal((await from(app, '203.0.113.21', unproven.token)).statusCode, 200, 'the unproven token works from another address')
  t.equal((await from(app, '203.0.113.21', randomToken())).statusCode, 401, 'another address has its own failure budget')
})

t.test('one auth.throttled event per address per window, written when the window ends, with the final count; the budget renews', async (t) => {
  const { app, database } = await buildTestApp(t, { AUTH_FAILURE_LIMIT_MAX: '2', AUTH_FAILURE_WINDOW_MS: '3000' })
  const first = '203.0.113.30'
  const second = '203.0.113.31'
  const responses = await Promise.all([
    ...Array.from({ length: 12 }, () => from(app, first, randomToken())),
    ...Array.from({ length: 5 }, () => from(app, second, randomToken()))
  ])
  t.same(tally(responses.slice(0, 12)), { 401: 2, '429 auth_throttled': 10 })
  t.same(tally(responses.slice(12)), { 401: 2, '429 auth_throttled': 3 })
  t.ok(await waitFor(async () => await database.prisma.auditEvent.count({ where: { action: 'auth.throttled' } }) === 2), 'both windows audited once they end')
  const events = await database.prisma.auditEvent.findMany({ where: { action: 'auth.throttled' }, orderBy: { seq: 'asc' } })
  const bySource = Object.fromEntries(events.map((e) => [e.sourceIp, e.details]))
  t.match(bySource[first], { refused: 10, failedAuthentications: 2, limit: 2, windowMs: 3000 })
  t.match(bySource[second], { refused: 3, failedAuthentications: 2 })
  const again = await from(app, first, randomToken())
  t.equal(again.statusCode, 401, 'a new window gives a new budget')
  await app.close()
  t.equal(await database.prisma.auditEvent.count({ where: { action: 'auth.throttled' } }), 2, 'a window without refusals writes nothing, at shutdown either')
})

t.test('IPv6 addresses share a budget per /64', async (t) => {
  t.equal(addressKey('2001:db8:1:2::a'), '2001:db8:1:2::/64')
  t.equal(addressKey('2001:0db8:0001:0002:ffff:0:0:1'), '2001:db8:1:2::/64')
  t.equal(addressKey('::1'), '0:0:0:0::/64')
  t.equal(addressKey('::ffff:192.0.2.1'), '192.0.2.1')
  t.equal(addressKey('192.0.2.1'), '192.0.2.1')
  const { app } = await buildTestApp(t, { AUTH_FAILURE_LIMIT_MAX: '2' })
  t.equal((await from(app, '2001:db8:1:2::a', randomToken())).statusCode, 401)
  t.equal((await from(app, '2001:db8:1:2::b', randomToken())).statusCode, 401)
  t.equal((await from(app, '2001:db8:1:2:ffff::c', randomToken())).json().code, 'auth_throttled', 'another address of the same /64')
  t.equal((await from(app, '2001:db8:1:3::a', randomToken())).statusCode, 401, 'the next /64 has its own budget')
})
