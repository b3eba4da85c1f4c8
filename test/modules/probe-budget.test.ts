// Probes call STS in a customer's account on demand, so they are rationed: a cooldown between
// two probes of one connection, and a budget of probes per customer per hour. Refusals are 429
// with Retry-After, audited, and make no STS call.
import t from 'tap'
import { ADMIN_TOKEN, buildTestApp, call } from '../helpers/app.js'
import { roleArn, secureTrust, startTestAws, stsCallsOf } from '../helpers/aws.js'
import { awsAccount, createCustomer, mintExternalId } from '../helpers/fixtures.js'

t.test('probe cooldown and per-customer budget', async (t) => {
  const aws = await startTestAws(t, { PROBE_COOLDOWN_MS: '30000', PROBE_BUDGET_PER_CUSTOMER_PER_HOUR: '3' })
  const { app, database } = await buildTestApp(t, aws.env)
  const stsCalls = () => stsCallsOf(aws.emulator)

  async function register (customerId: string) {
    const account = awsAccount()
    const externalId = await mintExternalId(app, customerId, account)
    aws.emulator.putRole({ arn: roleArn(account), trustPolicy: secureTrust(externalId.externalId) })
    return call(app, 'POST', `/v1/customers/${customerId}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: externalId.id, roleArn: roleArn(account) } })
  }

  const customer = await createCustomer(app)
  const first = await register(customer.id)
  t.equal(first.statusCode, 201)
  const connectionId = first.json<{ id: string }>().id

  t.test('a connection probed moments ago is not probed again', async (t) => {
    const before = stsCalls()
    const res = await call(app, 'POST', `/v1/connections/${connectionId}/verify`, { token: ADMIN_TOKEN })
    t.equal(res.statusCode, 429)
    t.equal(res.json().code, 'probe_cooldown')
    const retryAfter = Number(res.headers['retry-after'])
    t.ok(retryAfter > 25 && retryAfter <= 30, `Retry-After ${retryAfter} s`)
    t.equal(stsCalls(), before, 'no STS call')
    const refused = await database.prisma.auditEvent.findFirstOrThrow({ where: { action: 'connection.probe_refused', resourceId: connectionId } })
    t.match(refused, { outcome: 'denied', details: { reason: 'probe_cooldown' } })
  })

  t.test('concurrent verifications of one connection: one probe, the rest refused', async (t) => {
    const fresh = await createCustomer(app)
    const registered = await register(fresh.id)
    const id = registered.json<{ id: string }>().id
    // Age the registration's probe so the cooldown is over (a DBA's clock, not a sleep).
    await database.prisma.$executeRawUnsafe(`UPDATE connections SET verified_at = now() - interval '1 hour' WHERE id = '${id}'`)
    const before = aws.emulator.calls().filter((c) => c.action === 'AssumeRole').length
    const answers = await Promise.all(Array.from({ length: 6 }, () => call(app, 'POST', `/v1/connections/${id}/verify`, { token: ADMIN_TOKEN })))
    const statuses = answers.map((a) => a.statusCode).sort()
    t.same(statuses, [200, 429, 429, 429, 429, 429])
    t.equal(aws.emulator.calls().filter((c) => c.action === 'AssumeRole').length - before, 3, 'one probe: three AssumeRole calls')
  })

  t.test('a customer spends at most its budget of probes per hour, failed ones included', async (t) => {
    // One probe spent by the registration above; a failing registration spends one too.
    const account = awsAccount()
    const externalId = await mintExternalId(app, customer.id, account)
    const failing = await call(app, 'POST', `/v1/customers/${customer.id}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: externalId.id, roleArn: roleArn(account, 'Missing') } })
    t.equal(failing.statusCode, 422)
    t.equal((await register(customer.id)).statusCode, 201, 'the third probe of the hour')
    const before = stsCalls()
    const over = await register(customer.id)
    t.equal(over.statusCode, 429)
    t.equal(over.json().code, 'probe_budget_exhausted')
    const retryAfter = Number(over.headers['retry-after'])
    t.ok(retryAfter > 3500 && retryAfter <= 3600, `Retry-After ${retryAfter} s: when the oldest probe of the hour ages out`)
    t.equal(stsCalls(), before, 'no STS call')
    t.match(await database.prisma.auditEvent.findFirst({ where: { action: 'connection.probe_refused', customerId: customer.id, details: { path: ['reason'], equals: 'probe_budget_exhausted' } } }), { outcome: 'denied' })

    const other = await createCustomer(app)
    t.equal((await register(other.id)).statusCode, 201, 'another customer has its own budget')
  })
})
