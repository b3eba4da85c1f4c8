// Issuance under pressure: the audit guard after AWS has answered, issuance racing revocation
// with real interleavings in PostgreSQL, session names the caller cannot choose, and what an
// AccessDenied is taken to mean. Everything through the API, the real SDK and the STS emulator.
import t from 'tap'
import { ADMIN_TOKEN, buildTestApp, call } from '../helpers/app.js'
import { interleavingOn } from '../helpers/interleaving.js'
import { roleArn, secureTrust, startTestAws, VENDOR_ARN } from '../helpers/aws.js'
import { awsAccount, createApiClient, createCustomer, mintExternalId, connectRole } from '../helpers/fixtures.js'

t.test('issuance hardening', async (t) => {
  const aws = await startTestAws(t)
  const { app, database, databaseUrl, logs } = await buildTestApp(t, aws.env)
  const customer = await createCustomer(app)
  const worker = await createApiClient(app, ['credentials:issue'])

  const { sql, sleeping } = interleavingOn(databaseUrl)

  const connect = async (owner = customer.id) => connectRole(app, aws.emulator, owner)
  const issue = (connectionId: string, body: Record<string, unknown> = { purpose: 'hardening test' }, token = worker.token, headers: Record<string, string> = {}) =>
    call(app, 'POST', `/v1/connections/${connectionId}/credentials`, { token, body, headers })
  const retire = (externalIdId: string) =>
    call(app, 'POST', `/v1/external-ids/${externalIdId}/retire`, { token: ADMIN_TOKEN, body: { reason: 'customer left' } })
  const assumeRoleCalls = () => aws.emulator.calls().filter((c) => c.action === 'AssumeRole')

  t.test('a session policy whose condition keys say "secret" or "token" is recorded as given', async (t) => {
    const { connection } = await connect()
    const sessionPolicy = {
      Version: '2012-10-17',
      Statement: [{
        Effect: 'Allow',
        Action: 'secretsmanager:GetSecretValue',
        Resource: '*',
        Condition: { StringEquals: { 'secretsmanager:SecretId': 'app/db' }, DateGreaterThan: { 'aws:TokenIssueTime': '2020-01-01T00:00:00Z' } }
      }]
    }
    const res = await issue(connection.id, { purpose: 'read the db secret', sessionPolicy })
    t.equal(res.statusCode, 201, res.statusCode === 201 ? 'issued' : res.body)
    const event = await database.prisma.auditEvent.findUniqueOrThrow({ where: { id: res.json().auditEventId } })
    t.same((event.details as { sessionPolicy: unknown }).sessionPolicy, sessionPolicy, 'the customer-facing policy is data, recorded verbatim')
  })

  t.test('what the audit event would refuse is refused before AWS is asked', async (t) => {
    const { connection } = await connect()
    const before = assumeRoleCalls().length
    const res = await issue(connection.id, { purpose: `debugging with dpt_${'x'.repeat(40)}` })
    t.equal(res.statusCode, 400)
    t.equal(res.json().code, 'secret_in_request')
    t.equal(assumeRoleCalls().length, before, 'STS was not called, so no session exists unrecorded')
    t.notOk(res.body.includes('x'.repeat(40)), 'the token-like value is not echoed')
    const denied = await database.prisma.auditEvent.findFirstOrThrow({ where: { action: 'credentials.denied', resourceId: connection.id }, orderBy: { seq: 'desc' } })
    t.match(denied.details, { reason: 'secret_in_request' })
    t.notOk(JSON.stringify(denied.details).includes('x'.repeat(40)), 'nor written to the trail')
  })

  t.test('after STS answered, only the database refusing the write yields 503; the log names the session', async (t) => {
    const { connection } = await connect()
    const dropped = (await app.metrics.unauditedSessions.get()).values[0]?.value ?? 0
    await sql(`CREATE FUNCTION refuse_issued() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit storage failure'; END $$;
      CREATE TRIGGER refuse_issued BEFORE INSERT ON audit_events FOR EACH ROW WHEN (NEW.action = 'credentials.issued') EXECUTE FUNCTION refuse_issued();`)
    t.teardown(() => sql('DROP TRIGGER IF EXISTS refuse_issued ON audit_events'))
    const res = await issue(connection.id)
    t.equal(res.statusCode, 503)
    t.equal(res.json().code, 'audit_unavailable')
    const issued = assumeRoleCalls().at(-1)
    t.equal(issued?.outcome, 'ok', 'AWS issued the session')
    const line = logs.map((l) => JSON.parse(l) as { level: number, msg: string, session?: { accessKeyId: string, expiration: string } })
      .find((l) => l.msg.startsWith('could not write the credentials.issued audit event'))
    t.equal(line?.level, 50, 'logged at error level')
    t.match(line?.session, { accessKeyId: /^ASIA[A-Z0-9]{16}$/, expiration: /^\d{4}-/, roleArn: /:role\//, sessionName: /\./ }, 'with what finds the session in CloudTrail')
    t.equal((await app.metrics.unauditedSessions.get()).values[0]?.value, dropped + 1, 'and counted')
  })

  t.test('retired while STS is answering: no credentials leave, the dropped session is audited', async (t) => {
    const { connection, externalId } = await connect()
    aws.emulator.injectFault({ kind: 'latency', action: 'AssumeRole', count: 1, latencyMs: 400 })
    const issuing = issue(connection.id)
    await new Promise((resolve) => setTimeout(resolve, 150))
    t.equal((await retire(externalId.id)).statusCode, 200, 'the retirement commits while AssumeRole is in flight')
    const res = await issuing
    t.equal(res.statusCode, 409, res.body)
    t.equal(res.json().code, 'connection_not_active')
    t.notMatch(res.body, /ASIA[A-Z0-9]{16}|secretAccessKey/, 'no credential in the answer')
    t.equal(assumeRoleCalls().at(-1)?.outcome, 'ok', 'AWS had issued the session')
    const denied = await database.prisma.auditEvent.findFirstOrThrow({ where: { action: 'credentials.denied', resourceId: connection.id }, orderBy: { seq: 'desc' } })
    t.match(denied.details, { reason: 'revoked_during_issuance', accessKeyId: /^ASIA/, expiration: /^\d{4}-/ })
    t.equal(await database.prisma.auditEvent.count({ where: { action: 'credentials.issued', resourceId: connection.id } }), 0)
  })

  t.test('revocation waits for an issuance whose audit insert is under way: issued strictly before revoked', async (t) => {
    const { connection, externalId } = await connect()
    // A real interleaving: the credentials.issued insert sleeps inside its transaction, which
    // holds the share lock on the connection; the retirement must queue behind it.
    await sql(`CREATE FUNCTION slow_issued() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.6); RETURN NEW; END $$;
      CREATE TRIGGER slow_issued BEFORE INSERT ON audit_events FOR EACH ROW WHEN (NEW.action = 'credentials.issued') EXECUTE FUNCTION slow_issued();`)
    t.teardown(() => sql('DROP TRIGGER IF EXISTS slow_issued ON audit_events'))
    const issuing = issue(connection.id)
    t.ok(await sleeping(), 'the issuing transaction is inside its audit insert')
    const finished: string[] = []
    const retiring = retire(externalId.id).then((res) => { finished.push('retire'); return res })
    const [issued, retired] = await Promise.all([issuing.then((res) => { finished.push('issue'); return res }), retiring])
    t.equal(issued.statusCode, 201, 'the issuance that locked first completes')
    t.equal(retired.statusCode, 200, 'the retirement completes too')
    t.same(finished, ['issue', 'retire'], 'the retirement waited for the issuance to commit')
    const events = await database.prisma.auditEvent.findMany({ where: { resourceId: connection.id, action: { in: ['credentials.issued', 'connection.revoked'] } }, orderBy: { seq: 'asc' } })
    t.same(events.map((e) => e.action), ['credentials.issued', 'connection.revoked'])
    const revokedAt = (await database.prisma.connection.findUniqueOrThrow({ where: { id: connection.id } })).revokedAt
    t.ok(revokedAt !== null && (events[0]?.occurredAt.getTime() ?? Infinity) <= revokedAt.getTime(), 'the issued event is not after revokedAt')
    t.equal((await issue(connection.id)).statusCode, 409, 'and nothing issues afterwards')
  })

  t.test('registering a connection while its external ID is retired: the database refuses the insert', async (t) => {
    const account = awsAccount()
    const externalId = await mintExternalId(app, customer.id, account)
    aws.emulator.putRole({ arn: roleArn(account), trustPolicy: secureTrust(externalId.externalId) })
    aws.emulator.injectFault({ kind: 'latency', action: 'AssumeRole', count: 1, latencyMs: 400 })
    const registering = call(app, 'POST', `/v1/customers/${customer.id}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: externalId.id, roleArn: roleArn(account) } })
    await new Promise((resolve) => setTimeout(resolve, 150))
    t.equal((await retire(externalId.id)).statusCode, 200)
    const res = await registering
    t.equal(res.statusCode, 409, res.body)
    t.equal(res.json().code, 'external_id_not_active')
    t.equal(await database.prisma.connection.count({ where: { externalIdId: externalId.id } }), 0, 'no connection for a retired ID')
    // The same rule holds against any writer, not only deputy's code path.
    await t.rejects(sql(`INSERT INTO connections (customer_id, external_id_id, aws_account_id, role_arn, verification, verified_at)
      VALUES ($1, $2, $3, $4, '{}', now())`, [customer.id, externalId.id, account, roleArn(account)]), /is retired: no new connection may use it/)
  })

  t.test('retiring an ID while its registration is committing: the retirement waits, then revokes the new connection', async (t) => {
    const account = awsAccount()
    const externalId = await mintExternalId(app, customer.id, account)
    aws.emulator.putRole({ arn: roleArn(account), trustPolicy: secureTrust(externalId.externalId) })
    await sql(`CREATE FUNCTION slow_created() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.6); RETURN NEW; END $$;
      CREATE TRIGGER slow_created BEFORE INSERT ON audit_events FOR EACH ROW WHEN (NEW.action = 'connection.created') EXECUTE FUNCTION slow_created();`)
    t.teardown(() => sql('DROP TRIGGER IF EXISTS slow_created ON audit_events'))
    const finished: string[] = []
    const registering = call(app, 'POST', `/v1/customers/${customer.id}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: externalId.id, roleArn: roleArn(account) } })
      .then((res) => { finished.push('register'); return res })
    t.ok(await sleeping(), 'the registration has inserted its connection and is still open')
    const retired = await retire(externalId.id).then((res) => { finished.push('retire'); return res })
    const registered = await registering
    t.equal(registered.statusCode, 201)
    t.equal(retired.statusCode, 200)
    t.same(finished, ['register', 'retire'], 'the retirement waited for the registration to commit')
    const connection = await database.prisma.connection.findUniqueOrThrow({ where: { id: registered.json<{ id: string }>().id } })
    t.equal(connection.status, 'revoked', 'and then revoked the connection it could not see at first')
    t.equal(await database.prisma.auditEvent.count({ where: { action: 'connection.revoked', resourceId: connection.id } }), 1)
  })

  t.test('a customer suspended while STS is answering gets no credentials', async (t) => {
    const { connection } = await connect()
    aws.emulator.injectFault({ kind: 'latency', action: 'AssumeRole', count: 1, latencyMs: 400 })
    const issuing = issue(connection.id)
    await new Promise((resolve) => setTimeout(resolve, 150))
    await sql("UPDATE customers SET status = 'suspended' WHERE id = $1", [customer.id])
    const res = await issuing
    await sql("UPDATE customers SET status = 'active' WHERE id = $1", [customer.id])
    t.equal(res.statusCode, 409)
    t.match(res.json().detail, /customer .* is suspended/)
  })

  t.test('token-shaped input never silences the audit trail', async (t) => {
    const { connection } = await connect()
    const token = `dpt_${'y'.repeat(43)}`
    const viaRequestId = await issue(connection.id, { purpose: 'request id check' }, worker.token, { 'x-request-id': token })
    t.equal(viaRequestId.statusCode, 201, 'a token-shaped X-Request-Id is replaced, not refused')
    t.not(viaRequestId.headers['x-request-id'], token)
    const refusedPath = await issue(connection.id, { purpose: `secret ${token}`, durationSeconds: 3600 })
    t.equal(refusedPath.statusCode, 400)
    t.equal(refusedPath.json().code, 'secret_in_request', 'the purpose is checked before any other refusal writes it')
    const unknown = await issue('00000000-0000-4000-8000-000000000000', { purpose: 'probe' }, worker.token, { 'x-request-id': token })
    t.equal(unknown.statusCode, 404)
    t.equal(await database.prisma.auditEvent.count({ where: { action: 'credentials.denied', resourceId: '00000000-0000-4000-8000-000000000000' } }), 1, 'the 404 is audited')
    const name = await call(app, 'POST', '/v1/customers', { token: ADMIN_TOKEN, body: { name: `Acme ${token}` } })
    t.equal(name.statusCode, 400, 'any route: a value the trail would refuse is a 400, and nothing is created')
    t.equal(name.json().code, 'secret_in_request')
    t.equal(await database.prisma.customer.count({ where: { name: { contains: 'dpt_' } } }), 0)
  })

  t.test('retiring an ID with no live connection audits no revocation', async (t) => {
    const externalId = await mintExternalId(app, customer.id, awsAccount())
    t.equal((await retire(externalId.id)).statusCode, 200)
    const events = await database.prisma.auditEvent.findMany({ where: { OR: [{ resourceId: externalId.id }, { details: { path: ['externalIdId'], equals: externalId.id } }] } })
    t.same(events.map((e) => e.action).sort(), ['external_id.minted', 'external_id.retired'])
  })

  t.test('the session name carries deputy\'s id in full, whatever the client name and X-Request-Id', async (t) => {
    const { connection } = await connect()
    const longName = await call(app, 'POST', '/v1/api-clients', { token: ADMIN_TOKEN, body: { name: 'a-very-long-vendor-service-name-that-goes-on-and-on-and-on', scopes: ['credentials:issue'] } })
    const res = await issue(connection.id, { purpose: 'long name' }, longName.json().token, { 'x-request-id': 'chosen-by-the-caller' })
    t.equal(res.statusCode, 201)
    const { sessionName, auditEventId } = res.json()
    t.ok(sessionName.length <= 64, `${sessionName.length as number} characters`)
    t.ok(sessionName.endsWith(`.${customer.id.slice(0, 8)}.${auditEventId as string}`), 'the id is never cut')
    t.ok(sessionName.startsWith('a-very-long'), 'the client name is shortened instead')
    t.notMatch(sessionName, /chosen-by-the-caller/)
  })

  t.test('one spurious AccessDenied does not fail the connection', async (t) => {
    const { connection } = await connect()
    aws.emulator.injectFault({ kind: 'access_denied', action: 'AssumeRole', count: 1 })
    const res = await issue(connection.id)
    t.equal(res.statusCode, 424)
    t.match(res.json(), { code: 'role_access_denied', connectionFailed: false })
    t.equal((await call(app, 'GET', `/v1/connections/${connection.id}`, { token: ADMIN_TOKEN })).json().status, 'active', 'the confirming probe was allowed')
    const denied = await database.prisma.auditEvent.findFirstOrThrow({ where: { action: 'credentials.denied', resourceId: connection.id }, orderBy: { seq: 'desc' } })
    t.match(denied.details, { confirmed: false, unconfirmed: 'confirmed_allowed' })
    t.ok(assumeRoleCalls().at(-1)?.params.RoleSessionName?.endsWith(denied.id), 'the confirming session is named after the audit event')
    t.equal((await issue(connection.id)).statusCode, 201)
  })

  // Last in this app: a vendor-identity verdict is remembered for 30 s.
  t.test('without a control role, connections of several customers failing at once trip the breaker: deputy blames itself', async (t) => {
    const victims: string[] = []
    for (let i = 0; i < 2; i++) {
      const other = await createCustomer(app)
      const { connection, account } = await connect(other.id)
      aws.emulator.putRole({ arn: roleArn(account), trustPolicy: secureTrust('not-the-right-id') })
      const res = await issue(connection.id)
      t.match(res.json(), { code: 'role_access_denied', connectionFailed: true }, 'a customer-side change fails that connection')
      victims.push(account)
    }
    const { connection } = await connect()
    aws.emulator.denyAssumeRoleFor(VENDOR_ARN)
    t.teardown(() => { aws.emulator.denyAssumeRoleFor(VENDOR_ARN, false) })
    const before = assumeRoleCalls().length
    const res = await issue(connection.id)
    t.equal(res.statusCode, 503)
    t.equal(res.json().code, 'aws_credentials_invalid')
    t.ok(Number(res.headers['retry-after']) > 0)
    t.equal((await call(app, 'GET', `/v1/connections/${connection.id}`, { token: ADMIN_TOKEN })).json().status, 'active', 'this customer\'s connection is left alone')
    const denied = await database.prisma.auditEvent.findFirstOrThrow({ where: { action: 'credentials.denied', resourceId: connection.id }, orderBy: { seq: 'desc' } })
    t.match(denied.details, { reason: 'vendor_identity_denied', control: 'circuit_breaker' })
    const made = assumeRoleCalls().slice(before)
    t.equal(made.length, 2, 'the issuance and one confirming call')
    t.notOk(made.some((c) => victims.some((account) => c.params.RoleArn?.includes(account) === true)), 'no other customer\'s role is ever used as a control')
    const again = await issue(connection.id)
    t.equal(again.json().code, 'aws_credentials_invalid')
    t.equal(assumeRoleCalls().length - before, 3, 'while the verdict is fresh, a refusal costs no confirming call')
  })
})

