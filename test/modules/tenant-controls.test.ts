// Controls a tenant cannot undo: a suspension records who imposed it, and a client bound to the
// customer lifts only its tenant's own; offboarding revokes every client bound to the customer in
// its transaction; and offboarding, being final, needs the customers:offboard scope (or admin),
// not customers:write. Everything through the API.
import t from 'tap'
import { ADMIN_TOKEN, buildTestApp, call } from '../helpers/app.js'
import { createApiClient, createCustomer } from '../helpers/fixtures.js'

t.test('tenant controls', async (t) => {
  const { app, database } = await buildTestApp(t)
  const post = (url: string, body: Record<string, unknown>, token: string) => call(app, 'POST', url, { token, body })
  const suspend = (id: string, token = ADMIN_TOKEN) => post(`/v1/customers/${id}/suspend`, { reason: 'unpaid invoice' }, token)
  const resume = (id: string, token = ADMIN_TOKEN) => post(`/v1/customers/${id}/resume`, {}, token)
  const offboard = (id: string, token = ADMIN_TOKEN) => post(`/v1/customers/${id}/offboard`, { reason: 'contract ended' }, token)
  const customerRow = (id: string) => database.prisma.customer.findUniqueOrThrow({ where: { id } })
  const lastEvent = (where: Record<string, unknown>) => database.prisma.auditEvent.findFirstOrThrow({ where, orderBy: { seq: 'desc' } })

  t.test('a bound client cannot lift the vendor\'s suspension: 403 suspension_imposed_by_vendor, audited, nothing changes', async (t) => {
    const customer = await createCustomer(app)
    const tenant = await createApiClient(app, ['customers:read', 'customers:write'], customer.id)
    const suspended = await suspend(customer.id)
    t.equal(suspended.statusCode, 200)
    t.equal(suspended.json().suspendedBy, 'vendor')
    t.match(await lastEvent({ action: 'customer.suspended', resourceId: customer.id }), { details: { suspendedBy: 'vendor' } })

    const before = await database.prisma.auditEvent.count({ where: { customerId: customer.id, action: { not: 'auth.forbidden' } } })
    const refused = await resume(customer.id, tenant.token)
    t.equal(refused.statusCode, 403)
    t.equal(refused.headers['content-type'], 'application/problem+json; charset=utf-8')
    t.match(refused.json(), { status: 403, code: 'suspension_imposed_by_vendor', detail: /suspended by the vendor, not by this tenant/ })
    t.match(await customerRow(customer.id), { status: 'suspended', suspendedBy: 'vendor' }, 'still suspended by the vendor')
    t.match(await lastEvent({ action: 'auth.forbidden', actorClientId: tenant.id }), { customerId: customer.id, resourceId: customer.id, details: { reason: 'suspension_imposed_by_vendor', operation: 'resume' } })
    t.equal(await database.prisma.auditEvent.count({ where: { customerId: customer.id, action: { not: 'auth.forbidden' } } }), before, 'no other event')
    const seen = await call(app, 'GET', `/v1/customers/${customer.id}`, { token: tenant.token })
    t.match(seen.json(), { status: 'suspended', suspendedBy: 'vendor' }, 'the tenant sees who suspended it')

    const lifted = await resume(customer.id)
    t.equal(lifted.statusCode, 200, 'the vendor lifts its own suspension')
    t.match(lifted.json(), { status: 'active', suspendedBy: null })
  })

  t.test('a suspension the tenant imposed: lifted by the same client, another client of the tenant, or the vendor', async (t) => {
    const customer = await createCustomer(app)
    const first = await createApiClient(app, ['customers:write'], customer.id)
    const second = await createApiClient(app, ['customers:write'], customer.id)
    const bySelf = await suspend(customer.id, first.token)
    t.equal(bySelf.statusCode, 200)
    t.equal(bySelf.json().suspendedBy, 'tenant')
    t.match(await lastEvent({ action: 'customer.suspended', resourceId: customer.id }), { actorClientId: first.id, details: { suspendedBy: 'tenant' } })
    t.equal((await resume(customer.id, first.token)).statusCode, 200, 'by the client that imposed it')
    t.equal((await suspend(customer.id, first.token)).statusCode, 200)
    t.equal((await resume(customer.id, second.token)).statusCode, 200, 'by another client of the same tenant')
    t.equal((await suspend(customer.id, first.token)).statusCode, 200)
    t.equal((await resume(customer.id)).statusCode, 200, 'by the vendor')
    t.match(await customerRow(customer.id), { status: 'active', suspendedBy: null })
  })

  t.test('the vendor suspending a customer its tenant suspended takes the suspension over; the tenant can no longer lift it', async (t) => {
    const customer = await createCustomer(app)
    const tenant = await createApiClient(app, ['customers:write'], customer.id)
    t.equal((await suspend(customer.id, tenant.token)).statusCode, 200)
    const taken = await suspend(customer.id)
    t.equal(taken.statusCode, 200)
    t.match(taken.json(), { status: 'suspended', suspendedBy: 'vendor' })
    t.match(await lastEvent({ action: 'customer.suspended', resourceId: customer.id }), { details: { from: 'suspended', to: 'suspended', suspendedBy: 'vendor', previouslySuspendedBy: 'tenant' } })
    t.equal((await resume(customer.id, tenant.token)).json().code, 'suspension_imposed_by_vendor')
    t.equal((await suspend(customer.id)).json().code, 'customer_already_suspended', 'suspending again is still a 409')
    t.equal((await suspend(customer.id, tenant.token)).json().code, 'customer_already_suspended', 'and the tenant cannot take it back')
    t.match(await customerRow(customer.id), { status: 'suspended', suspendedBy: 'vendor' })
  })

  t.test('offboarding revokes every client bound to the customer, in its transaction, audited; their tokens stop at once', async (t) => {
    const customer = await createCustomer(app)
    const other = await createCustomer(app)
    const reader = await createApiClient(app, ['audit:read', 'customers:read'], customer.id)
    const writer = await createApiClient(app, ['customers:write'], customer.id)
    const otherTenant = await createApiClient(app, ['audit:read'], other.id)
    t.equal((await call(app, 'GET', '/v1/audit-events', { token: reader.token })).statusCode, 200, 'the tenant reads its trail before')
    t.equal((await post(`/v1/api-clients/${writer.id}/revoke`, {}, ADMIN_TOKEN)).statusCode, 200, 'one already revoked')

    const res = await offboard(customer.id)
    t.equal(res.statusCode, 200)
    const body = res.json<{ revokedApiClients: Array<{ id: string, revokedAt: string | null }> }>()
    t.same(body.revokedApiClients.map((c) => c.id), [reader.id], 'the live bound client, not the revoked one nor another tenant\'s')
    t.ok(body.revokedApiClients.every((c) => c.revokedAt !== null))
    const events = await database.prisma.auditEvent.findMany({ where: { requestId: String(res.headers['x-request-id']), action: { in: ['api_client.revoked', 'customer.offboarded'] } }, orderBy: { seq: 'asc' } })
    t.match(events, [
      { action: 'api_client.revoked', resourceType: 'api_client', resourceId: reader.id, customerId: customer.id, details: { reason: 'customer_offboarded' } },
      { action: 'customer.offboarded', details: { revokedApiClients: [reader.id] } }
    ])
    t.equal(await database.prisma.auditEvent.count({ where: { action: 'api_client.revoked', resourceId: writer.id } }), 1, 'the revoked client is not revoked twice')

    const after = await call(app, 'GET', '/v1/audit-events', { token: reader.token })
    t.equal(after.statusCode, 401, 'the tenant\'s token no longer reads the trail')
    t.equal(after.json().code, 'unauthorized')
    t.equal((await call(app, 'GET', '/v1/audit-events', { token: otherTenant.token })).statusCode, 200, 'another tenant\'s client is untouched')
  })

  t.test('offboarding needs customers:offboard (or admin): customers:write alone is 403 insufficient_scope', async (t) => {
    const customer = await createCustomer(app)
    const writer = await createApiClient(app, ['customers:write'])
    const refused = await offboard(customer.id, writer.token)
    t.equal(refused.statusCode, 403)
    t.match(refused.json(), { code: 'insufficient_scope', requiredScope: 'customers:offboard' })
    t.equal((await customerRow(customer.id)).status, 'active')
    const offboarder = await createApiClient(app, ['customers:offboard'])
    const done = await offboard(customer.id, offboarder.token)
    t.equal(done.statusCode, 200)
    t.equal(done.json().customer.status, 'offboarded')
    t.equal((await suspend(customer.id, offboarder.token)).statusCode, 403, 'customers:offboard does not imply customers:write')

    const bound = await call(app, 'POST', '/v1/api-clients', { token: ADMIN_TOKEN, body: { name: 'tenant offboarder', scopes: ['customers:offboard'], customerId: customer.id } })
    t.equal(bound.statusCode, 400, 'a bound client cannot hold it')
    t.equal(bound.json().code, 'admin_cannot_be_bound')
  })
})
