// The audit trail API: filters, newest-first keyset pagination, tenant isolation, auth audit.
import t from 'tap'
import { ADMIN_TOKEN, buildTestApp, call } from '../helpers/app.js'
import { awsAccount, createApiClient, createCustomer, mintExternalId } from '../helpers/fixtures.js'

interface Event { seq: string, action: string, customerId: string | null, outcome: string, actorClientId: string | null, resourceId: string | null, occurredAt: string }
interface EventPage { items: Event[], nextCursor: string | null }

t.test('audit events', async (t) => {
  const { app } = await buildTestApp(t)
  const acme = await createCustomer(app)
  const globex = await createCustomer(app)
  const acmeIds = [await mintExternalId(app, acme.id, awsAccount()), await mintExternalId(app, acme.id, awsAccount())]
  await mintExternalId(app, globex.id, awsAccount())
  const auditor = await createApiClient(app, ['audit:read'])
  const acmeAuditor = await createApiClient(app, ['audit:read'], acme.id)

  const list = async (query: string, token = auditor.token): Promise<EventPage> => {
    const res = await call(app, 'GET', `/v1/audit-events${query}`, { token })
    t.equal(res.statusCode, 200, res.body)
    return res.json<EventPage>()
  }

  t.test('newest first, and pages cover everything exactly once', async (t) => {
    const all = await list('?limit=500')
    const seqs = all.items.map((e) => BigInt(e.seq))
    t.same(seqs, [...seqs].sort((a, b) => (a < b ? 1 : -1)), 'strictly newest first')
    const paged: string[] = []
    let cursor: string | null = null
    do {
      const page: EventPage = await list(`?limit=3${cursor === null ? '' : `&cursor=${cursor}`}`)
      paged.push(...page.items.map((e) => e.seq))
      cursor = page.nextCursor
    } while (cursor !== null)
    t.same(paged, all.items.map((e) => e.seq).filter((s) => paged.includes(s)).slice(0, paged.length))
    t.ok(paged.length >= all.items.length, 'paging reaches every event present at the start')
  })

  t.test('filters', async (t) => {
    const byCustomer = await list(`?customerId=${acme.id}`)
    t.ok(byCustomer.items.length >= 3)
    t.ok(byCustomer.items.every((e) => e.customerId === acme.id))
    const minted = await list(`?action=external_id.minted&customerId=${acme.id}`)
    t.same(minted.items.map((e) => e.resourceId).sort(), acmeIds.map((e) => e.id).sort())
    const byResource = await list(`?resourceId=${acmeIds[0]?.id ?? ''}`)
    t.same(byResource.items.map((e) => e.action), ['external_id.minted'])
    const byActor = await list(`?actorClientId=${auditor.id}`)
    t.same(byActor.items, [], 'the auditor changed nothing')
    const future = await list(`?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)
    t.same(future.items, [])
    const past = await list(`?until=${encodeURIComponent(new Date(Date.now() - 3_600_000).toISOString())}`)
    t.same(past.items, [])
    const denied = await call(app, 'GET', '/v1/customers', { token: auditor.token })
    t.equal(denied.statusCode, 403)
    const forbidden = await list(`?outcome=denied&actorClientId=${auditor.id}`)
    t.match(forbidden.items, [{ action: 'auth.forbidden', outcome: 'denied' }])
  })

  t.test('failed authentication is audited without the token', async (t) => {
    const res = await call(app, 'GET', '/v1/customers', { token: 'dpt_guessing-a-token-value-0000000000000000000', headers: { 'user-agent': 'probe/1.0' } })
    t.equal(res.statusCode, 401)
    const failed = await list('?action=auth.failed&limit=1')
    const raw = JSON.stringify(failed)
    t.match(failed.items[0], { outcome: 'denied', actorClientId: null, userAgent: 'probe/1.0', details: { reason: 'unknown_token' } })
    t.notOk(raw.includes('guessing-a-token'), 'no token in the audit trail')
  })

  t.test('a bound client sees only its customer\'s events', async (t) => {
    const mine = await list('?limit=500', acmeAuditor.token)
    t.ok(mine.items.length > 0)
    t.ok(mine.items.every((e) => e.customerId === acme.id))
    const other = await call(app, 'GET', `/v1/audit-events?customerId=${globex.id}`, { token: acmeAuditor.token })
    t.equal(other.statusCode, 404)
  })

  t.test('scope, auth and validation', async (t) => {
    const writer = await createApiClient(app, ['customers:write'])
    t.equal((await call(app, 'GET', '/v1/audit-events')).statusCode, 401)
    t.equal((await call(app, 'GET', '/v1/audit-events', { token: writer.token })).statusCode, 403)
    for (const q of ['?limit=501', '?limit=0', '?since=yesterday', '?outcome=maybe', '?cursor=%%%', '?cursor=eyJzZXEiOiJ4In0', '?bogus=1']) {
      const res = await call(app, 'GET', `/v1/audit-events${q}`, { token: ADMIN_TOKEN })
      t.equal(res.statusCode, 400, q)
    }
  })
})
