// Customers over HTTP: create, duplicate externalRef, listing, tenant isolation, audit.
import t from 'tap'
import { ADMIN_TOKEN, buildTestApp, call } from '../helpers/app.js'
import { createApiClient, createCustomer } from '../helpers/fixtures.js'

t.test('customers', async (t) => {
  const { app, database } = await buildTestApp(t)

  t.test('create returns the customer and audits customer.created', async (t) => {
    const res = await call(app, 'POST', '/v1/customers', { token: ADMIN_TOKEN, body: { name: 'Initech', externalRef: 'crm-42' } })
    t.equal(res.statusCode, 201)
    t.match(res.json(), { name: 'Initech', externalRef: 'crm-42', status: 'active' })
    const event = await database.prisma.auditEvent.findFirst({ where: { action: 'customer.created', resourceId: res.json().id } })
    t.match(event, { outcome: 'success', customerId: res.json().id, details: { name: 'Initech', externalRef: 'crm-42' } })
  })

  t.test('a duplicate externalRef is 409 and creates nothing', async (t) => {
    const first = await createCustomer(app, { externalRef: 'dup-ref' })
    const before = await database.prisma.customer.count()
    const res = await call(app, 'POST', '/v1/customers', { token: ADMIN_TOKEN, body: { name: 'Other', externalRef: 'dup-ref' } })
    t.equal(res.statusCode, 409)
    t.match(res.json(), { code: 'customer_external_ref_taken', existingCustomerId: first.id })
    t.equal(await database.prisma.customer.count(), before)
  })

  t.test('validation', async (t) => {
    for (const body of [{}, { name: '' }, { name: 'x'.repeat(201) }, { name: 'ok', externalRef: 'has space' }, { name: 'ok', status: 'suspended' }]) {
      const res = await call(app, 'POST', '/v1/customers', { token: ADMIN_TOKEN, body })
      t.equal(res.statusCode, 400, JSON.stringify(body))
      t.equal(res.json().code, 'validation_failed')
    }
  })

  t.test('list pages through every customer once', async (t) => {
    const created = [await createCustomer(app), await createCustomer(app), await createCustomer(app)]
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const res = await call(app, 'GET', `/v1/customers?limit=2${cursor === null ? '' : `&cursor=${cursor}`}`, { token: ADMIN_TOKEN })
      t.equal(res.statusCode, 200)
      const page = res.json<{ items: Array<{ id: string }>, nextCursor: string | null }>()
      t.ok(page.items.length <= 2)
      seen.push(...page.items.map((c) => c.id))
      cursor = page.nextCursor
    } while (cursor !== null)
    t.equal(new Set(seen).size, seen.length, 'no duplicates across pages')
    for (const c of created) t.ok(seen.includes(c.id))
  })

  t.test('newest first (order=desc) pages through every customer once, with the total matched', async (t) => {
    const tag = `order${Date.now()}`
    const created: string[] = []
    for (let i = 0; i < 5; i++) created.push((await createCustomer(app, { name: `${tag} ${i}` })).id)
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const res = await call(app, 'GET', `/v1/customers?order=desc&limit=2&search=${tag}${cursor === null ? '' : `&cursor=${cursor}`}`, { token: ADMIN_TOKEN })
      t.equal(res.statusCode, 200)
      const page = res.json<{ items: Array<{ id: string }>, nextCursor: string | null, total: number }>()
      t.equal(page.total, 5, 'the total of every page, not of this one')
      seen.push(...page.items.map((c) => c.id))
      cursor = page.nextCursor
    } while (cursor !== null)
    t.same(seen, [...created].reverse(), 'newest first, each once')
    const oldest = (await call(app, 'GET', `/v1/customers?limit=1&search=${tag}`, { token: ADMIN_TOKEN })).json<{ items: Array<{ id: string }>, total: number }>()
    t.same([oldest.items[0]?.id, oldest.total], [created[0], 5], 'oldest first stays the default')
    const bound = await createApiClient(app, ['customers:read'], created[2])
    t.equal((await call(app, 'GET', '/v1/customers', { token: bound.token })).json<{ total: number }>().total, 1, 'a bound token counts its own customer only')
    t.equal((await call(app, 'GET', '/v1/customers?order=newest', { token: ADMIN_TOKEN })).json().code, 'validation_failed')
  })

  t.test('list filters by search text and status, across pages', async (t) => {
    const tag = `srch${Date.now()}`
    const acme = (await call(app, 'POST', '/v1/customers', { token: ADMIN_TOKEN, body: { name: `ACME ${tag} Ltd` } })).json<{ id: string }>()
    const byRef = (await call(app, 'POST', '/v1/customers', { token: ADMIN_TOKEN, body: { name: 'Globex', externalRef: `crm-${tag}` } })).json<{ id: string }>()
    const literal = (await call(app, 'POST', '/v1/customers', { token: ADMIN_TOKEN, body: { name: `100%_${tag}` } })).json<{ id: string }>()
    await createCustomer(app)
    const search = async (query: string): Promise<string[]> => {
      const ids: string[] = []
      let cursor: string | null = null
      do {
        const res = await call(app, 'GET', `/v1/customers?limit=1&${query}${cursor === null ? '' : `&cursor=${cursor}`}`, { token: ADMIN_TOKEN })
        t.equal(res.statusCode, 200, query)
        const page = res.json<{ items: Array<{ id: string }>, nextCursor: string | null }>()
        ids.push(...page.items.map((c) => c.id))
        cursor = page.nextCursor
      } while (cursor !== null)
      return ids.sort()
    }
    t.same(await search(`search=${tag.toUpperCase()}`), [acme.id, byRef.id, literal.id].sort(), 'name or externalRef, case-insensitive, every page')
    t.same(await search(`search=${encodeURIComponent(`0%_${tag}`)}`), [literal.id])
    t.same(await search(`search=${encodeURIComponent(`A%${tag}`)}`), [], '% is not a wildcard (it would match "ACME <tag>")')
    t.same(await search(`search=${encodeURIComponent(`ACME_${tag}`)}`), [], '_ is not a wildcard (it would match "ACME <tag>")')
    await call(app, 'POST', `/v1/customers/${acme.id}/suspend`, { token: ADMIN_TOKEN, body: { reason: 'search test' } })
    t.same(await search(`search=${tag}&status=suspended`), [acme.id])
    t.same(await search(`search=${tag}&status=active`), [byRef.id, literal.id].sort())
    const bound = await createApiClient(app, ['customers:read'], byRef.id)
    const boundSearch = await call(app, 'GET', `/v1/customers?search=${tag}`, { token: bound.token })
    t.same(boundSearch.json<{ items: Array<{ id: string }> }>().items.map((c) => c.id), [byRef.id], 'a bound token finds its own customer only, whatever it searches')
    t.same((await call(app, 'GET', '/v1/customers?search=ACME', { token: bound.token })).json<{ items: unknown[] }>().items, [], 'another customer\'s name finds nothing')
    const bad = await call(app, 'GET', '/v1/customers?status=deleted', { token: ADMIN_TOKEN })
    t.equal(bad.statusCode, 400)
    t.equal(bad.json().code, 'validation_failed')
  })

  t.test('scopes and tenant isolation', async (t) => {
    const mine = await createCustomer(app)
    const theirs = await createCustomer(app)
    const bound = await createApiClient(app, ['customers:read', 'customers:write'], mine.id)
    const writer = await createApiClient(app, ['customers:write'])

    t.equal((await call(app, 'GET', '/v1/customers')).statusCode, 401)
    t.equal((await call(app, 'GET', `/v1/customers/${mine.id}`)).statusCode, 401)
    t.equal((await call(app, 'GET', '/v1/customers', { token: writer.token })).statusCode, 403)
    t.equal((await call(app, 'GET', `/v1/customers/${mine.id}`, { token: writer.token })).statusCode, 403)

    const list = await call(app, 'GET', '/v1/customers', { token: bound.token })
    t.same(list.json().items.map((c: { id: string }) => c.id), [mine.id], 'a bound client lists only its customer')
    t.equal((await call(app, 'GET', `/v1/customers/${mine.id}`, { token: bound.token })).statusCode, 200)
    const other = await call(app, 'GET', `/v1/customers/${theirs.id}`, { token: bound.token })
    t.equal(other.statusCode, 404)
    t.equal(other.json().code, 'not_found')
    const create = await call(app, 'POST', '/v1/customers', { token: bound.token, body: { name: 'Sneaky' } })
    t.equal(create.statusCode, 403)
    t.equal(create.json().code, 'customer_bound_client')
  })
})
