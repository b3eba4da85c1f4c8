// The AssumeRole broker through the real SDK and the STS emulator: what deputy sends, what it
// returns, how it fails (closed), and that secrets stay out of logs and the audit trail.
import t from 'tap'
import { ADMIN_TOKEN, buildTestApp, call } from '../helpers/app.js'
import { policy, roleArn, secureTrust, startTestAws, VENDOR_ARN } from '../helpers/aws.js'
import { createApiClient, createCustomer, connectRole } from '../helpers/fixtures.js'
import { withAdminClient } from '../helpers/postgres.js'

t.test('credentials', async (t) => {
  const aws = await startTestAws(t, { CREDENTIALS_MAX_DURATION_SECONDS: '1800', STS_RETRY_BUDGET_MS: '1500', STS_TIMEOUT_MS: '500' })
  const { app, database, logs } = await buildTestApp(t, aws.env)
  const customer = await createCustomer(app)
  const worker = await createApiClient(app, ['credentials:issue'])

  const connect = async (owner = customer.id) => connectRole(app, aws.emulator, owner)
  const issue = (connectionId: string, body: Record<string, unknown> = { purpose: 'nightly inventory' }, token = worker.token, headers: Record<string, string> = {}) =>
    call(app, 'POST', `/v1/connections/${connectionId}/credentials`, { token, body, headers })

  const { connection, externalId, account } = await connect()

  t.test('issues short-lived credentials that work, audited first, never cached', async (t) => {
    const res = await issue(connection.id, { purpose: 'nightly inventory' }, worker.token, { 'x-request-id': 'req-issue-1' })
    t.equal(res.statusCode, 201, res.body)
    t.equal(res.headers['cache-control'], 'no-store')
    const body = res.json()
    t.match(body.credentials.accessKeyId, /^ASIA[A-Z0-9]{16}$/)
    t.ok(body.credentials.secretAccessKey.length >= 40)
    t.ok(body.credentials.sessionToken.length > 100)
    t.ok(body.ttlSeconds > 890 && body.ttlSeconds <= 900, `default lifetime 900 s (${body.ttlSeconds as number})`)
    t.equal(body.assumedRoleArn, `arn:aws:sts::${account}:assumed-role/DeputyAccess/${body.sessionName as string}`)
    t.equal(body.sessionName, `${worker.name.replace(' ', '-')}.${customer.id.slice(0, 8)}.${body.auditEventId as string}`, 'session name: client, customer, and the id of the audit event deputy generated')
    t.notMatch(body.sessionName, /req-issue-1/, 'the caller\'s request id never reaches the session name')
    t.match(body.sourceIdentity, /^deputy\.client-\d+$/)

    const sent = aws.emulator.calls().filter((c) => c.action === 'AssumeRole').at(-1)
    t.match(sent?.params, { RoleArn: roleArn(account), ExternalId: externalId.externalId, DurationSeconds: '900', RoleSessionName: body.sessionName, SourceIdentity: body.sourceIdentity })
    t.equal(sent?.callerArn, VENDOR_ARN, 'signed with deputy\'s own identity')

    const event = await database.prisma.auditEvent.findUniqueOrThrow({ where: { id: body.auditEventId } })
    t.match(event, { action: 'credentials.issued', outcome: 'success', customerId: customer.id, resourceId: connection.id, actorClientId: worker.id, requestId: 'req-issue-1' })
    t.match(event.details, { clientRequestId: 'req-issue-1', accessKeyId: body.credentials.accessKeyId, assumedRoleArn: body.assumedRoleArn, sessionName: body.sessionName, purpose: 'nightly inventory', durationSeconds: 900, expiration: body.credentials.expiration })
    t.match((event.details as { stsRequestId: string }).stsRequestId, /^[0-9a-f-]{36}$/)
    const serialized = JSON.stringify(event.details)
    t.notOk(serialized.includes(body.credentials.secretAccessKey), 'no secret key in the audit event')
    t.notOk(serialized.includes(body.credentials.sessionToken), 'no session token in the audit event')

    // The credentials are real to "AWS": GetCallerIdentity with them names the role session.
    const { STSClient, GetCallerIdentityCommand } = await import('@aws-sdk/client-sts')
    const { accessKeyId, secretAccessKey, sessionToken } = body.credentials
    const who = await new STSClient({ region: 'us-east-1', credentials: { accessKeyId, secretAccessKey, sessionToken } }).send(new GetCallerIdentityCommand({}))
    t.equal(who.Arn, body.assumedRoleArn)
  })

  t.test('duration and scoping parameters', async (t) => {
    const long = await issue(connection.id, { purpose: 'long job', durationSeconds: 1800 })
    t.equal(long.statusCode, 201)
    t.ok(long.json().ttlSeconds > 1790)
    const capped = await issue(connection.id, { purpose: 'too long', durationSeconds: 3600 })
    t.equal(capped.statusCode, 400)
    t.equal(capped.json().code, 'duration_exceeds_cap')
    t.equal(capped.headers['cache-control'], 'no-store')
    for (const body of [{ purpose: 'x', durationSeconds: 900 }, { purpose: 'ok', durationSeconds: 899 }, { purpose: 'ok', durationSeconds: 3601 }, {}, { purpose: 'ok', sessionName: 'mine' }]) {
      const res = await issue(connection.id, body)
      t.equal(res.statusCode, 400, JSON.stringify(body))
    }
    const scoped = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:GetObject'], Resource: 'arn:aws:s3:::reports/*' }] }
    const arns = ['arn:aws:iam::aws:policy/ReadOnlyAccess']
    const res = await issue(connection.id, { purpose: 'read reports', sessionPolicy: scoped, policyArns: arns })
    t.equal(res.statusCode, 201)
    const sent = aws.emulator.calls().filter((c) => c.action === 'AssumeRole').at(-1)
    t.same(JSON.parse(sent?.params.Policy ?? '{}'), scoped)
    t.equal(sent?.params['PolicyArns.member.1.arn'], arns[0])
    const event = await database.prisma.auditEvent.findUniqueOrThrow({ where: { id: res.json().auditEventId } })
    t.match(event.details, { sessionPolicy: scoped, policyArns: arns })

    const huge = { Version: '2012-10-17', Statement: Array.from({ length: 20 }, (_, i) => ({ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::bucket-number-${i}-with-a-rather-long-name/*` })) }
    const tooLarge = await issue(connection.id, { purpose: 'huge', sessionPolicy: huge })
    t.equal(tooLarge.statusCode, 400)
    t.equal(tooLarge.json().code, 'session_policy_too_large')
    const malformed = await issue(connection.id, { purpose: 'bad', sessionPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Resource: '*' }] } })
    t.equal(malformed.json().code, 'invalid_session_policy')
    const elevenArns = Array.from({ length: 11 }, (_, i) => `arn:aws:iam::aws:policy/P${i}`)
    t.equal((await issue(connection.id, { purpose: 'many', policyArns: elevenArns })).statusCode, 400)
    t.equal(await database.prisma.auditEvent.count({ where: { action: 'credentials.denied', resourceId: connection.id, details: { path: ['reason'], equals: 'session_policy_too_large' } } }), 1, 'refusals are audited')
  })

  t.test('throttling and STS faults are retried within the budget', async (t) => {
    aws.emulator.injectFault({ kind: 'throttle', action: 'AssumeRole', count: 1 })
    aws.emulator.injectFault({ kind: 'server_error', action: 'AssumeRole', count: 1 })
    const res = await issue(connection.id)
    t.equal(res.statusCode, 201, 'succeeds after a Throttling and a 500')
    const recent = aws.emulator.calls().filter((c) => c.action === 'AssumeRole').slice(-3)
    t.same(recent.map((c) => c.errorCode ?? c.outcome), ['Throttling', 'InternalFailure', 'ok'])
  })

  for (const [kind, label] of [['throttle', 'Throttling'], ['unavailable', '503'], ['drop', 'dropped connections']] as const) {
    t.test(`${label} past the budget: 503 sts_unavailable with Retry-After, denial audited`, async (t) => {
      aws.emulator.injectFault({ kind, action: 'AssumeRole', count: 1000 })
      t.teardown(() => aws.emulator.clearFaults())
      const started = Date.now()
      const res = await issue(connection.id)
      aws.emulator.clearFaults()
      t.equal(res.statusCode, 503)
      t.equal(res.json().code, 'sts_unavailable')
      t.ok(Number(res.headers['retry-after']) > 0)
      t.ok(Date.now() - started < 5000, 'bounded in time')
      const denied = await database.prisma.auditEvent.findFirst({ where: { action: 'credentials.denied', resourceId: connection.id }, orderBy: { seq: 'desc' } })
      t.match(denied?.details, { reason: /^sts_(throttled|unavailable)$/ })
      t.equal((await call(app, 'GET', `/v1/connections/${connection.id}`, { token: ADMIN_TOKEN })).json().status, 'active', 'an outage does not fail the connection')
    })
  }

  t.test('latency beyond the call timeout is a 503, not a hang', async (t) => {
    aws.emulator.injectFault({ kind: 'latency', action: 'AssumeRole', count: 1000, latencyMs: 2000 })
    t.teardown(() => aws.emulator.clearFaults())
    const started = Date.now()
    const res = await issue(connection.id)
    aws.emulator.clearFaults()
    t.equal(res.statusCode, 503)
    t.ok(Date.now() - started < 4000, `answered in ${Date.now() - started} ms`)
  })

  t.test('AccessDenied at issuance: 424, connection failed until a probe passes', async (t) => {
    const { connection: doomed, externalId: id, account: acct } = await connect()
    aws.emulator.putRole({ arn: roleArn(acct), trustPolicy: policy({ Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' }) })
    const res = await issue(doomed.id)
    t.equal(res.statusCode, 424)
    t.match(res.json(), { code: 'role_access_denied', stsErrorCode: 'AccessDenied' })
    t.equal((await call(app, 'GET', `/v1/connections/${doomed.id}`, { token: ADMIN_TOKEN })).json().status, 'failed')
    const again = await issue(doomed.id)
    t.equal(again.statusCode, 409)
    t.equal(again.json().code, 'connection_not_active')
    const events = await database.prisma.auditEvent.findMany({ where: { resourceId: doomed.id, action: { in: ['connection.status_changed', 'credentials.denied'] } }, orderBy: { seq: 'asc' } })
    t.same(events.map((e) => e.action), ['connection.status_changed', 'credentials.denied', 'credentials.denied'])
    aws.emulator.putRole({ arn: roleArn(acct), trustPolicy: secureTrust(id.externalId) })
    await call(app, 'POST', `/v1/connections/${doomed.id}/verify`, { token: ADMIN_TOKEN })
    t.equal((await issue(doomed.id)).statusCode, 201, 'issues again once the probe passes')
  })

  t.test('an insecure connection never issues', async (t) => {
    const { connection: weak, account: acct } = await connect()
    aws.emulator.putRole({ arn: roleArn(acct), trustPolicy: policy({ Effect: 'Allow', Principal: { AWS: VENDOR_ARN }, Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'] }) })
    await call(app, 'POST', `/v1/connections/${weak.id}/verify`, { token: ADMIN_TOKEN })
    // Counted for this role only: a slow call of an earlier test may still land meanwhile.
    const callsForRole = () => aws.emulator.calls().filter((c) => c.params.RoleArn === roleArn(acct)).length
    const before = callsForRole()
    const res = await issue(weak.id)
    t.equal(res.statusCode, 409)
    t.equal(callsForRole(), before, 'STS is not even asked')
  })

  t.test('fail closed: when the audit event cannot be written, no credentials come back', async (t) => {
    const [row] = await database.prisma.$queryRaw<Array<{ db: string }>>`SELECT current_database() AS db`
    await withAdminClient(async (client) => {
      const pg = await import('pg')
      const target = new pg.default.Client({ connectionString: new URL(`/${row?.db ?? ''}`, process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/').toString() })
      await target.connect()
      await target.query(`CREATE FUNCTION refuse_issuance() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit storage failure'; END $$;
        CREATE TRIGGER refuse_issuance BEFORE INSERT ON audit_events FOR EACH ROW WHEN (NEW.action = 'credentials.issued') EXECUTE FUNCTION refuse_issuance();`)
      await target.end()
      return client
    })
    const res = await issue(connection.id, { purpose: 'must not leak' })
    t.equal(res.statusCode, 503)
    t.equal(res.json().code, 'audit_unavailable')
    t.notOk(/ASIA[A-Z0-9]{16}/.test(res.body), 'no access key in the response')
    t.notOk(res.body.includes('secretAccessKey'))
    const issued = aws.emulator.calls().filter((c) => c.action === 'AssumeRole' && c.outcome === 'ok').at(-1)
    t.ok(issued, 'STS did issue them; deputy dropped them')
    t.match(logs.join(''), /could not write the credentials\.issued audit event/)
    await database.prisma.$executeRawUnsafe('DROP TRIGGER refuse_issuance ON audit_events')
    t.equal((await issue(connection.id)).statusCode, 201, 'issues again once the audit trail accepts writes')
  })

  t.test('scopes and tenant isolation', async (t) => {
    const other = await createCustomer(app)
    const { connection: theirs } = await connect(other.id)
    const bound = await createApiClient(app, ['credentials:issue'], customer.id)
    const reader = await createApiClient(app, ['connections:read'])
    t.equal((await issue(connection.id, undefined, bound.token)).statusCode, 201, 'a bound client issues for its own customer')
    const foreign = await issue(theirs.id, undefined, bound.token)
    t.equal(foreign.statusCode, 404)
    const probed = await database.prisma.auditEvent.findFirst({ where: { action: 'credentials.denied', resourceId: theirs.id }, orderBy: { seq: 'desc' } })
    t.match(probed, { outcome: 'denied', actorClientId: bound.id, customerId: customer.id, details: { reason: 'not_found' } }, 'the cross-tenant attempt is audited in the prober\'s own trail')
    t.equal((await call(app, 'POST', `/v1/connections/${connection.id}/credentials`, { body: { purpose: 'anon' } })).statusCode, 401)
    t.equal((await issue(connection.id, undefined, reader.token)).statusCode, 403)
  })

  t.test('no secret ever reaches the log', async (t) => {
    const res = await issue(connection.id, { purpose: 'log check' })
    const body = res.json()
    const output = logs.join('')
    t.notOk(output.includes(body.credentials.secretAccessKey))
    t.notOk(output.includes(body.credentials.sessionToken))
    t.notOk(output.includes(worker.token))
    t.notOk(output.includes(aws.keys.secretAccessKey), 'nor deputy\'s own AWS secret')
  })
})

t.test('without AWS configured, issuance answers 503 aws_not_configured', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await call(app, 'POST', '/v1/connections/00000000-0000-4000-8000-000000000000/credentials', { token: ADMIN_TOKEN, body: { purpose: 'anything' } })
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'aws_not_configured')
})
