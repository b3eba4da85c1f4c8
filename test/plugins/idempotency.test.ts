// Idempotency-Key on creating POSTs.
import t from 'tap'
import { ADMIN_TOKEN, buildTestApp, call } from '../helpers/app.js'
import { awsAccount, createApiClient, createCustomer } from '../helpers/fixtures.js'

t.test('Idempotency-Key', async (t) => {
  const { app, database } = await buildTestApp(t)
  const customer = await createCustomer(app)

  t.test('same key and body replays the first response and mints once', async (t) => {
    const body = { awsAccountId: awsAccount() }
    const headers = { 'idempotency-key': 'mint-once-1' }
    const first = await call(app, 'POST', `/v1/customers/${customer.id}/external-ids`, { token: ADMIN_TOKEN, body, headers })
    const second = await call(app, 'POST', `/v1/customers/${customer.id}/external-ids`, { token: ADMIN_TOKEN, body, headers })
    t.equal(first.statusCode, 201)
    t.equal(second.statusCode, 201)
    t.same(second.json(), first.json())
    t.equal(second.headers['idempotent-replayed'], 'true')
    t.equal(await database.prisma.externalId.count({ where: { awsAccountId: body.awsAccountId } }), 1)
    t.equal(await database.prisma.auditEvent.count({ where: { action: 'external_id.minted', details: { path: ['awsAccountId'], equals: body.awsAccountId } } }), 1)
  })

  t.test('same key with another body is 422 idempotency_key_reused', async (t) => {
    const headers = { 'idempotency-key': 'reuse-me' }
    await call(app, 'POST', '/v1/customers', { token: ADMIN_TOKEN, body: { name: 'First' }, headers })
    const res = await call(app, 'POST', '/v1/customers', { token: ADMIN_TOKEN, body: { name: 'Second' }, headers })
    t.equal(res.statusCode, 422)
    t.equal(res.json().code, 'idempotency_key_reused')
    t.equal(await database.prisma.customer.count({ where: { name: 'Second' } }), 0)
  })

  t.test('keys are scoped to the API client', async (t) => {
    const other = await createApiClient(app, ['customers:write'])
    const headers = { 'idempotency-key': 'shared-key' }
    const a = await call(app, 'POST', '/v1/customers', { token: ADMIN_TOKEN, body: { name: 'Scoped' }, headers })
    const b = await call(app, 'POST', '/v1/customers', { token: other.token, body: { name: 'Scoped' }, headers })
    t.equal(a.statusCode, 201)
    t.equal(b.statusCode, 201)
    t.not(a.json().id, b.json().id)
  })

  t.test('key order in the body does not matter; a replayed conflict stays a conflict', async (t) => {
    const headers = { 'idempotency-key': 'order' }
    const first = await call(app, 'POST', '/v1/customers', { token: ADMIN_TOKEN, body: { name: 'Ordered', externalRef: 'ord-1' }, headers })
    const second = await call(app, 'POST', '/v1/customers', { token: ADMIN_TOKEN, body: { externalRef: 'ord-1', name: 'Ordered' }, headers })
    t.same(second.json(), first.json())
    const conflictHeaders = { 'idempotency-key': 'conflict' }
    const c1 = await call(app, 'POST', '/v1/customers', { token: ADMIN_TOKEN, body: { name: 'Dup', externalRef: 'ord-1' }, headers: conflictHeaders })
    const c2 = await call(app, 'POST', '/v1/customers', { token: ADMIN_TOKEN, body: { name: 'Dup', externalRef: 'ord-1' }, headers: conflictHeaders })
    t.equal(c1.statusCode, 409)
    t.equal(c2.statusCode, 409)
    t.equal(c2.headers['content-type'], 'application/problem+json; charset=utf-8')
  })

  t.test('an API client token is never stored for replay', async (t) => {
    const headers = { 'idempotency-key': 'client-create' }
    const body = { name: 'replayed-client', scopes: ['customers:read'] }
    const first = await call(app, 'POST', '/v1/api-clients', { token: ADMIN_TOKEN, body, headers })
    const replay = await call(app, 'POST', '/v1/api-clients', { token: ADMIN_TOKEN, body, headers })
    t.ok(first.json().token)
    t.equal(replay.json().id, first.json().id)
    t.equal(replay.json().token, undefined)
    const stored = await database.prisma.idempotencyKey.findMany()
    t.notOk(JSON.stringify(stored).includes(first.json().token as string))
  })

  t.test('a malformed key is 400', async (t) => {
    const res = await call(app, 'POST', '/v1/customers', { token: ADMIN_TOKEN, body: { name: 'x' }, headers: { 'idempotency-key': 'x'.repeat(256) } })
    t.equal(res.statusCode, 400)
    t.equal(res.json().code, 'invalid_idempotency_key')
  })

  t.test('a concurrent duplicate is told to retry, never run twice', async (t) => {
    const headers = { 'idempotency-key': 'race' }
    const body = { awsAccountId: awsAccount() }
    const responses = await Promise.all(Array.from({ length: 10 }, () => call(app, 'POST', `/v1/customers/${customer.id}/external-ids`, { token: ADMIN_TOKEN, body, headers })))
    const statuses = responses.map((r) => r.statusCode)
    t.ok(statuses.every((s) => s === 201 || s === 409), statuses.join(','))
    const ids = new Set(responses.filter((r) => r.statusCode === 201).map((r) => r.json().id))
    t.equal(ids.size, 1, 'every 201 is the same external ID')
    for (const r of responses.filter((r) => r.statusCode === 409)) t.equal(r.json().code, 'idempotency_key_in_progress')
    t.equal(await database.prisma.externalId.count({ where: { awsAccountId: body.awsAccountId } }), 1)
  })

  t.test('expired keys are not replayed and are purged', async (t) => {
    const { createIdempotencyService } = await import('../../src/modules/idempotency/idempotency.service.js')
    const { createIdempotencyRepository } = await import('../../src/modules/idempotency/idempotency.repository.js')
    const headers = { 'idempotency-key': 'old-key' }
    const first = await call(app, 'POST', '/v1/customers', { token: ADMIN_TOKEN, body: { name: 'Old' }, headers })
    await database.prisma.idempotencyKey.updateMany({ where: { key: 'old-key' }, data: { expiresAt: new Date(Date.now() - 1000) } })
    const later = await call(app, 'POST', '/v1/customers', { token: ADMIN_TOKEN, body: { name: 'Old' }, headers })
    t.equal(later.statusCode, 201)
    t.not(later.json().id, first.json().id, 'an expired key runs the request again')
    await database.prisma.idempotencyKey.updateMany({ where: { key: 'old-key' }, data: { expiresAt: new Date(Date.now() - 1000) } })
    const service = createIdempotencyService({ prisma: database.prisma, idempotencyRepository: createIdempotencyRepository() })
    t.equal(await service.purgeExpired(), 1)
    t.equal(await database.prisma.idempotencyKey.count({ where: { key: 'old-key' } }), 0)
    t.ok(await database.prisma.idempotencyKey.count() > 0, 'live keys stay')
  })
})
