// Behaviour at the edges of HTTP: request ids, body limits, malformed bodies, unknown routes,
// rate limiting, health probes and docs.
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { ADMIN_TOKEN, buildTestApp, call } from '../helpers/app.js'
import { withAdminClient } from '../helpers/postgres.js'

t.test('http edges', async (t) => {
  const { app, database } = await buildTestApp(t, { RATE_LIMIT_MAX: '5', RATE_LIMIT_WINDOW_MS: '60000' })

  t.test('request id: a well-formed X-Request-Id is kept, stored on audit events; others replaced', async (t) => {
    const kept = await call(app, 'POST', '/v1/customers', { token: ADMIN_TOKEN, body: { name: 'Req' }, headers: { 'x-request-id': 'abc-123' } })
    t.equal(kept.headers['x-request-id'], 'abc-123')
    const event = await database.prisma.auditEvent.findFirst({ where: { resourceId: kept.json().id } })
    t.equal(event?.requestId, 'abc-123')
    const replaced = await call(app, 'GET', '/healthz', { headers: { 'x-request-id': 'bad id\nwith newline' } })
    t.match(replaced.headers['x-request-id'], /^[0-9a-f-]{36}$/)
    const made = await call(app, 'GET', '/healthz')
    t.match(made.headers['x-request-id'], /^[0-9a-f-]{36}$/)
  })

  t.test('bodies over 64 KiB are 413 problems; nothing written', async (t) => {
    const before = await database.prisma.customer.count()
    const res = await app.inject({ method: 'POST', url: '/v1/customers', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, payload: JSON.stringify({ name: 'x'.repeat(70 * 1024) }) })
    t.equal(res.statusCode, 413)
    t.equal(res.json().code, 'body_too_large')
    t.equal(await database.prisma.customer.count(), before)
  })

  t.test('malformed JSON and wrong media types are problems', async (t) => {
    const bad = await app.inject({ method: 'POST', url: '/v1/customers', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, payload: '{"name":' })
    t.equal(bad.statusCode, 400)
    t.equal(bad.json().code, 'malformed_json')
    t.equal(bad.headers['content-type'], 'application/problem+json; charset=utf-8')
    const text = await app.inject({ method: 'POST', url: '/v1/customers', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'text/plain' }, payload: 'name=x' })
    t.equal(text.statusCode, 415)
    t.equal(text.json().code, 'unsupported_media_type')
  })

  t.test('unknown routes are 404 problems', async (t) => {
    const res = await call(app, 'GET', '/v1/nothing-here')
    t.equal(res.statusCode, 404)
    t.match(res.json(), { code: 'route_not_found', type: 'urn:deputy:problem:route_not_found', title: 'Not found', status: 404 })
  })

  t.test('health, readiness and docs need no token', async (t) => {
    t.same((await call(app, 'GET', '/healthz')).json(), { status: 'ok' })
    t.same((await call(app, 'GET', '/readyz')).json(), { status: 'ok' })
    const docs = await call(app, 'GET', '/docs/')
    t.equal(docs.statusCode, 200)
    t.match(docs.headers['content-type'], /text\/html/)
    const spec = await call(app, 'GET', '/openapi.json')
    t.equal(spec.json().openapi, '3.1.0')
  })

  t.test('rate limit: random tokens share their address\'s bucket (429 rate_limited with Retry-After); a proven token has its own', async (t) => {
    const from = (token?: string, url = '/v1/customers') => app.inject({ method: 'GET', url, remoteAddress: '198.51.100.1', headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })
    t.equal((await from(ADMIN_TOKEN)).statusCode, 200, 'the admin token authenticates from this address: proven here')
    const statuses: number[] = []
    for (let i = 0; i < 4; i++) statuses.push((await from(`dpt_${randomBytes(32).toString('base64url')}`)).statusCode)
    t.same(statuses, [401, 401, 401, 401], 'four random tokens: the address bucket (5) now holds 5 requests')
    const limited = await from(`dpt_${randomBytes(32).toString('base64url')}`)
    t.equal(limited.statusCode, 429, 'a fifth random token is refused: it did not get a bucket of its own')
    t.equal(limited.json().code, 'rate_limited')
    t.ok(Number(limited.headers['retry-after']) > 0)
    t.equal(limited.headers['content-type'], 'application/problem+json; charset=utf-8')
    t.equal((await from()).statusCode, 429, 'no token: the same address bucket')
    t.equal((await from(ADMIN_TOKEN)).statusCode, 200, 'the proven token still passes, on its own bucket')
    t.equal((await from(undefined, '/healthz')).statusCode, 200, 'probes are not limited')
    t.equal((await from(undefined, '/readyz')).statusCode, 200, 'probes are not limited')
    const other = await app.inject({ method: 'GET', url: '/v1/customers', remoteAddress: '198.51.100.2', headers: { authorization: `Bearer dpt_${randomBytes(32).toString('base64url')}` } })
    t.equal(other.statusCode, 401, 'another address has its own bucket')
  })
})

t.test('readiness is 503 when the database refuses connections', async (t) => {
  const { app, database } = await buildTestApp(t)
  t.equal((await call(app, 'GET', '/readyz')).statusCode, 200)
  const [row] = await database.prisma.$queryRaw<Array<{ db: string }>>`SELECT current_database() AS db`
  const name = row?.db ?? ''
  await withAdminClient(async (client) => {
    await client.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS false`)
    await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name])
  })
  t.teardown(() => withAdminClient((client) => client.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS true`)))
  const res = await call(app, 'GET', '/readyz')
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'database_unavailable')
  t.equal(res.headers['retry-after'], '5')
})
