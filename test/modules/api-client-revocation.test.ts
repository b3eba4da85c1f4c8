// Revoking an API client while it is being issued credentials: the client's row is share-locked
// where the credentials.issued event commits, and revocation takes it FOR UPDATE, so either the
// issuance committed first (and the revocation waits for it) or the session AWS issued is dropped
// and audited. Real interleavings in PostgreSQL, both orders, through the API and the emulator.
import t from 'tap'
import { ADMIN_TOKEN, buildTestApp, call } from '../helpers/app.js'
import { interleavingOn } from '../helpers/interleaving.js'
import { startTestAws } from '../helpers/aws.js'
import { createApiClient, createCustomer, connectRole } from '../helpers/fixtures.js'

t.test('API-client revocation against its issuance in flight', async (t) => {
  const aws = await startTestAws(t)
  const { app, database, databaseUrl } = await buildTestApp(t, aws.env)
  const customer = await createCustomer(app)
  const { sql, held, holdAudit } = interleavingOn(databaseUrl)

  const issue = (connectionId: string, token: string) =>
    call(app, 'POST', `/v1/connections/${connectionId}/credentials`, { token, body: { purpose: 'client revocation race' } })
  const revoke = (clientId: string) => call(app, 'POST', `/v1/api-clients/${clientId}/revoke`, { token: ADMIN_TOKEN })
  const assumeRoleCalls = () => aws.emulator.calls().filter((c) => c.action === 'AssumeRole')
  /** Waits until some statement waits for a row lock (a tuple or the transaction holding it). */
  const waitingForRow = async (): Promise<boolean> => {
    for (let i = 0; i < 500; i++) {
      const { rows } = await sql("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event IN ('transactionid', 'tuple')")
      if ((rows[0] as { n: number }).n > 0) return true
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    return false
  }
  const trail = (connectionId: string, clientId: string) => database.prisma.auditEvent.findMany({
    where: { OR: [{ resourceId: connectionId, action: { in: ['credentials.issued', 'credentials.denied'] } }, { resourceId: clientId, action: 'api_client.revoked' }] },
    orderBy: { seq: 'asc' }
  })

  t.test('the revocation commits while the issuance waits to commit: no credentials leave, the dropped session is audited', async (t) => {
    const { connection } = await connectRole(app, aws.emulator, customer.id)
    const worker = await createApiClient(app, ['credentials:issue'])
    const release = await holdAudit(t, 'api_client.revoked')
    const finished: string[] = []
    const revoking = revoke(worker.id).then((res) => { finished.push('revoke'); return res })
    t.ok(await held(), 'the revocation holds the client row, inside its audit insert')
    // Authenticated (the revocation has not committed), asks STS, then waits for the client row.
    const issuing = issue(connection.id, worker.token).then((res) => { finished.push('issue'); return res })
    t.ok(await waitingForRow(), 'the issuance waits for the client row where its event would commit')
    await release()
    const [revoked, issued] = await Promise.all([revoking, issuing])
    t.equal(revoked.statusCode, 200)
    t.equal(issued.statusCode, 401, issued.statusCode === 401 ? 'refused' : 'not refused')
    t.equal(issued.json().code, 'unauthorized')
    t.match(issued.json().detail, /revoked while the credentials were being issued/)
    t.notMatch(issued.body, /ASIA[A-Z0-9]{16}|secretAccessKey|sessionToken/, 'no credential in the answer')
    t.same(finished, ['revoke', 'issue'])
    t.equal(assumeRoleCalls().at(-1)?.outcome, 'ok', 'AWS had issued the session')
    const events = await trail(connection.id, worker.id)
    t.same(events.map((e) => e.action), ['api_client.revoked', 'credentials.denied'], 'no credentials.issued event')
    t.match(events[1], { actorClientId: worker.id, customerId: customer.id, details: { reason: 'client_revoked_during_issuance', accessKeyId: /^ASIA/, expiration: /^\d{4}-/, sessionName: /\./ } })
  })

  t.test('the issuance commits first: the revocation waits for it; issued strictly before revoked', async (t) => {
    const { connection } = await connectRole(app, aws.emulator, customer.id)
    const worker = await createApiClient(app, ['credentials:issue'])
    const release = await holdAudit(t, 'credentials.issued')
    const finished: string[] = []
    const issuing = issue(connection.id, worker.token).then((res) => { finished.push('issue'); return res })
    t.ok(await held(), 'the issuance holds its share locks, inside its audit insert')
    const revoking = revoke(worker.id).then((res) => { finished.push('revoke'); return res })
    t.ok(await waitingForRow(), 'the revocation waits for the client row')
    await release()
    const [issued, revoked] = await Promise.all([issuing, revoking])
    t.equal(issued.statusCode, 201, issued.statusCode === 201 ? 'issued' : issued.body)
    t.equal(revoked.statusCode, 200)
    t.same(finished, ['issue', 'revoke'], 'the revocation waited for the issuance to commit')
    const events = await trail(connection.id, worker.id)
    t.same(events.map((e) => e.action), ['credentials.issued', 'api_client.revoked'])
    const revokedAt = Date.parse(revoked.json<{ revokedAt: string }>().revokedAt)
    t.ok((events[0]?.occurredAt.getTime() ?? Infinity) <= revokedAt, 'the issued event is not after revokedAt')
    t.equal((await issue(connection.id, worker.token)).statusCode, 401, 'and the token issues nothing afterwards')
  })
})
