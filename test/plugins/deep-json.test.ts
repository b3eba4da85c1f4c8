// Deeply nested JSON, within the body limit, to every route that reads a body: a 400 problem
// with a stable code, nothing written. (30,000 nested arrays once overflowed the recursive
// text check and answered 500 internal_error.)
import t from 'tap'
import { ADMIN_TOKEN, buildTestApp } from '../helpers/app.js'
import { collectRoutes, pathOf } from '../helpers/route-table.js'
import { buildSandboxApp } from '../helpers/sandbox-app.js'

const ID = '00000000-0000-4000-8000-000000000000'
const DEEP = 30_000

const deepArrays = `${'['.repeat(DEEP)}${']'.repeat(DEEP)}`
const deepObjects = `${'{"":'.repeat(12_000)}1${'}'.repeat(12_000)}`
// Deep nesting where a route expects a value, inside an otherwise well-shaped body.
const deepInMember = `{"name":${'['.repeat(DEEP)}"x"${']'.repeat(DEEP)}}`

t.test('deeply nested JSON bodies are 400 invalid_request on every route that takes a body or none; nothing written', async (t) => {
  const { app, database } = await buildTestApp(t, { RATE_LIMIT_MAX: '1000000' })
  // Every route a body can be sent to, whether or not it reads one: the idempotency fingerprint
  // walks any body (a deep one to POST .../rotate, which takes none, was a 500).
  const routes = (await collectRoutes()).filter((r) => r.method !== 'GET' && r.method !== 'HEAD')
  t.ok(routes.some((r) => r.body === undefined) && routes.some((r) => r.body !== undefined), 'routes with and without a body schema')
  const eventsBefore = await database.prisma.auditEvent.count()
  const customersBefore = await database.prisma.customer.count()
  for (const route of routes) {
    const url = pathOf(route, Object.fromEntries(route.params.map((name) => [name, ID])))
    for (const [what, payload] of [['arrays', deepArrays], ['objects', deepObjects], ['a member', deepInMember]] as const) {
      t.ok(payload.length < 64 * 1024, 'within the body limit')
      const res = await app.inject({ method: route.method, url, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, payload })
      t.equal(res.statusCode, 400, `${route.key}: deep ${what}`)
      t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
      t.equal(res.json<{ code: string }>().code, 'invalid_request', `${route.key}: deep ${what}`)
    }
  }
  t.equal(await database.prisma.customer.count(), customersBefore, 'no customer created')
  // Refusals may be audited as refusals; nothing else.
  const written = await database.prisma.auditEvent.findMany({ orderBy: { seq: 'asc' }, skip: eventsBefore })
  t.same(written.filter((e) => e.outcome !== 'denied' && e.outcome !== 'failure').map((e) => e.action), [], 'no state change audited')
})

t.test('the sandbox stacks route: a deep JSON body is 400, a deeply nested template is 422 template_invalid', async (t) => {
  const { app } = await buildSandboxApp(t, { DEPUTY_BOOTSTRAP_ADMIN_TOKEN: ADMIN_TOKEN })
  const url = '/v1/sandbox/accounts/123456789012/stacks'
  const headers = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }
  const body = await app.inject({ method: 'POST', url, headers, payload: deepInMember.replace('"name"', '"template"') })
  t.equal(body.statusCode, 400)
  t.equal(body.json<{ code: string }>().code, 'invalid_request')
  // Within the template's 51,200 characters: flow collections and block mappings nested deep.
  const templates = {
    'flow sequences': `${'['.repeat(25_000)}${']'.repeat(25_000)}`,
    'flow mappings': `${'{a: '.repeat(10_000)}1${'}'.repeat(10_000)}`,
    'block mappings': Array.from({ length: 300 }, (_, i) => `${' '.repeat(i)}a:`).join('\n') + ' 1'
  }
  for (const [what, template] of Object.entries(templates)) {
    const res = await app.inject({ method: 'POST', url, headers, payload: JSON.stringify({ template }) })
    t.equal(res.statusCode, 422, what)
    t.equal(res.json<{ code: string }>().code, 'template_invalid', what)
    t.notMatch(res.body, /call stack/i, `${what}: no stack overflow in the answer`)
    if (what !== 'block mappings') t.match(res.json<{ detail: string }>().detail, /nests too deeply/, what)
  }
})
