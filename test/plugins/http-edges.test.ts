// Behaviour at the edges of HTTP: request ids, body limits, malformed bodies, unknown routes,
// rate limiting, health probes and docs.
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

  t.test('rate limit per token: 429 problem with Retry-After; other tokens unaffected', async (t) => {
    const token = 'dpt_rate-limit-test-token-0000000000000000000000'
    const statuses: number[] = []
    for (let i = 0; i < 7; i++) statuses.push((await call(app, 'GET', '/v1/customers', { token })).statusCode)
    t.same(statuses.slice(0, 5), [401, 401, 401, 401, 401])
    const limited = await call(app, 'GET', '/v1/customers', { token })
    t.equal(limited.statusCode, 429)
    t.equal(limited.json().code, 'rate_limited')
    t.ok(Number(limited.headers['retry-after']) > 0)
    t.equal(limited.headers['content-type'], 'application/problem+json; charset=utf-8')
    t.equal((await call(app, 'GET', '/v1/customers', { token: ADMIN_TOKEN })).statusCode, 200, 'another token still passes')
    t.equal((await call(app, 'GET', '/healthz')).statusCode, 200, 'probes are not limited')
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
