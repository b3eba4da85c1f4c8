// Two-step rotation of an external ID without an outage: a successor is minted and handed out in a
// kit that accepts both IDs; the predecessor keeps issuing; once the customer's role accepts the
// successor (the full confused-deputy probe passes with it), verify moves the connection to it and
// retires the predecessor in one transaction. Everything through the API and the STS emulator.
import { randomUUID } from 'node:crypto'
import pg from 'pg'
import t from 'tap'
import { ADMIN_TOKEN, buildTestApp, call } from '../helpers/app.js'
import { policy, roleArn, startTestAws, VENDOR_ARN } from '../helpers/aws.js'
import { connectRole, createApiClient, createCustomer } from '../helpers/fixtures.js'

interface ExternalIdView { id: string, externalId: string, status: string, predecessorId: string | null, retireReason: string | null }
interface Kit { externalIdId: string, rotation: { predecessorExternalIdId: string, successorExternalIdId: string } | null, trustPolicy: { Statement: Array<{ Condition: { StringEquals: { 'sts:ExternalId': string | string[] } } }> } }
interface Rotation { predecessor: ExternalIdView, successor: ExternalIdView, onboarding: Kit }

t.test('rotation', async (t) => {
  const aws = await startTestAws(t)
  const { app, database, databaseUrl } = await buildTestApp(t, aws.env)
  const { prisma } = database
  const worker = await createApiClient(app, ['credentials:issue'])
  const issue = async (connectionId: string): Promise<string | undefined> => {
    const res = await call(app, 'POST', `/v1/connections/${connectionId}/credentials`, { token: worker.token, body: { purpose: 'rotation test', durationSeconds: 900 } })
    if (res.statusCode !== 201) return undefined
    // The external ID deputy sent: the emulator records every call.
    return aws.emulator.calls().filter((c) => c.action === 'AssumeRole' && c.outcome === 'ok').at(-1)?.params.ExternalId
  }
  const rotate = (externalIdId: string, token = ADMIN_TOKEN) => call(app, 'POST', `/v1/external-ids/${externalIdId}/rotate`, { token })
  const verify = (connectionId: string) => call(app, 'POST', `/v1/connections/${connectionId}/verify`, { token: ADMIN_TOKEN })
  const getExternalId = async (id: string) => (await call(app, 'GET', `/v1/external-ids/${id}`, { token: ADMIN_TOKEN })).json<ExternalIdView>()
  const getConnection = async (id: string) => (await call(app, 'GET', `/v1/connections/${id}`, { token: ADMIN_TOKEN })).json<{ externalIdId: string, status: string }>()

  t.test('the whole rotation: issuance works at every step, the predecessor retires only after the successor passed', async (t) => {
    const customer = await createCustomer(app)
    const { connection, externalId, account } = await connectRole(app, aws.emulator, customer.id)
    t.equal(await issue(connection.id), externalId.externalId, 'issues with the current ID')

    const started = await rotate(externalId.id)
    t.equal(started.statusCode, 201, started.body)
    const { predecessor, successor, onboarding } = started.json<Rotation>()
    t.equal(predecessor.id, externalId.id)
    t.match(successor, { status: 'active', predecessorId: externalId.id })
    t.not(successor.externalId, externalId.externalId)
    t.same(onboarding.trustPolicy.Statement[0]?.Condition.StringEquals['sts:ExternalId'], [successor.externalId, externalId.externalId], 'the kit accepts both IDs')
    t.same(onboarding.rotation, { predecessorExternalIdId: externalId.id, successorExternalIdId: successor.id })
    const kitOfPredecessor = (await call(app, 'GET', `/v1/external-ids/${externalId.id}/onboarding`, { token: ADMIN_TOKEN })).json<Kit>()
    t.same(kitOfPredecessor.trustPolicy, onboarding.trustPolicy, 'the predecessor\'s kit is the same two-ID kit')
    const third = await call(app, 'POST', `/v1/customers/${customer.id}/external-ids`, { token: ADMIN_TOKEN, body: { awsAccountId: account } })
    t.match({ status: third.statusCode, ...third.json() }, { status: 409, code: 'external_id_exists' }, 'no third active ID for the account')
    t.equal((await rotate(externalId.id)).json().code, 'rotation_in_progress')
    t.equal((await rotate(successor.id)).json().code, 'rotation_in_progress')
    t.equal(await issue(connection.id), externalId.externalId, 'the predecessor keeps issuing')

    // Not deployed yet: verify probes with the successor, fails, and changes nothing.
    const early = await verify(connection.id)
    t.equal(early.statusCode, 200)
    t.equal(early.json<{ externalIdId: string }>().externalIdId, externalId.id, 'the connection stays on the predecessor')
    t.equal((await getExternalId(externalId.id)).status, 'active')
    const failed = await prisma.auditEvent.findFirstOrThrow({ where: { action: 'connection.probed', resourceId: connection.id, details: { path: ['phase'], equals: 'rotation' } } })
    t.match(failed, { outcome: 'failure', details: { outcome: 'not_assumable', externalIdId: successor.id } })
    t.equal(await issue(connection.id), externalId.externalId, 'still issuing')

    // The customer deploys the kit: the role now accepts both.
    aws.emulator.putRole({ arn: roleArn(account), trustPolicy: onboarding.trustPolicy })
    t.equal(await issue(connection.id), externalId.externalId, 'issuing while deployed, before the move')
    const done = await verify(connection.id)
    t.equal(done.statusCode, 200, done.body)
    t.match(done.json(), { externalIdId: successor.id, status: 'active' }, 'the connection moved to the successor')
    t.match(await getExternalId(externalId.id), { status: 'retired', retireReason: `rotated to external ID ${successor.id}` })
    t.equal((await getExternalId(successor.id)).status, 'active')
    t.equal(await issue(connection.id), successor.externalId, 'issuing with the successor now')
    const events = await prisma.auditEvent.findMany({ where: { OR: [{ resourceId: connection.id }, { resourceId: externalId.id }], action: { in: ['connection.external_id_rotated', 'external_id.retired'] } }, orderBy: { seq: 'asc' } })
    t.match(events, [{ action: 'connection.external_id_rotated', details: { from: externalId.id, to: successor.id } }, { action: 'external_id.retired', details: { reason: 'rotated', successorId: successor.id } }], 'both in the audit trail, in one transaction')
    const kit = (await call(app, 'GET', `/v1/external-ids/${successor.id}/onboarding`, { token: ADMIN_TOKEN })).json<Kit>()
    t.equal(kit.rotation, null)
    t.equal(kit.trustPolicy.Statement[0]?.Condition.StringEquals['sts:ExternalId'], successor.externalId, 'afterwards the kit names the successor alone')
  })

  t.test('a successor that fails the confused-deputy probe leaves everything as it was', async (t) => {
    const customer = await createCustomer(app)
    const { connection, externalId, account } = await connectRole(app, aws.emulator, customer.id)
    const { successor } = (await rotate(externalId.id)).json<Rotation>()
    // The customer "deploys" a role that accepts the successor but also no ID at all.
    aws.emulator.putRole({
      arn: roleArn(account),
      trustPolicy: policy(
        { Effect: 'Allow', Principal: { AWS: VENDOR_ARN }, Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'], Condition: { StringEquals: { 'sts:ExternalId': [successor.externalId, externalId.externalId] } } },
        { Effect: 'Allow', Principal: { AWS: VENDOR_ARN }, Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'], Condition: { Null: { 'sts:ExternalId': 'true' } } }
      )
    })
    const res = await verify(connection.id)
    t.equal((await getConnection(connection.id)).externalIdId, externalId.id, 'not moved')
    t.equal((await getExternalId(externalId.id)).status, 'active', 'predecessor not retired')
    t.equal(res.json<{ status: string }>().status, 'insecure', 'and the predecessor\'s own probe finds the loosened role')
    t.match(await prisma.auditEvent.findFirstOrThrow({ where: { action: 'connection.probed', resourceId: connection.id, details: { path: ['phase'], equals: 'rotation' } } }), { details: { outcome: 'insecure', externalIdId: successor.id } })
  })

  t.test('abandoning a rotation: retire the successor; the account can rotate again', async (t) => {
    const customer = await createCustomer(app)
    const { connection, externalId } = await connectRole(app, aws.emulator, customer.id)
    const { successor } = (await rotate(externalId.id)).json<Rotation>()
    t.equal((await call(app, 'POST', `/v1/external-ids/${successor.id}/retire`, { token: ADMIN_TOKEN, body: { reason: 'customer could not deploy' } })).statusCode, 200)
    t.equal((await getConnection(connection.id)).status, 'active', 'the connection is untouched')
    t.equal(await issue(connection.id), externalId.externalId)
    t.equal((await call(app, 'GET', `/v1/external-ids/${externalId.id}/onboarding`, { token: ADMIN_TOKEN })).json<Kit>().rotation, null)
    t.equal((await rotate(externalId.id)).statusCode, 201, 'a new rotation can start')
  })

  t.test('a rotation abandoned while verify probes the successor: 409, nothing moved, nothing retired', async (t) => {
    const customer = await createCustomer(app)
    const { connection, externalId, account } = await connectRole(app, aws.emulator, customer.id)
    const { successor, onboarding } = (await rotate(externalId.id)).json<Rotation>()
    aws.emulator.putRole({ arn: roleArn(account), trustPolicy: onboarding.trustPolicy })
    aws.emulator.injectFault({ kind: 'latency', latencyMs: 600, count: 1 })
    const verifying = verify(connection.id)
    await new Promise((resolve) => setTimeout(resolve, 200))
    t.equal((await call(app, 'POST', `/v1/external-ids/${successor.id}/retire`, { token: ADMIN_TOKEN, body: { reason: 'abandoned' } })).statusCode, 200)
    const res = await verifying
    t.match({ status: res.statusCode, ...res.json() }, { status: 409, code: 'connection_changed' })
    t.equal((await getConnection(connection.id)).externalIdId, externalId.id, 'not moved')
    t.equal((await getExternalId(externalId.id)).status, 'active', 'the predecessor stays active')
    t.equal(await issue(connection.id), externalId.externalId, 'and keeps issuing')
  })

  t.test('a retried rotation with the same Idempotency-Key gets the same successor back', async (t) => {
    const customer = await createCustomer(app)
    const { externalId } = await connectRole(app, aws.emulator, customer.id)
    const send = () => call(app, 'POST', `/v1/external-ids/${externalId.id}/rotate`, { token: ADMIN_TOKEN, headers: { 'idempotency-key': `rotate-${externalId.id}` } })
    const first = await send()
    const again = await send()
    t.equal(first.statusCode, 201)
    t.equal(again.statusCode, 201)
    t.equal(again.headers['idempotent-replayed'], 'true')
    t.equal(again.json<Rotation>().successor.id, first.json<Rotation>().successor.id)
    t.equal(await prisma.externalId.count({ where: { predecessorId: externalId.id } }), 1, 'one successor')
    // The same key for another ID is a different request: 422, documented in openapi.yaml.
    const other = await connectRole(app, aws.emulator, customer.id)
    const reused = await call(app, 'POST', `/v1/external-ids/${other.externalId.id}/rotate`, { token: ADMIN_TOKEN, headers: { 'idempotency-key': `rotate-${externalId.id}` } })
    t.match({ status: reused.statusCode, ...reused.json() }, { status: 422, code: 'idempotency_key_reused' })
    t.equal(await prisma.externalId.count({ where: { predecessorId: other.externalId.id } }), 0, 'and nothing minted')
  })

  t.test('bound clients rotate only their own IDs; retired IDs are not rotated', async (t) => {
    const customer = await createCustomer(app)
    const other = await createCustomer(app)
    const { externalId } = await connectRole(app, aws.emulator, other.id)
    const bound = await createApiClient(app, ['external-ids:write', 'external-ids:read'], customer.id)
    t.equal((await rotate(externalId.id, bound.token)).statusCode, 404)
    await call(app, 'POST', `/v1/external-ids/${externalId.id}/retire`, { token: ADMIN_TOKEN, body: { reason: 'gone' } })
    t.equal((await rotate(externalId.id)).json().code, 'external_id_not_active')
  })

  t.test('the database holds the rules whatever the code does', async (t) => {
    const sql = new pg.Client({ connectionString: databaseUrl })
    await sql.connect()
    t.teardown(() => sql.end())
    const customer = await createCustomer(app)
    const { connection, externalId } = await connectRole(app, aws.emulator, customer.id)
    const other = await connectRole(app, aws.emulator, customer.id)
    const insert = (predecessorId: string | null) => sql.query('INSERT INTO external_ids (customer_id, aws_account_id, value, predecessor_id) VALUES ($1, $2, $3, $4) RETURNING id', [customer.id, externalId.awsAccountId, randomUUID(), predecessorId])
    await t.rejects(insert(null), /external_ids_one_active_per_account/, 'a second unlinked active ID is refused')
    await t.rejects(insert(other.externalId.id), /same customer and account/, 'a successor of another account\'s ID is refused')
    await t.rejects(sql.query('UPDATE connections SET external_id_id = $1 WHERE id = $2', [other.externalId.id, connection.id]), /only move to the active successor/, 'a connection cannot move to any ID but its successor')
    const successor = await insert(externalId.id)
    await t.rejects(insert(externalId.id), /external_ids_one_active_per_account/, 'a second successor is refused')
    await t.rejects(sql.query('UPDATE external_ids SET predecessor_id = NULL WHERE id = $1', [successor.rows[0].id]), /immutable/, 'the link never changes')
    await sql.query('BEGIN ISOLATION LEVEL REPEATABLE READ')
    await t.rejects(insert(null), /READ COMMITTED only/, 'the rule is checked only where it holds')
    await sql.query('ROLLBACK')
  })
})
