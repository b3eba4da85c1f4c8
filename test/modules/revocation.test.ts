// Revoking a connection: final, race-free against issuance (real interleavings in PostgreSQL),
// honest about the sessions it cannot recall (their expiration, and the deny policy that ends
// them, checked with deputy's own condition evaluator). Everything through the API and the STS
// emulator.
import t from 'tap'
import { evaluateCondition } from '../../src/iam/trust-policy-evaluator.js'
import { ADMIN_TOKEN, buildTestApp, call } from '../helpers/app.js'
import { interleavingOn } from '../helpers/interleaving.js'
import { roleArn, startTestAws } from '../helpers/aws.js'
import { createApiClient, createCustomer, connectRole } from '../helpers/fixtures.js'

interface Revoked {
  id: string
  status: string
  revokedAt: string
  impact: { outstandingCredentialsExpireAt: string | null, customerDenyPolicy: { Version: string, Statement: Array<{ Effect: string, Action: string, Resource: string, Condition: Record<string, Record<string, string>> }> }, tookMs: number }
}

t.test('connection revocation', async (t) => {
  const aws = await startTestAws(t)
  const { app, database, databaseUrl } = await buildTestApp(t, aws.env)
  const customer = await createCustomer(app)
  const worker = await createApiClient(app, ['credentials:issue'])

  const { sleeping, slowAudit } = interleavingOn(databaseUrl)
  const connect = async (owner = customer.id) => connectRole(app, aws.emulator, owner)
  const issue = (connectionId: string, durationSeconds = 900) =>
    call(app, 'POST', `/v1/connections/${connectionId}/credentials`, { token: worker.token, body: { purpose: 'revocation test', durationSeconds } })
  const revoke = (connectionId: string, token = ADMIN_TOKEN) =>
    call(app, 'POST', `/v1/connections/${connectionId}/revoke`, { token, body: { reason: 'customer asked' } })

  t.test('revoke: 200 with the connection and its impact, audited with tookMs; revoked is final (409)', async (t) => {
    const { connection } = await connect()
    const short = await issue(connection.id, 900)
    const long = await issue(connection.id, 1800)
    t.equal(long.statusCode, 201)
    const res = await revoke(connection.id)
    t.equal(res.statusCode, 200, res.statusCode === 200 ? 'revoked' : res.body)
    const body = res.json<Revoked>()
    t.equal(body.status, 'revoked')
    t.ok(Date.parse(body.revokedAt) > 0)
    t.equal(body.impact.outstandingCredentialsExpireAt, long.json<{ credentials: { expiration: string } }>().credentials.expiration, 'the latest expiration of the sessions still valid')
    t.ok(Date.parse(short.json<{ credentials: { expiration: string } }>().credentials.expiration) < Date.parse(body.impact.outstandingCredentialsExpireAt ?? ''))
    t.same(body.impact.customerDenyPolicy, { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: '*', Resource: '*', Condition: { DateLessThan: { 'aws:TokenIssueTime': body.revokedAt } } }] })
    t.ok(Number.isInteger(body.impact.tookMs) && body.impact.tookMs >= 0)
    t.comment(`revocation tookMs=${body.impact.tookMs}`)
    const event = await database.prisma.auditEvent.findFirstOrThrow({ where: { action: 'connection.revoked', resourceId: connection.id } })
    t.match(event.details, { reason: 'customer asked', tookMs: body.impact.tookMs, outstandingCredentialsExpireAt: body.impact.outstandingCredentialsExpireAt })
    t.equal(event.customerId, customer.id)

    const again = await revoke(connection.id)
    t.equal(again.statusCode, 409)
    t.equal(again.json().code, 'connection_revoked')
    t.equal(await database.prisma.auditEvent.count({ where: { action: 'connection.revoked', resourceId: connection.id } }), 1, 'one revocation event')
    t.equal((await issue(connection.id)).statusCode, 409, 'nothing issues afterwards')
    const verify = await call(app, 'POST', `/v1/connections/${connection.id}/verify`, { token: ADMIN_TOKEN })
    t.equal(verify.json().code, 'connection_revoked', 'and it cannot be verified back to life')
  })

  t.test('no credentials issued: outstandingCredentialsExpireAt is null', async (t) => {
    const { connection } = await connect()
    const res = await revoke(connection.id)
    t.equal(res.statusCode, 200)
    t.equal(res.json<Revoked>().impact.outstandingCredentialsExpireAt, null)
  })

  t.test('a bound client revokes its own customer\'s connection, and gets 404 for another\'s', async (t) => {
    const other = await createCustomer(app)
    const { connection: own } = await connect()
    const { connection: foreign } = await connect(other.id)
    const bound = await createApiClient(app, ['connections:write'], customer.id)
    t.equal((await revoke(foreign.id, bound.token)).statusCode, 404)
    t.equal((await database.prisma.connection.findUniqueOrThrow({ where: { id: foreign.id } })).status, 'active', 'untouched')
    t.equal((await revoke(own.id, bound.token)).statusCode, 200)
  })

  t.test('revocation waits for an issuance whose audit insert is under way; the impact includes that session', async (t) => {
    const { connection } = await connect()
    await slowAudit(t, 'credentials.issued')
    const finished: string[] = []
    const issuing = issue(connection.id).then((res) => { finished.push('issue'); return res })
    t.ok(await sleeping(), 'the issuing transaction holds its share lock, inside its audit insert')
    const revoking = revoke(connection.id).then((res) => { finished.push('revoke'); return res })
    const [issued, revoked] = await Promise.all([issuing, revoking])
    t.equal(issued.statusCode, 201, 'the issuance that locked first completes')
    t.equal(revoked.statusCode, 200)
    t.same(finished, ['issue', 'revoke'], 'the revocation waited for the issuance to commit')
    const body = revoked.json<Revoked>()
    t.equal(body.impact.outstandingCredentialsExpireAt, issued.json<{ credentials: { expiration: string } }>().credentials.expiration, 'the session that committed first is in the exposure window')
    t.ok(body.impact.tookMs >= 300, `tookMs counts the wait for the lock (${body.impact.tookMs} ms)`)
    t.comment(`revocation behind an issuance in flight tookMs=${body.impact.tookMs}`)
    const events = await database.prisma.auditEvent.findMany({ where: { resourceId: connection.id, action: { in: ['credentials.issued', 'connection.revoked'] } }, orderBy: { seq: 'asc' } })
    t.same(events.map((e) => e.action), ['credentials.issued', 'connection.revoked'])
  })

  t.test('an issuance that reaches its lock while the revocation commits is refused, and its session audited', async (t) => {
    const { connection } = await connect()
    await slowAudit(t, 'connection.revoked')
    const finished: string[] = []
    const revoking = revoke(connection.id).then((res) => { finished.push('revoke'); return res })
    t.ok(await sleeping(), 'the revocation holds the row lock, inside its audit insert')
    // The issuance read the connection as active (the revocation has not committed), asks STS,
    // then waits for the row lock in the transaction that would commit credentials.issued.
    const issuing = issue(connection.id).then((res) => { finished.push('issue'); return res })
    const [revoked, issued] = await Promise.all([revoking, issuing])
    t.equal(revoked.statusCode, 200)
    t.equal(issued.statusCode, 409, issued.body)
    t.equal(issued.json().code, 'connection_not_active')
    t.same(finished, ['revoke', 'issue'])
    t.equal(await database.prisma.auditEvent.count({ where: { action: 'credentials.issued', resourceId: connection.id } }), 0, 'no credentials.issued event')
    const denied = await database.prisma.auditEvent.findFirstOrThrow({ where: { action: 'credentials.denied', resourceId: connection.id }, orderBy: { seq: 'desc' } })
    t.match(denied.details, { reason: 'revoked_during_issuance', accessKeyId: /^ASIA/ })
  })

  t.test('after revocation, a new connection for the same external ID can be registered (the probe runs again)', async (t) => {
    const { connection, externalId, account } = await connect()
    t.equal((await revoke(connection.id)).statusCode, 200)
    const before = aws.emulator.calls().filter((c) => c.action === 'AssumeRole').length
    const res = await call(app, 'POST', `/v1/customers/${customer.id}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: externalId.id, roleArn: roleArn(account) } })
    t.equal(res.statusCode, 201, res.body)
    t.not(res.json<{ id: string }>().id, connection.id, 'a new connection')
    t.ok(aws.emulator.calls().filter((c) => c.action === 'AssumeRole').length - before >= 3, 'the confused-deputy probe ran again')
    t.equal((await issue(res.json<{ id: string }>().id)).statusCode, 201, 'and it issues')
  })

  t.test('the deny policy is valid IAM JSON, and denies exactly the sessions issued before revokedAt', async (t) => {
    const { connection } = await connect()
    const res = await revoke(connection.id)
    const { revokedAt, impact } = res.json<Revoked>()
    const policy = JSON.parse(JSON.stringify(impact.customerDenyPolicy)) as Revoked['impact']['customerDenyPolicy']
    t.equal(policy.Version, '2012-10-17')
    t.equal(policy.Statement.length, 1)
    const [statement] = policy.Statement
    if (statement === undefined) throw new Error('no statement')
    t.same(Object.keys(statement).sort(), ['Action', 'Condition', 'Effect', 'Resource'], 'only IAM policy elements')
    t.equal(statement.Effect, 'Deny')
    t.ok(JSON.stringify(policy).length < 6144, 'within the managed-policy size limit')
    const at = Date.parse(revokedAt)
    const applies = (issuedAt: number): boolean => evaluateCondition(statement.Condition, { 'aws:TokenIssueTime': new Date(issuedAt).toISOString() })
    t.equal(applies(at - 60_000), true, 'a session issued a minute before revokedAt: denied')
    t.equal(applies(at - 1), true, 'a millisecond before: denied')
    t.equal(applies(at), false, 'at revokedAt: not denied')
    t.equal(applies(at + 60_000), false, 'a session issued after revokedAt (a new connection): not denied')
    t.equal(evaluateCondition(statement.Condition, {}), false, 'a request without aws:TokenIssueTime (long-term keys) is not denied by it')
  })
})
