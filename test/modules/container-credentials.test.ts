// GET /v1/connections/{id}/container-credentials: the AWS SDKs' container credential provider
// format, with the POST route's scope, tenant binding, checks, audit event and no-store; errors
// as {code, message, requestId} in application/json (test/clients/ runs real SDKs against it).
import t, { type Test } from 'tap'
import { ADMIN_TOKEN, buildTestApp, call } from '../helpers/app.js'
import { startTestAws } from '../helpers/aws.js'
import { connectRole, createApiClient, createCustomer } from '../helpers/fixtures.js'

const ERROR_KEYS = ['code', 'message', 'requestId']

t.test('container credentials', async (t) => {
  const aws = await startTestAws(t, { CREDENTIALS_MAX_DURATION_SECONDS: '1800' })
  const { app, database } = await buildTestApp(t, aws.env)
  const customer = await createCustomer(app)
  const other = await createCustomer(app)
  const worker = await createApiClient(app, ['credentials:issue'])
  const bound = await createApiClient(app, ['credentials:issue'], other.id)
  const reader = await createApiClient(app, ['connections:read'])
  const { connection, account } = await connectRole(app, aws.emulator, customer.id)
  const url = (id = connection.id, query = 'purpose=nightly%20inventory') => `/v1/connections/${id}/container-credentials?${query}`
  // The header exactly as the SDKs send it: AWS_CONTAINER_AUTHORIZATION_TOKEN's value, verbatim.
  const get = (target: string, authorization: string | null = `Bearer ${worker.token}`) =>
    app.inject({ method: 'GET', url: target, headers: { accept: 'application/json', ...(authorization === null ? {} : { authorization }) } })
  const expectError = (t: Test, res: Awaited<ReturnType<typeof get>>, status: number, code: string) => {
    t.equal(res.statusCode, status, res.body)
    t.match(res.headers['content-type'], /^application\/json/, 'plain JSON, not problem+json')
    t.same(Object.keys(res.json()).sort(), ERROR_KEYS)
    t.equal(res.json().code, code)
    t.equal(res.json().requestId, res.headers['x-request-id'])
    t.equal(res.headers['cache-control'], 'no-store', 'errors are never cached either')
  }

  t.test('answers the container provider format, audited, never cached; the credentials work', async (t) => {
    const res = await get(url(connection.id, 'purpose=nightly%20inventory&durationSeconds=1800'))
    t.equal(res.statusCode, 200, res.body)
    t.equal(res.headers['cache-control'], 'no-store')
    const body = res.json()
    t.same(Object.keys(body).sort(), ['AccessKeyId', 'AccountId', 'Expiration', 'SecretAccessKey', 'Token'])
    t.match(body.AccessKeyId, /^ASIA[A-Z0-9]{16}$/)
    t.equal(body.AccountId, account)
    const left = (Date.parse(body.Expiration) - Date.now()) / 1000
    t.ok(left > 1790 && left <= 1800, `durationSeconds from the query (${left} s left)`)
    const event = await database.prisma.auditEvent.findFirstOrThrow({ where: { action: 'credentials.issued', resourceId: connection.id }, orderBy: { seq: 'desc' } })
    t.match(event, { actorClientId: worker.id, customerId: customer.id, requestId: res.headers['x-request-id'] })
    t.match(event.details, { purpose: 'nightly inventory', durationSeconds: 1800, accessKeyId: body.AccessKeyId, expiration: body.Expiration })
    t.notOk(JSON.stringify(event.details).includes(body.SecretAccessKey), 'no secret in the audit event')

    const { STSClient, GetCallerIdentityCommand } = await import('@aws-sdk/client-sts')
    const who = await new STSClient({ region: 'us-east-1', credentials: { accessKeyId: body.AccessKeyId, secretAccessKey: body.SecretAccessKey, sessionToken: body.Token } }).send(new GetCallerIdentityCommand({}))
    t.match(who.Arn, new RegExp(`^arn:aws:sts::${account}:assumed-role/DeputyAccess/`))
  })

  t.test('401 without or with a wrong token, 403 without the scope: audited, {code, message}', async (t) => {
    expectError(t, await get(url(), null), 401, 'unauthorized')
    expectError(t, await get(url(), 'Bearer dpt_not-a-real-token-0123456789abcdefghijklmnop'), 401, 'unauthorized')
    expectError(t, await get(url(), worker.token), 401, 'unauthorized')
    const forbidden = await get(url(), `Bearer ${reader.token}`)
    expectError(t, forbidden, 403, 'insufficient_scope')
    const refusals = await database.prisma.auditEvent.count({ where: { action: { in: ['auth.failed', 'auth.forbidden'] }, requestId: forbidden.headers['x-request-id'] as string } })
    t.equal(refusals, 1, 'the 403 is audited')
  })

  t.test('400 for a bad query; the token is never read from the URL', async (t) => {
    expectError(t, await get(url(connection.id, 'purpose=x')), 400, 'validation_failed')
    expectError(t, await get(url(connection.id, '')), 400, 'validation_failed')
    expectError(t, await get(url(connection.id, 'purpose=inventory&durationSeconds=899')), 400, 'validation_failed')
    expectError(t, await get(url(connection.id, 'purpose=inventory&durationSeconds=3600')), 400, 'duration_exceeds_cap')
    expectError(t, await get(url(connection.id, `purpose=inventory&token=${worker.token}`), null), 401, 'unauthorized')
  })

  t.test('tenant binding: another customer\'s connection is 404, audited', async (t) => {
    const res = await get(url(), `Bearer ${bound.token}`)
    expectError(t, res, 404, 'not_found')
    const denied = await database.prisma.auditEvent.findFirstOrThrow({ where: { action: 'credentials.denied', requestId: res.headers['x-request-id'] as string } })
    t.match(denied, { customerId: other.id, actorClientId: bound.id })
  })

  t.test('frozen issuance and a revoked connection: refused with the reason, audited', async (t) => {
    const freeze = await call(app, 'POST', '/v1/admin/freeze', { token: ADMIN_TOKEN, body: { reason: 'incident 42' } })
    t.equal(freeze.statusCode, 200, freeze.body)
    const frozen = await get(url())
    expectError(t, frozen, 503, 'issuance_frozen')
    t.match(frozen.json().message, /incident 42/)
    t.equal(frozen.headers['retry-after'], '60')
    t.equal((await call(app, 'POST', '/v1/admin/unfreeze', { token: ADMIN_TOKEN, body: {} })).statusCode, 200)

    const revoked = await connectRole(app, aws.emulator, customer.id)
    t.equal((await call(app, 'POST', `/v1/connections/${revoked.connection.id}/revoke`, { token: ADMIN_TOKEN, body: { reason: 'customer left' } })).statusCode, 200)
    const res = await get(url(revoked.connection.id))
    expectError(t, res, 409, 'connection_not_active')
    t.match(res.json().message, /is revoked/)
    t.equal(await database.prisma.auditEvent.count({ where: { action: 'credentials.denied', resourceId: revoked.connection.id, requestId: res.headers['x-request-id'] as string } }), 1)
  })
})
