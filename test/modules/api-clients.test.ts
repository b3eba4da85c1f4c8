// API clients: tokens shown once and stored hashed, revocation at once, binding rules, audit.
import { createHash } from 'node:crypto'
import t from 'tap'
import { ADMIN_TOKEN, buildTestApp, call } from '../helpers/app.js'
import { createApiClient, createCustomer } from '../helpers/fixtures.js'

t.test('api clients', async (t) => {
  const { app, database } = await buildTestApp(t)

  t.test('the bootstrap token is an admin client, created once', async (t) => {
    const admins = await database.prisma.apiClient.findMany({ where: { scopes: { has: 'admin' } } })
    t.equal(admins.length, 1)
    t.equal(admins[0]?.tokenHash, createHash('sha256').update(ADMIN_TOKEN).digest('hex'))
    t.equal(await database.prisma.auditEvent.count({ where: { action: 'api_client.bootstrapped' } }), 1)
  })

  t.test('create: token dpt_ + 43 base64url chars, shown once, stored only as SHA-256', async (t) => {
    const res = await call(app, 'POST', '/v1/api-clients', { token: ADMIN_TOKEN, body: { name: 'billing-worker', scopes: ['customers:read', 'external-ids:read'] } })
    t.equal(res.statusCode, 201)
    t.equal(res.headers['cache-control'], 'no-store')
    const body = res.json()
    t.match(body.token, /^dpt_[A-Za-z0-9_-]{43}$/)
    const row = await database.prisma.apiClient.findUniqueOrThrow({ where: { id: body.id } })
    t.equal(row.tokenHash, createHash('sha256').update(body.token).digest('hex'))
    t.notOk(JSON.stringify(row).includes(body.token), 'the token itself is nowhere in the row')
    const list = await call(app, 'GET', '/v1/api-clients', { token: ADMIN_TOKEN })
    t.notOk(list.body.includes(body.token), 'lists never show tokens')
    t.ok(list.json().items.some((c: { id: string }) => c.id === body.id))
    const event = await database.prisma.auditEvent.findFirst({ where: { action: 'api_client.created', resourceId: body.id } })
    t.ok(event)
    t.notOk(JSON.stringify({ ...event, seq: String(event?.seq) }).includes(body.token), 'the audit event holds no token')
    const works = await call(app, 'GET', '/v1/customers', { token: body.token })
    t.equal(works.statusCode, 200)
  })

  t.test('a revoked token gets 401 at once; the refusal is audited', async (t) => {
    const client = await createApiClient(app, ['customers:read'])
    t.equal((await call(app, 'GET', '/v1/customers', { token: client.token })).statusCode, 200)
    const revoked = await call(app, 'POST', `/v1/api-clients/${client.id}/revoke`, { token: ADMIN_TOKEN })
    t.equal(revoked.statusCode, 200)
    t.ok(revoked.json().revokedAt)
    const after = await call(app, 'GET', '/v1/customers', { token: client.token })
    t.equal(after.statusCode, 401)
    t.match(after.json().detail, /revoked/)
    t.equal(await database.prisma.auditEvent.count({ where: { action: 'api_client.revoked', resourceId: client.id } }), 1)
    t.equal(await database.prisma.auditEvent.count({ where: { action: 'auth.failed', actorClientId: client.id } }), 1)
    const again = await call(app, 'POST', `/v1/api-clients/${client.id}/revoke`, { token: ADMIN_TOKEN })
    t.equal(again.statusCode, 200, 'revoking twice is harmless')
    t.equal(await database.prisma.auditEvent.count({ where: { action: 'api_client.revoked', resourceId: client.id } }), 1)
    t.equal((await call(app, 'POST', '/v1/api-clients/00000000-0000-4000-8000-000000000000/revoke', { token: ADMIN_TOKEN })).statusCode, 404)
  })

  t.test('concurrent revokes: all answer 200 with the same revocation, exactly one api_client.revoked event', async (t) => {
    const client = await createApiClient(app, ['customers:read'])
    const responses = await Promise.all(Array.from({ length: 20 }, () => call(app, 'POST', `/v1/api-clients/${client.id}/revoke`, { token: ADMIN_TOKEN })))
    t.same(responses.map((r) => r.statusCode), Array(20).fill(200))
    const revokedAt = new Set(responses.map((r) => r.json().revokedAt as string | null))
    t.equal(revokedAt.size, 1, 'every answer shows the one revocation that happened')
    t.notOk(revokedAt.has(null))
    const row = await database.prisma.apiClient.findUniqueOrThrow({ where: { id: client.id } })
    t.equal(row.revokedAt?.toISOString(), [...revokedAt][0])
    t.equal(await database.prisma.auditEvent.count({ where: { action: 'api_client.revoked', resourceId: client.id } }), 1, 'audited once: only the revoke that changed the row')
  })

  t.test('binding rules', async (t) => {
    const customer = await createCustomer(app)
    const adminBound = await call(app, 'POST', '/v1/api-clients', { token: ADMIN_TOKEN, body: { name: 'x', scopes: ['admin'], customerId: customer.id } })
    t.equal(adminBound.statusCode, 400)
    t.equal(adminBound.json().code, 'admin_cannot_be_bound')
    const unknown = await call(app, 'POST', '/v1/api-clients', { token: ADMIN_TOKEN, body: { name: 'x', scopes: ['customers:read'], customerId: '00000000-0000-4000-8000-000000000000' } })
    t.equal(unknown.statusCode, 404)
    const badScope = await call(app, 'POST', '/v1/api-clients', { token: ADMIN_TOKEN, body: { name: 'x', scopes: ['root'] } })
    t.equal(badScope.statusCode, 400)
    const noScopes = await call(app, 'POST', '/v1/api-clients', { token: ADMIN_TOKEN, body: { name: 'x', scopes: [] } })
    t.equal(noScopes.statusCode, 400)
  })

  t.test('only admin manages clients', async (t) => {
    const client = await createApiClient(app, ['customers:read', 'customers:write', 'external-ids:read', 'external-ids:write', 'audit:read'])
    t.equal((await call(app, 'GET', '/v1/api-clients')).statusCode, 401)
    t.equal((await call(app, 'GET', '/v1/api-clients', { token: client.token })).statusCode, 403)
    t.equal((await call(app, 'POST', '/v1/api-clients', { token: client.token, body: { name: 'escalate', scopes: ['admin'] } })).statusCode, 403)
    t.equal((await call(app, 'POST', `/v1/api-clients/${client.id}/revoke`, { token: client.token })).statusCode, 403)
  })

  t.test('the database refuses a bound admin and unknown scopes', async (t) => {
    const customer = await createCustomer(app)
    await t.rejects(database.prisma.$executeRawUnsafe(`INSERT INTO api_clients (name, token_hash, scopes, customer_id) VALUES ('x', '${'a'.repeat(64)}', ARRAY['admin'], '${customer.id}')`), /api_clients_admin_unbound_check/)
    await t.rejects(database.prisma.$executeRawUnsafe(`INSERT INTO api_clients (name, token_hash, scopes) VALUES ('x', '${'b'.repeat(64)}', ARRAY['superuser'])`), /api_clients_scopes_check/)
  })
})
