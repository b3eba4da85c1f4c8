// One STS call per session (CREDENTIAL_REUSE=on): identical requests get the session deputy
// already holds while it has the lifetime they ask to keep; concurrent ones share one AssumeRole;
// every hand-out is audited and re-checked; revocations, suspension, offboarding, client
// revocation and the freeze evict at once on every replica; no secret reaches the database.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import pg from 'pg'
import { ADMIN_TOKEN, buildTestApp, buildTestAppOn, call } from '../helpers/app.js'
import { startTestAws } from '../helpers/aws.js'
import { connectRole, createApiClient, createCustomer, type ApiClient } from '../helpers/fixtures.js'

async function until (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const started = Date.now()
  while (!await check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Until the replica hears its own heartbeat: before that it hands out nothing. */
const listening = (app: FastifyInstance): Promise<void> => until('the reuse cache to go live', () => app.sessionReuse?.live === true)

t.test('credential reuse', async (t) => {
  const aws = await startTestAws(t, { CREDENTIAL_REUSE: 'on', CREDENTIALS_MAX_DURATION_SECONDS: '3600' })
  const { app, database, databaseUrl } = await buildTestApp(t, aws.env)
  const replica = await buildTestAppOn(t, databaseUrl, aws.env)
  await Promise.all([listening(app), listening(replica.app)])
  const assumeRoles = (): number => aws.emulator.calls().filter((c) => c.action === 'AssumeRole').length
  const issue = (on: FastifyInstance, connectionId: string, client: ApiClient, body: Record<string, unknown>) =>
    call(on, 'POST', `/v1/connections/${connectionId}/credentials`, { token: client.token, body })

  const customer = await createCustomer(app)
  const worker = await createApiClient(app, ['credentials:issue'])
  const { connection } = await connectRole(app, aws.emulator, customer.id)

  t.test('an identical request gets the session deputy holds, audited with the event it reuses', async (t) => {
    const before = assumeRoles()
    const first = await issue(app, connection.id, worker, { purpose: 'reuse: sequential' })
    const second = await issue(app, connection.id, worker, { purpose: 'reuse: sequential' })
    t.equal(first.statusCode, 201, first.body)
    t.equal(second.statusCode, 201, second.body)
    t.equal(assumeRoles() - before, 1, 'one AssumeRole for both')
    const [a, b] = [first.json(), second.json()]
    t.equal(a.reusedAuditEventId, null)
    t.equal(b.credentials.accessKeyId, a.credentials.accessKeyId, 'the same session')
    t.equal(b.credentials.expiration, a.credentials.expiration, 'its own expiry: never extended')
    t.ok(b.ttlSeconds <= a.ttlSeconds, 'ttl is what is left of it')
    t.equal(b.reusedAuditEventId, a.auditEventId)
    t.not(b.auditEventId, a.auditEventId, 'the hand-out has its own event')
    t.equal(second.headers['cache-control'], 'no-store')
    const event = await database.prisma.auditEvent.findUniqueOrThrow({ where: { id: b.auditEventId } })
    t.match(event, { action: 'credentials.issued', outcome: 'success', actorClientId: worker.id, resourceId: connection.id })
    t.match(event.details, { reused: true, reusedAuditEventId: a.auditEventId, accessKeyId: a.credentials.accessKeyId, sessionName: a.sessionName, purpose: 'reuse: sequential', expiration: a.credentials.expiration })
    t.notOk(JSON.stringify(event.details).includes(a.credentials.secretAccessKey), 'no secret in the hand-out\'s event')
  })

  t.test('concurrent identical requests make one STS call between them', async (t) => {
    const before = assumeRoles()
    const responses = await Promise.all(Array.from({ length: 12 }, () => issue(app, connection.id, worker, { purpose: 'reuse: concurrent' })))
    t.same(responses.map((r) => r.statusCode), Array(12).fill(201))
    t.equal(assumeRoles() - before, 1, '12 requests, 1 AssumeRole')
    t.equal(new Set(responses.map((r) => r.json().credentials.accessKeyId)).size, 1)
    const events = new Set(responses.map((r) => r.json().auditEventId))
    t.equal(events.size, 12, 'each request has its own credentials.issued event')
    t.equal(responses.filter((r) => r.json().reusedAuditEventId === null).length, 1, 'one fresh, eleven hand-outs')
  })

  t.test('no reuse across client, purpose, session policy, managed policies or duration', async (t) => {
    const other = await createApiClient(app, ['credentials:issue'])
    const base = { purpose: 'reuse: variants' }
    const statement = { Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }
    const variants: Array<[ApiClient, Record<string, unknown>]> = [
      [worker, base],
      [other, base],
      [worker, { purpose: 'reuse: variants 2' }],
      [worker, { ...base, sessionPolicy: { Version: '2012-10-17', Statement: [statement] } }],
      [worker, { ...base, sessionPolicy: { Version: '2012-10-17', Statement: [{ ...statement, Action: 's3:PutObject' }] } }],
      [worker, { ...base, policyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] }],
      [worker, { ...base, durationSeconds: 1800 }]
    ]
    const keys = new Set<string>()
    for (const [client, body] of variants) {
      const before = assumeRoles()
      const res = await issue(app, connection.id, client, body)
      t.equal(res.statusCode, 201, res.body)
      t.equal(assumeRoles() - before, 1, `a fresh session for ${JSON.stringify(body).slice(0, 80)}`)
      keys.add(res.json().credentials.accessKeyId)
    }
    t.equal(keys.size, variants.length)
  })

  t.test('a held session with less left than the request asks for is not handed out', async (t) => {
    const body = { purpose: 'reuse: lifetime', durationSeconds: 900 }
    const first = await issue(app, connection.id, worker, body)
    const before = assumeRoles()
    const strict = await issue(app, connection.id, worker, { ...body, minRemainingSeconds: 900 })
    t.equal(assumeRoles() - before, 1, 'a session already started has less than 900 s left: a fresh one')
    t.not(strict.json().credentials.accessKeyId, first.json().credentials.accessKeyId)
    t.equal(strict.json().reusedAuditEventId, null)
    const loose = await issue(app, connection.id, worker, { ...body, minRemainingSeconds: 600 })
    t.equal(loose.json().credentials.accessKeyId, strict.json().credentials.accessKeyId, 'the newer session is held now')
    const refused = await issue(app, connection.id, worker, { ...body, minRemainingSeconds: 1000 })
    t.equal(refused.statusCode, 400)
    t.equal(refused.json().code, 'invalid_min_remaining')
  })

  t.test('each hand-out is re-checked in its own statement, even when no notification came', async (t) => {
    const client = await createApiClient(app, ['credentials:issue'])
    const body = { purpose: 'reuse: recheck' }
    const first = await issue(app, connection.id, client, body)
    t.equal(first.statusCode, 201)
    // The client is revoked where neither cache hears of it (triggers off for this session): the
    // token cache still authenticates it and the read before issuance does not look at clients,
    // so only the hand-out's own statement stands between the held session and the caller.
    const db = new pg.Client({ connectionString: databaseUrl })
    await db.connect()
    await db.query('SET session_replication_role = replica')
    await db.query('UPDATE "api_clients" SET "revoked_at" = now() WHERE "id" = $1', [client.id])
    await db.end()
    const res = await issue(app, connection.id, client, body)
    t.equal(res.statusCode, 401, res.body)
    t.equal(res.json().code, 'unauthorized')
    t.notOk(res.body.includes(first.json().credentials.accessKeyId), 'nothing of the session leaves')
    const denied = await database.prisma.auditEvent.findFirstOrThrow({ where: { actorClientId: client.id, action: 'credentials.denied' } })
    t.match(denied.details, { reason: 'client_revoked', reusedAuditEventId: first.json().auditEventId })
    t.equal(await database.prisma.auditEvent.count({ where: { actorClientId: client.id, action: 'credentials.issued' } }), 1, 'no hand-out event')
  })

  t.test('a hand-out refused for the connection leaves the decision (and its audit) to the ordinary path', async (t) => {
    const { connection: quiet } = await connectRole(app, aws.emulator, customer.id)
    const body = { purpose: 'reuse: recheck connection' }
    t.equal((await issue(app, quiet.id, worker, body)).statusCode, 201)
    const db = new pg.Client({ connectionString: databaseUrl })
    await db.connect()
    await db.query('SET session_replication_role = replica')
    await db.query('UPDATE "connections" SET "status" = \'revoked\', "revoked_at" = now() WHERE "id" = $1', [quiet.id])
    await db.end()
    const before = assumeRoles()
    const res = await issue(app, quiet.id, worker, body)
    t.equal(res.statusCode, 409, res.body)
    t.equal(res.json().code, 'connection_not_active')
    t.equal(assumeRoles(), before, 'no AssumeRole')
    t.equal(await database.prisma.auditEvent.count({ where: { resourceId: quiet.id, action: 'credentials.issued' } }), 1, 'no hand-out event')
    const denied = await database.prisma.auditEvent.findFirstOrThrow({ where: { resourceId: quiet.id, action: 'credentials.denied' } })
    t.match(denied.details, { reason: 'connection_not_active' })
  })

  // Before the evictions below: their freeze and unfreeze notifications arrive on their own time.
  t.test('no secret reaches the database', async (t) => {
    const res = await issue(app, connection.id, worker, { purpose: 'reuse: secrets' })
    const again = await issue(app, connection.id, worker, { purpose: 'reuse: secrets' })
    t.equal(again.json().reusedAuditEventId, res.json().auditEventId)
    const { secretAccessKey, sessionToken } = res.json().credentials
    const db = new pg.Client({ connectionString: databaseUrl })
    await db.connect()
    t.teardown(() => db.end())
    const tables = await db.query<{ name: string }>('SELECT quote_ident(table_schema) || \'.\' || quote_ident(table_name) AS name FROM information_schema.tables WHERE table_schema NOT IN (\'pg_catalog\', \'information_schema\') AND table_type = \'BASE TABLE\'')
    let rows = 0
    for (const { name } of tables.rows) {
      const dump = await db.query<{ row: string }>(`SELECT t::text AS row FROM ${name} t`)
      rows += dump.rowCount ?? 0
      const text = dump.rows.map((r) => r.row).join('\n')
      t.notOk(text.includes(secretAccessKey) || text.includes(sessionToken), `no secret in ${name}`)
    }
    t.ok(rows > 0, `${tables.rows.length} tables, ${rows} rows searched`)
  })

  t.test('what ends a connection evicts its sessions at once on every replica', async (t) => {
    type Trigger = (ids: { connectionId: string, customerId: string, client: ApiClient }) => Promise<void>
    const post = async (path: string, body: Record<string, unknown> = { reason: 'reuse eviction test' }): Promise<void> => {
      const res = await call(app, 'POST', path, { token: ADMIN_TOKEN, body })
      if (res.statusCode >= 300) throw new Error(`${path}: ${res.statusCode} ${res.body}`)
    }
    const triggers: Array<[string, Trigger]> = [
      ['revoking the connection', async ({ connectionId }) => post(`/v1/connections/${connectionId}/revoke`)],
      ['suspending the customer', async ({ customerId }) => post(`/v1/customers/${customerId}/suspend`)],
      ['offboarding the customer', async ({ customerId }) => post(`/v1/customers/${customerId}/offboard`)],
      ['revoking the client', async ({ client }) => post(`/v1/api-clients/${client.id}/revoke`, {})],
      ['freezing issuance', async () => post('/v1/admin/freeze')]
    ]
    for (const [name, trigger] of triggers) {
      const owner = await createCustomer(app)
      const client = await createApiClient(app, ['credentials:issue'])
      const { connection: target } = await connectRole(app, aws.emulator, owner.id)
      const body = { purpose: `reuse: evict ${name}` }
      // Each replica holds its own session of the connection (and both hand it out again).
      for (const on of [app, replica.app]) {
        const first = await issue(on, target.id, client, body)
        const again = await issue(on, target.id, client, body)
        t.equal(again.json().reusedAuditEventId, first.json().auditEventId, `${name}: held before`)
      }
      const held = (on: FastifyInstance): number => on.sessionReuse?.size() ?? 0
      const before = { a: held(app), b: held(replica.app) }
      await trigger({ connectionId: target.id, customerId: owner.id, client })
      await until(`${name}: evicted on both replicas`, () => held(app) < before.a && held(replica.app) < before.b)
      t.pass(`${name}: evicted on both replicas`)
      const after = await issue(replica.app, target.id, client, body)
      t.not(after.statusCode, 201, `${name}: and nothing is handed out afterwards (${after.statusCode})`)
      if (name === 'freezing issuance') {
        await post('/v1/admin/unfreeze', {})
        await until('heard again', async () => app.sessionReuse?.live === true && replica.app.sessionReuse?.live === true)
      }
    }
  })
})
