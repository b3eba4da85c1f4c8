// The audit trail API: filters, newest-first keyset pagination, the oldest-first feed that never
// skips a late commit, tenant isolation, auth audit.
import t from 'tap'
import { ADMIN_TOKEN, buildTestApp, call } from '../helpers/app.js'
import { awsAccount, createApiClient, createCustomer, mintExternalId } from '../helpers/fixtures.js'
import { interleavingOn } from '../helpers/interleaving.js'

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

  t.test('a page names the clients that acted, beside the events (not in them)', async (t) => {
    const writer = await createApiClient(app, ['external-ids:write'])
    const minted = await mintExternalId(app, acme.id, awsAccount(), writer.token)
    const res = await call(app, 'GET', `/v1/audit-events?resourceId=${minted.id}`, { token: auditor.token })
    const page = res.json<EventPage & { actorNames: Record<string, string> }>()
    t.same(page.items.map((e) => e.actorClientId), [writer.id])
    t.same(page.actorNames, { [writer.id]: writer.name }, 'the actor\'s name, and only the actors of this page')
    t.notOk('actorName' in (page.items[0] ?? {}), 'the event itself is unchanged')
    t.same((await list('?since=2999-01-01T00:00:00Z') as EventPage & { actorNames: unknown }).actorNames, {}, 'no event, no names')
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

t.test('a late commit: order=asc and the export resume past it without missing it; newest-first paging passes it', async (t) => {
  const { app, database, databaseUrl } = await buildTestApp(t, { AUDIT_SEAL_INTERVAL_MS: '0', LOG_LEVEL: 'warn' })
  const acme = await createCustomer(app)
  await mintExternalId(app, acme.id, awsAccount())
  await app.auditSealer.runOnce()
  const get = async (url: string): Promise<string> => {
    const res = await call(app, 'GET', url, { token: ADMIN_TOKEN })
    t.equal(res.statusCode, 200, `GET ${url}`)
    return res.body
  }

  // A feed client: follows nextCursor in ascending order until a short page.
  const feed: string[] = []
  let cursor = ''
  const readFeed = async (): Promise<void> => {
    for (;;) {
      const page = JSON.parse(await get(`/v1/audit-events?order=asc&limit=2${cursor}`)) as EventPage
      feed.push(...page.items.map((e) => e.seq))
      t.not(page.nextCursor, null, 'ascending: always a cursor to resume from')
      cursor = `&cursor=${page.nextCursor ?? ''}`
      if (page.items.length < 2) return
    }
  }
  // An export client: resumes after the last seq it received.
  const exported: string[] = []
  const readExport = async (): Promise<void> => {
    const lines = (await get(`/v1/audit-events/export?afterSeq=${exported.at(-1) ?? '0'}`)).split('\n').filter((l) => l !== '')
    for (const line of lines) {
      const { event, seal } = JSON.parse(line) as { event: Event, seal: { throughSeq: string } | null }
      t.equal(seal?.throughSeq, event.seq, `event ${event.seq} exported with its seal`)
      exported.push(event.seq)
    }
  }
  await readFeed()
  await readExport()
  t.ok(feed.length >= 2, `the feed read the ${feed.length} sealed events`)
  t.same(exported, feed)

  // A customer.created event takes its seq, then waits inside its transaction; three later
  // events commit meanwhile.
  const interleaving = interleavingOn(databaseUrl)
  const release = await interleaving.holdAudit(t, 'customer.created')
  const creating = call(app, 'POST', '/v1/customers', { token: ADMIN_TOKEN, body: { name: 'Late Inc' } })
  t.ok(await interleaving.held(), 'the customer.created insert waits, holding its seq')
  for (let i = 0; i < 3; i++) await mintExternalId(app, acme.id, awsAccount())
  const blocked = await app.auditSealer.runOnce()
  const lateSeq = blocked.waitingForSeq
  t.not(lateSeq, null, 'the sealer stops before the uncommitted seq')
  const late = String(lateSeq)
  const newestFirst = JSON.parse(await get('/v1/audit-events?limit=4')) as EventPage
  t.same(newestFirst.items.map((e) => e.action), ['external_id.minted', 'external_id.minted', 'external_id.minted', 'external_id.minted'], 'newest first: the three later events and one before the gap')
  t.ok(BigInt(newestFirst.items.at(-1)?.seq ?? '0') < BigInt(late), 'the first page reaches below the late seq')
  await readFeed()
  await readExport()
  t.notOk(feed.includes(late) || exported.includes(late), 'not visible yet')
  t.ok(feed.every((s) => BigInt(s) < BigInt(late)) && exported.every((s) => BigInt(s) < BigInt(late)), 'and neither reader moved past it')

  await release()
  const created = await creating
  t.equal(created.statusCode, 201, created.body)
  t.equal((await app.auditSealer.runOnce()).waitingForSeq, null)

  // Newest-first: the rest of the walk from the first page never shows the late event.
  const walked: string[] = []
  let next = newestFirst.nextCursor
  while (next !== null) {
    const page = JSON.parse(await get(`/v1/audit-events?limit=2&cursor=${next}`)) as EventPage
    walked.push(...page.items.map((e) => e.seq))
    next = page.nextCursor
  }
  t.notOk(walked.includes(late), 'the newest-first walk passed the late event (what README documents)')

  await readFeed()
  await readExport()
  const committed = (await database.prisma.auditEvent.findMany({ select: { seq: true, action: true }, orderBy: { seq: 'asc' } }))
  t.same(feed, committed.map((e) => e.seq.toString()), 'the ascending feed: every committed event exactly once, in seq order, the late one included')
  t.same(exported, feed, 'the resumed export: the same')
  t.equal(committed.find((e) => e.seq.toString() === late)?.action, 'customer.created')

  const res = await call(app, 'GET', `/v1/audit-events?order=asc&cursor=${newestFirst.nextCursor ?? ''}`, { token: ADMIN_TOKEN })
  t.equal(res.statusCode, 400, 'a newest-first cursor is not an ascending one')
  t.equal(res.json<{ code: string }>().code, 'invalid_cursor')
  t.equal((await call(app, 'GET', '/v1/audit-events/export?afterSeq=9223372036854775808', { token: ADMIN_TOKEN })).statusCode, 400, 'afterSeq beyond any seq')
})
