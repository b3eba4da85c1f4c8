// Customer lifecycle (suspend, resume, offboard) and the emergency stop (freeze): what they stop,
// that they stop it race-free against issuance in flight, that every replica sees them at once,
// and that the command line does the same as the API.
import t from 'tap'
import { ADMIN_TOKEN, buildTestApp, buildTestAppOn, call } from '../helpers/app.js'
import { interleavingOn } from '../helpers/interleaving.js'
import { roleArn, startTestAws } from '../helpers/aws.js'
import { awsAccount, createApiClient, createCustomer, mintExternalId, connectRole } from '../helpers/fixtures.js'
import { main } from '../../src/cli/main.js'
import { spawnDeputy } from '../helpers/process.js'

t.test('customer lifecycle and issuance freeze', async (t) => {
  const aws = await startTestAws(t)
  const { app, database, databaseUrl } = await buildTestApp(t, aws.env)
  const worker = await createApiClient(app, ['credentials:issue'])

  const { sql, sleeping, slowAudit } = interleavingOn(databaseUrl)
  const connect = async (owner: string) => connectRole(app, aws.emulator, owner)
  const issue = (connectionId: string, on = app) =>
    call(on, 'POST', `/v1/connections/${connectionId}/credentials`, { token: worker.token, body: { purpose: 'lifecycle test' } })
  const post = (url: string, body: Record<string, unknown> = {}, token = ADMIN_TOKEN, on = app) => call(on, 'POST', url, { token, body })
  const suspend = (id: string, token = ADMIN_TOKEN) => post(`/v1/customers/${id}/suspend`, { reason: 'unpaid invoice' }, token)
  const resume = (id: string, token = ADMIN_TOKEN) => post(`/v1/customers/${id}/resume`, {}, token)
  const offboard = (id: string, token = ADMIN_TOKEN) => post(`/v1/customers/${id}/offboard`, { reason: 'contract ended' }, token)
  const assumeRoleCalls = () => aws.emulator.calls().filter((c) => c.action === 'AssumeRole').length

  t.test('suspend stops issuance, probing and registration; resume restarts them; both audited, 409 when repeated', async (t) => {
    const customer = await createCustomer(app)
    const { connection } = await connect(customer.id)
    const spare = await mintExternalId(app, customer.id, awsAccount())
    const res = await suspend(customer.id)
    t.equal(res.statusCode, 200)
    t.equal(res.json().status, 'suspended')
    const again = await suspend(customer.id)
    t.equal(again.statusCode, 409)
    t.equal(again.json().code, 'customer_already_suspended')
    const calls = assumeRoleCalls()
    const refused = await issue(connection.id)
    t.equal(refused.statusCode, 409)
    t.match(refused.json().detail, /is suspended/)
    const verify = await post(`/v1/connections/${connection.id}/verify`)
    t.equal(verify.statusCode, 409)
    t.equal(verify.json().code, 'customer_not_active')
    const register = await post(`/v1/customers/${customer.id}/connections`, { externalIdId: spare.id, roleArn: roleArn(spare.awsAccountId) })
    t.equal(register.statusCode, 409)
    t.equal(register.json().code, 'customer_not_active')
    t.equal(assumeRoleCalls(), calls, 'STS was not called for a suspended customer')

    const resumed = await resume(customer.id)
    t.equal(resumed.statusCode, 200)
    t.equal(resumed.json().status, 'active')
    const resumedAgain = await resume(customer.id)
    t.equal(resumedAgain.statusCode, 409)
    t.equal(resumedAgain.json().code, 'customer_not_suspended')
    t.equal((await issue(connection.id)).statusCode, 201, 'issuance restarts')
    const events = await database.prisma.auditEvent.findMany({ where: { resourceId: customer.id, action: { in: ['customer.suspended', 'customer.resumed'] } }, orderBy: { seq: 'asc' } })
    t.match(events, [{ action: 'customer.suspended', details: { reason: 'unpaid invoice', from: 'active', to: 'suspended' } }, { action: 'customer.resumed', details: { from: 'suspended', to: 'active' } }])
  })

  t.test('a bound client may suspend and resume its own customer, gets 404 for another, and may not offboard (403: it cannot hold customers:offboard)', async (t) => {
    const own = await createCustomer(app)
    const other = await createCustomer(app)
    const bound = await createApiClient(app, ['customers:write'], own.id)
    t.equal((await suspend(other.id, bound.token)).statusCode, 404)
    t.equal((await suspend(own.id, bound.token)).statusCode, 200)
    t.equal((await resume(own.id, bound.token)).statusCode, 200)
    const refused = await offboard(own.id, bound.token)
    t.equal(refused.statusCode, 403)
    t.equal(refused.json().code, 'insufficient_scope')
    t.equal((await database.prisma.customer.findUniqueOrThrow({ where: { id: own.id } })).status, 'active')
    t.match(await database.prisma.auditEvent.findFirstOrThrow({ where: { action: 'auth.forbidden', actorClientId: bound.id }, orderBy: { seq: 'desc' } }), { details: { requiredScope: 'customers:offboard' } })
  })

  t.test('suspension waits for an issuance whose audit insert is under way: issued strictly before suspended', async (t) => {
    const customer = await createCustomer(app)
    const { connection } = await connect(customer.id)
    await slowAudit(t, 'credentials.issued')
    const finished: string[] = []
    const issuing = issue(connection.id).then((res) => { finished.push('issue'); return res })
    t.ok(await sleeping(), 'the issuing transaction holds its share lock')
    const suspending = suspend(customer.id).then((res) => { finished.push('suspend'); return res })
    const [issued, suspended] = await Promise.all([issuing, suspending])
    t.equal(issued.statusCode, 201)
    t.equal(suspended.statusCode, 200)
    t.same(finished, ['issue', 'suspend'], 'the suspension waited for the issuance to commit')
  })

  t.test('an issuance that reaches its lock while a suspension commits sees the suspension', async (t) => {
    const customer = await createCustomer(app)
    const { connection } = await connect(customer.id)
    await slowAudit(t, 'customer.suspended')
    const suspending = suspend(customer.id)
    t.ok(await sleeping(), 'the suspension holds the connection rows, inside its audit insert')
    const issued = await issue(connection.id)
    t.equal((await suspending).statusCode, 200)
    t.equal(issued.statusCode, 409, 'refused')
    t.match(issued.json().detail, /is suspended/)
    t.equal(await database.prisma.auditEvent.count({ where: { action: 'credentials.issued', resourceId: connection.id } }), 0, 'no credentials.issued event')
    t.match(await database.prisma.auditEvent.findFirstOrThrow({ where: { action: 'credentials.denied', resourceId: connection.id }, orderBy: { seq: 'desc' } }), { details: { reason: 'revoked_during_issuance', accessKeyId: /^ASIA/ } })
  })

  t.test('offboard: every connection revoked, every external ID retired, customer offboarded for good, in one audited transaction', async (t) => {
    const customer = await createCustomer(app)
    const first = await connect(customer.id)
    const second = await connect(customer.id)
    const unconnected = await mintExternalId(app, customer.id, awsAccount())
    const issued = await issue(first.connection.id)
    t.equal(issued.statusCode, 201)
    const res = await offboard(customer.id)
    t.equal(res.statusCode, 200, res.statusCode === 200 ? 'offboarded' : res.body)
    const body = res.json<{ customer: { status: string }, revokedConnections: Array<{ id: string, status: string }>, retiredExternalIds: Array<{ id: string, status: string }>, impact: { outstandingCredentialsExpireAt: string | null, customerDenyPolicy: unknown, tookMs: number } }>()
    t.equal(body.customer.status, 'offboarded')
    t.same(body.revokedConnections.map((c) => c.id).sort(), [first.connection.id, second.connection.id].sort())
    t.ok(body.revokedConnections.every((c) => c.status === 'revoked'))
    t.same(body.retiredExternalIds.map((e) => e.id).sort(), [first.externalId.id, second.externalId.id, unconnected.id].sort())
    t.ok(body.retiredExternalIds.every((e) => e.status === 'retired'))
    t.equal(body.impact.outstandingCredentialsExpireAt, issued.json<{ credentials: { expiration: string } }>().credentials.expiration)
    t.comment(`offboarding tookMs=${body.impact.tookMs}`)
    const requestId = res.headers['x-request-id']
    const events = await database.prisma.auditEvent.findMany({ where: { requestId: String(requestId) }, orderBy: { seq: 'asc' } })
    t.same(events.map((e) => e.action).sort(), ['connection.revoked', 'connection.revoked', 'customer.offboarded', 'external_id.retired', 'external_id.retired', 'external_id.retired'])
    t.match(events.find((e) => e.action === 'customer.offboarded'), { details: { reason: 'contract ended', tookMs: body.impact.tookMs } })
    t.equal(await database.prisma.connection.count({ where: { customerId: customer.id } }), 2, 'records kept')
    t.equal(await database.prisma.externalId.count({ where: { customerId: customer.id } }), 3, 'records kept')

    for (const [label, res] of [['offboard again', await offboard(customer.id)], ['suspend', await suspend(customer.id)], ['resume', await resume(customer.id)]] as const) {
      t.equal(res.statusCode, 409, label)
      t.equal(res.json().code, 'customer_offboarded', label)
    }
    t.equal((await post(`/v1/customers/${customer.id}/external-ids`, { awsAccountId: awsAccount() })).json().code, 'customer_not_active', 'nothing is minted for it')
    await t.rejects(sql("UPDATE customers SET status = 'active' WHERE id = $1", [customer.id]), /offboarding is final/, 'the database refuses the way back')
  })

  t.test('freeze on one replica stops issuance on another at once; readyz (the flag, not the reason) and the gauge say so; unfreeze restarts it', async (t) => {
    const second = await buildTestAppOn(t, databaseUrl, aws.env)
    const customer = await createCustomer(app)
    const { connection } = await connect(customer.id)
    t.equal((await issue(connection.id, second.app)).statusCode, 201, 'issues before the freeze')
    const frozen = await post('/v1/admin/freeze', { reason: 'leaked vendor key' })
    t.equal(frozen.statusCode, 200)
    t.match(frozen.json(), { frozen: true, reason: 'leaked vendor key' })
    const twice = await post('/v1/admin/freeze', { reason: 'again' })
    t.equal(twice.statusCode, 409)
    t.equal(twice.json().code, 'issuance_already_frozen')

    const calls = assumeRoleCalls()
    const refused = await issue(connection.id, second.app)
    t.equal(refused.statusCode, 503)
    t.equal(refused.json().code, 'issuance_frozen')
    t.ok(Number(refused.headers['retry-after']) > 0, 'with Retry-After')
    t.equal(assumeRoleCalls(), calls, 'STS was not asked')
    t.match(await database.prisma.auditEvent.findFirstOrThrow({ where: { action: 'credentials.denied', resourceId: connection.id }, orderBy: { seq: 'desc' } }), { details: { reason: 'issuance_frozen' } })
    const ready = await call(second.app, 'GET', '/readyz')
    t.equal(ready.statusCode, 200, 'still ready: deputy is healthy, it refuses to issue')
    t.same(ready.json(), { status: 'ok', issuanceFrozen: true }, 'the flag only')
    t.notMatch(ready.body, /leaked vendor key/, 'the reason (incident text) is not shown to unauthenticated callers')
    t.match(refused.json().detail, /leaked vendor key/, 'the client refused issuance is told why')
    t.match(await second.app.metrics.registry.getSingleMetricAsString('deputy_issuance_frozen'), /deputy_issuance_frozen 1$/m, 'the gauge on the other replica')

    const unfrozen = await post('/v1/admin/unfreeze', {}, ADMIN_TOKEN, second.app)
    t.equal(unfrozen.statusCode, 200)
    t.equal(unfrozen.json().frozen, false)
    t.equal((await post('/v1/admin/unfreeze')).json().code, 'issuance_not_frozen')
    t.same((await call(app, 'GET', '/readyz')).json(), { status: 'ok' })
    t.match(await app.metrics.registry.getSingleMetricAsString('deputy_issuance_frozen'), /deputy_issuance_frozen 0$/m)
    t.equal((await issue(connection.id)).statusCode, 201, 'issues again')
    const events = await database.prisma.auditEvent.findMany({ where: { action: { in: ['issuance.frozen', 'issuance.unfrozen'] } }, orderBy: { seq: 'asc' } })
    t.match(events, [{ action: 'issuance.frozen', details: { reason: 'leaked vendor key' } }, { action: 'issuance.unfrozen' }])
  })

  t.test('a freeze that commits while STS is answering: no credentials leave, the dropped session is audited', async (t) => {
    const customer = await createCustomer(app)
    const { connection } = await connect(customer.id)
    aws.emulator.injectFault({ kind: 'latency', action: 'AssumeRole', count: 1, latencyMs: 500 })
    const issuing = issue(connection.id)
    await new Promise((resolve) => setTimeout(resolve, 150))
    t.equal((await post('/v1/admin/freeze', { reason: 'incident' })).statusCode, 200)
    const res = await issuing
    t.equal(res.statusCode, 503)
    t.equal(res.json().code, 'issuance_frozen')
    t.notOk(res.body.includes('secretAccessKey'))
    t.match(await database.prisma.auditEvent.findFirstOrThrow({ where: { action: 'credentials.denied', resourceId: connection.id }, orderBy: { seq: 'desc' } }), { details: { reason: 'issuance_frozen', accessKeyId: /^ASIA/ } })
    t.equal(await database.prisma.auditEvent.count({ where: { action: 'credentials.issued', resourceId: connection.id } }), 0)
    t.equal((await post('/v1/admin/unfreeze')).statusCode, 200)
  })

  t.test('the deputy command: freeze, unfreeze, customers suspend/resume/offboard and connections revoke, audited like the API', async (t) => {
    const customer = await createCustomer(app)
    const { connection } = await connect(customer.id)
    const env = { DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' }
    // The real command in a process for the verbs whose output is checked; the other calls go
    // through the same main() in this process (a process start costs seconds on these machines).
    const run = async (args: string[]) => {
      const deputy = spawnDeputy(args, env)
      const { code } = await deputy.exit
      return { code, output: deputy.output() }
    }
    Object.assign(process.env, env)
    const inProcess = async (args: string[]) => main(args)
    const freeze = await run(['freeze', '--reason', 'from the command line'])
    t.equal(freeze.code, 0, freeze.output)
    t.match(JSON.parse(freeze.output), { frozen: true, reason: 'from the command line', changedBy: null })
    t.equal((await issue(connection.id)).json().code, 'issuance_frozen', 'the running app sees the freeze')
    t.equal(await inProcess(['freeze', '--reason', 'twice']), 1, 'already frozen: exit 1')
    t.equal(await inProcess(['unfreeze']), 0)
    t.equal(await inProcess(['freeze']), 2, 'no reason: usage error')

    t.equal(await inProcess(['customers', 'suspend', customer.id, '--reason', 'cli']), 0)
    t.equal((await database.prisma.customer.findUniqueOrThrow({ where: { id: customer.id } })).status, 'suspended')
    t.equal(await inProcess(['customers', 'resume', customer.id]), 0)
    const revoked = await run(['connections', 'revoke', connection.id, '--reason', 'cli'])
    t.equal(revoked.code, 0, revoked.output)
    t.match(JSON.parse(revoked.output), { id: connection.id, status: 'revoked', impact: { customerDenyPolicy: { Version: '2012-10-17' } } })
    const off = await run(['customers', 'offboard', customer.id, '--reason', 'cli'])
    t.equal(off.code, 0, off.output)
    t.equal(JSON.parse(off.output).customer.status, 'offboarded')
    t.equal(await inProcess(['customers', 'offboard', 'not-a-uuid', '--reason', 'cli']), 2)
    const events = await database.prisma.auditEvent.findMany({ where: { actorClientId: null, action: { in: ['issuance.frozen', 'issuance.unfrozen', 'customer.suspended', 'customer.resumed', 'connection.revoked', 'customer.offboarded'] }, OR: [{ customerId: customer.id }, { customerId: null }] }, orderBy: { seq: 'asc' } })
    t.same(events.map((e) => e.action), ['issuance.frozen', 'issuance.unfrozen', 'customer.suspended', 'customer.resumed', 'connection.revoked', 'customer.offboarded'])
  })
})