t.test('a configured control role tells deputy\'s own fault from the customer\'s', async (t) => {
  const aws = await startTestAws(t)
  const controlRole = roleArn('111111111111', 'DeputyControl')
  aws.emulator.putRole({ arn: controlRole, trustPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: VENDOR_ARN }, Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'] }] } })
  const { app } = await buildTestApp(t, { ...aws.env, STS_CONTROL_ROLE_ARN: controlRole })
  const customer = await createCustomer(app)
  const account = awsAccount()
  const externalId = await mintExternalId(app, customer.id, account)
  aws.emulator.putRole({ arn: roleArn(account), trustPolicy: secureTrust(externalId.externalId) })
  const connection = (await call(app, 'POST', `/v1/customers/${customer.id}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: externalId.id, roleArn: roleArn(account) } })).json<{ id: string }>()
  const issue = () => call(app, 'POST', `/v1/connections/${connection.id}/credentials`, { token: ADMIN_TOKEN, body: { purpose: 'control role' } })

  aws.emulator.denyAssumeRoleFor(VENDOR_ARN)
  const vendorFault = await issue()
  t.equal(vendorFault.json().code, 'aws_credentials_invalid', 'control role refused too: deputy\'s identity')
  aws.emulator.denyAssumeRoleFor(VENDOR_ARN, false)
  t.ok(aws.emulator.calls().some((c) => c.action === 'AssumeRole' && c.params.RoleArn === controlRole), 'the control role was asked')
  t.equal((await issue()).statusCode, 201, 'once deputy\'s identity works again, so does issuance (and the verdict is forgotten)')

  aws.emulator.putRole({ arn: roleArn(account), trustPolicy: secureTrust('someone-else-entirely') })
  const customerSide = await issue()
  t.equal(customerSide.statusCode, 424)
  t.match(customerSide.json(), { code: 'role_access_denied', connectionFailed: true })
  t.equal((await call(app, 'GET', `/v1/connections/${connection.id}`, { token: ADMIN_TOKEN })).json().status, 'failed', 'control allowed: the customer\'s role changed')
})
