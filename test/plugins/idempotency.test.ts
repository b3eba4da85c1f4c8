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

  t.test('a replay keeps Cache-Control: no-store (API-client creation), and every replay carries it', async (t) => {
    const headers = { 'idempotency-key': 'no-store-replay' }
    const body = { name: 'no-store-client', scopes: ['customers:read'] }
    const first = await call(app, 'POST', '/v1/api-clients', { token: ADMIN_TOKEN, body, headers })
    const replay = await call(app, 'POST', '/v1/api-clients', { token: ADMIN_TOKEN, body, headers })
    t.equal(first.headers['cache-control'], 'no-store')
    t.equal(replay.headers['idempotent-replayed'], 'true')
    t.equal(replay.headers['cache-control'], 'no-store', 'the replay is no more cacheable than the original')
    t.equal(replay.headers.pragma, 'no-cache')
    const customerHeaders = { 'idempotency-key': 'no-store-customer' }
    await call(app, 'POST', '/v1/customers', { token: ADMIN_TOKEN, body: { name: 'Replayed' }, headers: customerHeaders })
    const customerReplay = await call(app, 'POST', '/v1/customers', { token: ADMIN_TOKEN, body: { name: 'Replayed' }, headers: customerHeaders })
    t.equal(customerReplay.headers['idempotent-replayed'], 'true')
    t.equal(customerReplay.headers['cache-control'], 'no-store')
  })

  t.test('a pending claim is not stale after 60 s (a probe can take longer): a retry is told to wait; only after STALE_CLAIM_MS is it taken over', async (t) => {
    const { STALE_CLAIM_MS, requestFingerprint } = await import('../../src/modules/idempotency/idempotency.service.js')
    const admin = await database.prisma.apiClient.findFirstOrThrow({ where: { scopes: { has: 'admin' } } })
    const body = { name: 'Slow' }
    const requestHash = requestFingerprint('POST', '/v1/customers', body)
    const pendingSince = (ms: number, key: string) => database.prisma.idempotencyKey.create({
      data: { clientId: admin.id, key, requestHash, state: 'pending', createdAt: new Date(Date.now() - ms), expiresAt: new Date(Date.now() + 60_000) }
    })
    await pendingSince(5 * 60 * 1000, 'slow-probe')
    const retry = await call(app, 'POST', '/v1/customers', { token: ADMIN_TOKEN, body, headers: { 'idempotency-key': 'slow-probe' } })
    t.equal(retry.statusCode, 409, 'a claim 5 minutes old still belongs to a running request')
    t.equal(retry.json().code, 'idempotency_key_in_progress')
    await pendingSince(STALE_CLAIM_MS + 1000, 'dead-request')
    const takeover = await call(app, 'POST', '/v1/customers', { token: ADMIN_TOKEN, body, headers: { 'idempotency-key': 'dead-request' } })
    t.equal(takeover.statusCode, 201, 'a claim older than STALE_CLAIM_MS is taken over')
    const replay = await call(app, 'POST', '/v1/customers', { token: ADMIN_TOKEN, body, headers: { 'idempotency-key': 'dead-request' } })
    t.equal(replay.json().id, takeover.json().id)
  })

  t.test('a completion or release touches only its own claim: the first request\'s late answer does not land on the claim that took over', async (t) => {
    const { STALE_CLAIM_MS, createIdempotencyService } = await import('../../src/modules/idempotency/idempotency.service.js')
    const { createIdempotencyRepository } = await import('../../src/modules/idempotency/idempotency.repository.js')
    const admin = await database.prisma.apiClient.findFirstOrThrow({ where: { scopes: { has: 'admin' } } })
    let clock = Date.now()
    const service = createIdempotencyService({ prisma: database.prisma, idempotencyRepository: createIdempotencyRepository(), now: () => new Date(clock) })
    const first = await service.begin(admin.id, 'taken-over', 'hash')
    if (first.kind !== 'proceed') throw new Error(`expected proceed, got ${first.kind}`)
    clock += 61_000
    t.equal((await service.begin(admin.id, 'taken-over', 'hash')).kind, 'in_progress', '61 s later the first request still owns the key')
    clock += STALE_CLAIM_MS
    const second = await service.begin(admin.id, 'taken-over', 'hash')
    if (second.kind !== 'proceed') throw new Error(`expected proceed, got ${second.kind}`)
    t.ok(second.claim.createdAt > first.claim.createdAt)

    t.equal(await service.complete(first.claim, 201, { from: 'first' }), false, 'the first request\'s completion finds its claim gone')
    await service.release(first.claim)
    const row = await database.prisma.idempotencyKey.findUniqueOrThrow({ where: { clientId_key: { clientId: admin.id, key: 'taken-over' } } })
    t.match(row, { state: 'pending', response: null }, 'the second claim is untouched by both')
    t.equal(row.createdAt.getTime(), second.claim.createdAt.getTime())

    t.equal(await service.complete(second.claim, 201, { from: 'second' }), true)
    t.same(await service.begin(admin.id, 'taken-over', 'hash'), { kind: 'replay', statusCode: 201, body: { from: 'second' } })

    const third = await service.begin(admin.id, 'released', 'hash')
    if (third.kind !== 'proceed') throw new Error(`expected proceed, got ${third.kind}`)
    await service.release(third.claim)
    t.equal(await database.prisma.idempotencyKey.count({ where: { clientId: admin.id, key: 'released' } }), 0, 'a release drops its own claim')
  })

  t.test('STALE_CLAIM_MS exceeds the longest request at the largest configuration deputy accepts', async (t) => {
    const { STALE_CLAIM_MS } = await import('../../src/modules/idempotency/idempotency.service.js')
    const { loadConfig } = await import('../../src/config.js')
    const base = { VENDOR_PRINCIPAL_ARN: 'arn:aws:iam::111111111111:role/deputy' }
    const largest = { PROBE_PROPAGATION_WINDOW_MS: 300_000, STS_RETRY_BUDGET_MS: 60_000, STS_TIMEOUT_MS: 60_000 }
    for (const [name, value] of Object.entries(largest)) {
      t.throws(() => loadConfig({ ...base, [name]: String(value + 1) }), { name: 'ConfigError', variable: name }, `${name} cannot exceed ${value}`)
    }
    const aws = loadConfig({ ...base, ...Object.fromEntries(Object.entries(largest).map(([k, v]) => [k, String(v)])) }).aws
    if (aws === undefined) throw new Error('no AWS configuration')
    // The probe: call 1 retried for the propagation window, then up to four STS calls (the last
    // try of call 1, the identity check, calls 2 and 3), each within its retry budget plus a
    // last attempt of up to connect + answer timeouts.
    const longest = aws.probePropagationWindowMs + 4 * (aws.stsRetryBudgetMs + 2 * aws.stsTimeoutMs)
    t.equal(longest, 1_020_000)
    t.ok(STALE_CLAIM_MS > longest, `${STALE_CLAIM_MS} ms > ${longest} ms`)
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
