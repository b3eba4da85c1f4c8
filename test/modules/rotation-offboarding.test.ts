// A rotation racing an offboarding: the rotation share-locks the customer's status as a mint does,
// so no active successor survives on an offboarded customer, whichever commits first; and the
// onboarding kit is handed out only for IDs of active customers. Real interleavings in
// PostgreSQL, through the API and the STS emulator.
import t from 'tap'
import { ADMIN_TOKEN, buildTestApp, call } from '../helpers/app.js'
import { interleavingOn } from '../helpers/interleaving.js'
import { startTestAws } from '../helpers/aws.js'
import { connectRole, createCustomer } from '../helpers/fixtures.js'

t.test('rotation against offboarding', async (t) => {
  const aws = await startTestAws(t)
  const { app, database, databaseUrl } = await buildTestApp(t, aws.env)
  const { sql, held, holdAudit } = interleavingOn(databaseUrl)

  const rotate = (externalIdId: string) => call(app, 'POST', `/v1/external-ids/${externalIdId}/rotate`, { token: ADMIN_TOKEN })
  const offboard = (customerId: string) => call(app, 'POST', `/v1/customers/${customerId}/offboard`, { token: ADMIN_TOKEN, body: { reason: 'contract ended' } })
  const kit = (externalIdId: string) => call(app, 'GET', `/v1/external-ids/${externalIdId}/onboarding`, { token: ADMIN_TOKEN })
  /** Waits until some statement waits for a row lock (a tuple or the transaction holding it). */
  const waitingForRow = async (): Promise<boolean> => {
    for (let i = 0; i < 500; i++) {
      const { rows } = await sql("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event IN ('transactionid', 'tuple')")
      if ((rows[0] as { n: number }).n > 0) return true
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    return false
  }
  const activeIds = (customerId: string) => database.prisma.externalId.count({ where: { customerId, status: 'active' } })

  t.test('the rotation commits first: the offboarding waits for it, then retires the successor too', async (t) => {
    const customer = await createCustomer(app)
    const { externalId } = await connectRole(app, aws.emulator, customer.id)
    const release = await holdAudit(t, 'external_id.minted')
    const rotating = rotate(externalId.id)
    t.ok(await held(), 'the rotation has inserted its successor and is still open')
    const offboarding = offboard(customer.id)
    t.ok(await waitingForRow(), 'the offboarding waits for the customer row the rotation share-locked')
    await release()
    const [rotated, offboarded] = await Promise.all([rotating, offboarding])
    // The rotation committed; the kit it then builds may already see the offboarding (409).
    t.ok([201, 409].includes(rotated.statusCode), `rotation answered ${rotated.statusCode}`)
    t.equal(offboarded.statusCode, 200)
    const successor = await database.prisma.externalId.findFirstOrThrow({ where: { predecessorId: externalId.id } })
    t.ok(offboarded.json<{ retiredExternalIds: Array<{ id: string }> }>().retiredExternalIds.some((e) => e.id === successor.id), 'the offboarding retired the successor it waited for')
    t.equal(await activeIds(customer.id), 0, 'no active external ID on an offboarded customer')
    t.equal((await kit(successor.id)).statusCode, 409, 'and no kit for it')
  })

  t.test('the offboarding commits first: the rotation waits for it, then is refused', async (t) => {
    const customer = await createCustomer(app)
    const { externalId } = await connectRole(app, aws.emulator, customer.id)
    const release = await holdAudit(t, 'customer.offboarded')
    const offboarding = offboard(customer.id)
    t.ok(await held(), 'the offboarding has updated the customer and is still open')
    const rotating = rotate(externalId.id)
    t.ok(await waitingForRow(), 'the rotation waits for the customer row')
    await release()
    t.equal((await offboarding).statusCode, 200)
    const rotated = await rotating
    t.equal(rotated.statusCode, 409)
    t.equal(rotated.json().code, 'customer_not_active')
    t.match(rotated.json().detail, /is offboarded/)
    t.equal(await activeIds(customer.id), 0, 'no successor was minted')
    t.equal(await database.prisma.externalId.count({ where: { predecessorId: externalId.id } }), 0)
  })

  t.test('the onboarding kit: 409 customer_not_active for an ID of a suspended customer, served again once resumed', async (t) => {
    const customer = await createCustomer(app)
    const { externalId } = await connectRole(app, aws.emulator, customer.id)
    t.equal((await kit(externalId.id)).statusCode, 200)
    t.equal((await call(app, 'POST', `/v1/customers/${customer.id}/suspend`, { token: ADMIN_TOKEN, body: { reason: 'unpaid invoice' } })).statusCode, 200)
    const refused = await kit(externalId.id)
    t.equal(refused.statusCode, 409)
    t.equal(refused.headers['content-type'], 'application/problem+json; charset=utf-8')
    t.match(refused.json(), { code: 'customer_not_active', detail: /is suspended/ })
    t.notMatch(refused.body, new RegExp(externalId.externalId), 'the refusal does not carry the external ID')
    t.equal((await call(app, 'POST', `/v1/customers/${customer.id}/resume`, { token: ADMIN_TOKEN, body: {} })).statusCode, 200)
    t.equal((await kit(externalId.id)).statusCode, 200)
  })
})
