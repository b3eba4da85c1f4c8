// The external-ID registry over HTTP: auth, scopes, tenant isolation, validation, minting,
// retiring, immutability, the audit rows each change writes, and the 50-way mint race.
import t from 'tap'
import { ADMIN_TOKEN, buildTestApp, call } from '../helpers/app.js'
import { awsAccount, createApiClient, createCustomer, mintExternalId } from '../helpers/fixtures.js'

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

t.test('external IDs', async (t) => {
  const { app, database } = await buildTestApp(t)
  const acme = await createCustomer(app, { name: 'Acme' })
  const globex = await createCustomer(app, { name: 'Globex' })

  t.test('mint gives a random v4 UUID, active, and writes external_id.minted in the same request', async (t) => {
    const account = awsAccount()
    const res = await call(app, 'POST', `/v1/customers/${acme.id}/external-ids`, { token: ADMIN_TOKEN, body: { awsAccountId: account }, headers: { 'x-request-id': 'mint-req-1' } })
    t.equal(res.statusCode, 201)
    const body = res.json()
    t.match(body, { customerId: acme.id, awsAccountId: account, status: 'active', retiredAt: null })
    t.match(body.externalId, UUID_V4)
    t.not(body.externalId, body.id, 'the value is not the record id')
    const events = await database.prisma.auditEvent.findMany({ where: { resourceId: body.id } })
    t.equal(events.length, 1)
    t.match(events[0], { action: 'external_id.minted', outcome: 'success', customerId: acme.id, requestId: 'mint-req-1', resourceType: 'external_id' })
  })

  t.test('a second mint for the same customer and account is 409 naming the existing ID', async (t) => {
    const account = awsAccount()
    const first = await mintExternalId(app, acme.id, account)
    const res = await call(app, 'POST', `/v1/customers/${acme.id}/external-ids`, { token: ADMIN_TOKEN, body: { awsAccountId: account } })
    t.equal(res.statusCode, 409)
    t.match(res.json(), { code: 'external_id_exists', existingExternalIdId: first.id, status: 409, type: 'urn:deputy:problem:external_id_exists' })
    t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
    t.equal(await database.prisma.externalId.count({ where: { customerId: acme.id, awsAccountId: account } }), 1, 'nothing new written')
    t.equal(await database.prisma.auditEvent.count({ where: { action: 'external_id.mint_refused', resourceId: first.id } }), 1, 'the refusal is audited')
  })

  t.test('two customers may hold the same AWS account, each with its own value', async (t) => {
    const account = awsAccount()
    const a = await mintExternalId(app, acme.id, account)
    const b = await mintExternalId(app, globex.id, account)
    t.not(a.externalId, b.externalId)
  })

  t.test('retire, then mint again gives a new value; the old one stays retired', async (t) => {
    const account = awsAccount()
    const first = await mintExternalId(app, acme.id, account)
    const retired = await call(app, 'POST', `/v1/external-ids/${first.id}/retire`, { token: ADMIN_TOKEN, body: { reason: 'customer rotated the role' } })
    t.equal(retired.statusCode, 200)
    t.match(retired.json(), { status: 'retired', retireReason: 'customer rotated the role', externalId: first.externalId })
    t.ok(Date.parse(retired.json().retiredAt))
    const again = await call(app, 'POST', `/v1/external-ids/${first.id}/retire`, { token: ADMIN_TOKEN, body: { reason: 'twice' } })
    t.equal(again.statusCode, 409)
    t.equal(again.json().code, 'external_id_already_retired')
    const second = await mintExternalId(app, acme.id, account)
    t.not(second.externalId, first.externalId)
    const audit = await database.prisma.auditEvent.findFirst({ where: { action: 'external_id.retired', resourceId: first.id } })
    t.match(audit?.details, { reason: 'customer rotated the role', awsAccountId: account })
  })

  t.test('list and get', async (t) => {
    const customer = await createCustomer(app)
    const accounts = [awsAccount(), awsAccount(), awsAccount()]
    const minted = []
    for (const account of accounts) minted.push(await mintExternalId(app, customer.id, account))
    const page1 = await call(app, 'GET', `/v1/customers/${customer.id}/external-ids?limit=2`, { token: ADMIN_TOKEN })
    t.equal(page1.statusCode, 200)
    t.same(page1.json().items.map((i: { id: string }) => i.id), minted.slice(0, 2).map((m) => m.id))
    const page2 = await call(app, 'GET', `/v1/customers/${customer.id}/external-ids?limit=2&cursor=${page1.json().nextCursor as string}`, { token: ADMIN_TOKEN })
    t.same(page2.json().items.map((i: { id: string }) => i.id), [minted[2]?.id])
    t.equal(page2.json().nextCursor, null)
    const filtered = await call(app, 'GET', `/v1/customers/${customer.id}/external-ids?awsAccountId=${accounts[1] ?? ''}`, { token: ADMIN_TOKEN })
    t.same(filtered.json().items.map((i: { id: string }) => i.id), [minted[1]?.id])
    const got = await call(app, 'GET', `/v1/external-ids/${minted[0]?.id ?? ''}`, { token: ADMIN_TOKEN })
    t.same(got.json(), minted[0])
    const bad = await call(app, 'GET', `/v1/customers/${customer.id}/external-ids?cursor=garbage`, { token: ADMIN_TOKEN })
    t.equal(bad.statusCode, 400)
    t.equal(bad.json().code, 'invalid_cursor')
  })

  t.test('bad input is a 400 problem listing each error, and writes nothing', async (t) => {
    const before = await database.prisma.externalId.count()
    const auditBefore = await database.prisma.auditEvent.count()
    for (const body of [{ awsAccountId: '12345' }, { awsAccountId: '12345678901a' }, {}, { awsAccountId: '123456789012', extra: true }]) {
      const res = await call(app, 'POST', `/v1/customers/${acme.id}/external-ids`, { token: ADMIN_TOKEN, body })
      t.equal(res.statusCode, 400, JSON.stringify(body))
      t.equal(res.json().code, 'validation_failed')
      t.ok(res.json().errors.length >= 1)
    }
    const unknownField = await call(app, 'POST', `/v1/customers/${acme.id}/external-ids`, { token: ADMIN_TOKEN, body: { awsAccountId: '123456789012', extra: true } })
    t.match(unknownField.json().errors, [{ in: 'body', pointer: '/extra', detail: 'unknown field' }])
    const badId = await call(app, 'GET', '/v1/external-ids/not-a-uuid', { token: ADMIN_TOKEN })
    t.equal(badId.statusCode, 400)
    t.equal(await database.prisma.externalId.count(), before)
    t.equal(await database.prisma.auditEvent.count(), auditBefore)
  })

  t.test('there is no update path: PUT, PATCH and DELETE answer 405', async (t) => {
    const id = (await mintExternalId(app, acme.id, awsAccount())).id
    for (const method of ['PUT', 'PATCH', 'DELETE'] as const) {
      const res = await call(app, method, `/v1/external-ids/${id}`, { token: ADMIN_TOKEN, body: { externalId: '00000000-0000-4000-8000-000000000000' } })
      t.equal(res.statusCode, 405, method)
      t.equal(res.json().code, 'external_id_immutable')
      t.equal(res.headers.allow, 'GET')
    }
  })

  t.test('authentication and scopes', async (t) => {
    const readOnly = await createApiClient(app, ['external-ids:read'])
    const noToken = await call(app, 'POST', `/v1/customers/${acme.id}/external-ids`, { body: { awsAccountId: awsAccount() } })
    t.equal(noToken.statusCode, 401)
    t.equal(noToken.headers['www-authenticate'], 'Bearer realm="deputy"')
    const wrongToken = await call(app, 'GET', `/v1/external-ids/${acme.id}`, { token: 'dpt_nope' })
    t.equal(wrongToken.statusCode, 401)
    const noScope = await call(app, 'POST', `/v1/customers/${acme.id}/external-ids`, { token: readOnly.token, body: { awsAccountId: awsAccount() } })
    t.equal(noScope.statusCode, 403)
    t.match(noScope.json(), { code: 'insufficient_scope', requiredScope: 'external-ids:write' })
    const retireNoScope = await call(app, 'POST', `/v1/external-ids/${acme.id}/retire`, { token: readOnly.token, body: { reason: 'nope' } })
    t.equal(retireNoScope.statusCode, 403)
    const denied = await database.prisma.auditEvent.findFirst({ where: { action: 'auth.forbidden', actorClientId: readOnly.id } })
    t.match(denied, { outcome: 'denied', details: { requiredScope: 'external-ids:write' } })
  })

  t.test('a client bound to one customer sees nothing of another (404, never 403)', async (t) => {
    const globexId = await mintExternalId(app, globex.id, awsAccount())
    const acmeClient = await createApiClient(app, ['external-ids:read', 'external-ids:write'], acme.id)
    const own = await call(app, 'POST', `/v1/customers/${acme.id}/external-ids`, { token: acmeClient.token, body: { awsAccountId: awsAccount() } })
    t.equal(own.statusCode, 201, 'its own customer works')
    const checks = [
      await call(app, 'POST', `/v1/customers/${globex.id}/external-ids`, { token: acmeClient.token, body: { awsAccountId: awsAccount() } }),
      await call(app, 'GET', `/v1/customers/${globex.id}/external-ids`, { token: acmeClient.token }),
      await call(app, 'GET', `/v1/external-ids/${globexId.id}`, { token: acmeClient.token }),
      await call(app, 'POST', `/v1/external-ids/${globexId.id}/retire`, { token: acmeClient.token, body: { reason: 'hostile' } })
    ]
    for (const res of checks) {
      t.equal(res.statusCode, 404)
      t.equal(res.json().code, 'not_found')
    }
    const still = await call(app, 'GET', `/v1/external-ids/${globexId.id}`, { token: ADMIN_TOKEN })
    t.equal(still.json().status, 'active', 'the other customer\'s ID was not retired')
  })

  t.test('unknown customer is 404', async (t) => {
    const res = await call(app, 'POST', '/v1/customers/00000000-0000-4000-8000-000000000000/external-ids', { token: ADMIN_TOKEN, body: { awsAccountId: awsAccount() } })
    t.equal(res.statusCode, 404)
  })

  t.test('50 simultaneous mints for one customer and account: one 201, 49 409s, one active ID', async (t) => {
    const account = awsAccount()
    const responses = await Promise.all(Array.from({ length: 50 }, () =>
      call(app, 'POST', `/v1/customers/${acme.id}/external-ids`, { token: ADMIN_TOKEN, body: { awsAccountId: account } })))
    const statuses = responses.map((r) => r.statusCode)
    t.equal(statuses.filter((s) => s === 201).length, 1)
    t.equal(statuses.filter((s) => s === 409).length, 49)
    const winner = responses.find((r) => r.statusCode === 201)?.json().id
    for (const r of responses.filter((r) => r.statusCode === 409)) t.equal(r.json().existingExternalIdId, winner)
    t.equal(await database.prisma.externalId.count({ where: { customerId: acme.id, awsAccountId: account, status: 'active' } }), 1)
    // Every answer has its event, including the mints that raced past the single statement's
    // snapshot and were decided again under the account's lock.
    const events = await database.prisma.auditEvent.findMany({ where: { customerId: acme.id, action: { in: ['external_id.minted', 'external_id.mint_refused'] }, details: { path: ['awsAccountId'], equals: account } } })
    t.equal(events.filter((e) => e.action === 'external_id.minted').length, 1)
    t.same(events.filter((e) => e.action === 'external_id.mint_refused').map((e) => e.resourceId), Array(49).fill(winner), 'one mint_refused per 409, naming the winner')
  })
})
