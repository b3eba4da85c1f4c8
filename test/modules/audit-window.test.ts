// A customer's audit events in a time window (customerId and until, with or without since): read
// window-first (audit.repository.ts, windowPage; measured by `npm run bench`, goal 3), they must
// be exactly what the same filters select among the customer's events, in seq order both ways,
// across cursor pages, within a bound token's customer, and with other filters too.
import t from 'tap'
import { ADMIN_TOKEN, buildTestApp, call } from '../helpers/app.js'
import { awsAccount, createApiClient, createCustomer, mintExternalId } from '../helpers/fixtures.js'

interface Event { seq: string, action: string, customerId: string | null, occurredAt: string }
interface EventPage { items: Event[], nextCursor: string | null }

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

t.test('a customer\'s events in a time window', async (t) => {
  const { app } = await buildTestApp(t, { AUDIT_SEAL_INTERVAL_MS: '0', LOG_LEVEL: 'warn' })
  const acme = await createCustomer(app)
  const globex = await createCustomer(app)
  // Events before, inside and after the window, for both customers, interleaved.
  const mintBoth = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      await mintExternalId(app, acme.id, awsAccount())
      await mintExternalId(app, globex.id, awsAccount())
    }
  }
  await mintBoth(2)
  await pause(20)
  const since = new Date()
  await pause(20)
  await mintBoth(5)
  await pause(20)
  const until = new Date()
  await pause(20)
  await mintBoth(2)
  await app.auditSealer.runOnce()

  const list = async (query: string, token = ADMIN_TOKEN): Promise<EventPage> => {
    const res = await call(app, 'GET', `/v1/audit-events${query}`, { token })
    t.equal(res.statusCode, 200, res.body)
    return res.json<EventPage>()
  }
  const window = `since=${since.toISOString()}&until=${until.toISOString()}`
  const everything = (await list(`?customerId=${acme.id}&limit=500`)).items
  const inWindow = everything.filter((e) => e.occurredAt >= since.toISOString() && e.occurredAt < until.toISOString())
  const seqs = (events: Event[]): string[] => events.map((e) => e.seq)

  t.test('exactly the window\'s events of that customer, newest first', async (t) => {
    t.equal(inWindow.length, 5, 'five mints inside the window')
    const page = await list(`?customerId=${acme.id}&${window}`)
    t.same(seqs(page.items), seqs(inWindow))
    t.equal(page.nextCursor, null)
    t.ok(page.items.every((e) => e.customerId === acme.id && e.action === 'external_id.minted'))
  })

  t.test('cursor pages cover the window once, both ways', async (t) => {
    const walk = async (order: string): Promise<string[]> => {
      const read: string[] = []
      let cursor = ''
      for (let pages = 0; pages < 10; pages++) {
        const page = await list(`?customerId=${acme.id}&${window}&limit=2${order}${cursor}`)
        read.push(...seqs(page.items))
        if (page.nextCursor === null || page.items.length < 2) break
        cursor = `&cursor=${page.nextCursor}`
      }
      return read
    }
    t.same(await walk(''), seqs(inWindow), 'newest first')
    t.same(await walk('&order=asc'), seqs(inWindow).reverse(), 'oldest first, through the sealed horizon')
  })

  t.test('until alone, and with another filter', async (t) => {
    const before = await list(`?customerId=${acme.id}&until=${until.toISOString()}&limit=500`)
    t.same(seqs(before.items), seqs(everything.filter((e) => e.occurredAt < until.toISOString())))
    const created = await list(`?customerId=${acme.id}&action=customer.created&until=${until.toISOString()}`)
    t.same(created.items.map((e) => e.action), ['customer.created'])
    const none = await list(`?customerId=${acme.id}&action=connection.revoked&${window}`)
    t.same(none.items, [])
  })

  t.test('a token bound to a customer gets only that customer\'s window', async (t) => {
    const acmeAuditor = await createApiClient(app, ['audit:read'], acme.id)
    const bound = await list(`?${window}`, acmeAuditor.token)
    t.same(seqs(bound.items), seqs(inWindow))
    const other = await call(app, 'GET', `/v1/audit-events?customerId=${globex.id}&${window}`, { token: acmeAuditor.token })
    t.equal(other.statusCode, 404)
  })
})
