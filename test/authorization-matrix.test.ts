// The authorization matrix, generated from the route table the app declares (not written by
// hand): every protected route x {no token, malformed header, unknown token, revoked token, each
// scope it lacks, a token bound to another customer} gets the right status and writes the right
// audit event, and a refused request changes nothing but the audit trail. What varies by route is
// the small EXPECTATIONS table below; a route without an entry, or an entry without a route,
// fails the test, so a new route cannot slip through unexamined.
import { randomBytes, randomUUID } from 'node:crypto'
import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { SCOPES, UNBOUND_SCOPES, type Scope } from '../src/modules/api-clients/scopes.js'
import { ADMIN_TOKEN, buildTestApp, call } from './helpers/app.js'
import { roleArn, secureTrust, startTestAws } from './helpers/aws.js'
import { awsAccount, createApiClient, createCustomer, mintExternalId, type ApiClient, type Customer, type ExternalId } from './helpers/fixtures.js'
import { collectRoutes, pathOf, type HttpMethod, type ServedRoute } from './helpers/route-table.js'

interface Fixtures {
  /** Owns every resource the path parameters name. */
  a: Customer
  /** The customer the bound token belongs to. */
  b: Customer
  accountA: string
  externalIdA: ExternalId
  connectionA: { id: string }
  /** An API client (bound to A) for the api-clients/:id routes. */
  clientOfA: ApiClient
}

/** What a token bound to customer B gets from a route when the request names customer A. */
type BoundCase =
  /** The route needs a scope a bound client cannot hold (admin, customers:offboard, metrics:read): refused 403 like any client without it. */
  | { kind: 'admin-only' }
  /** A's resource named in the path, the query or the body: 404 (never 403), audited as `audit`. */
  | { kind: 'not-found', in: 'path' | 'query' | 'body', audit: 'access.denied' | 'credentials.denied' }
  /** The route names no customer: it answers, with B's rows only. */
  | { kind: 'own-only' }
  /** Bound clients may not use the route at all. */
  | { kind: 'refused', status: number, code: string }

interface Expectation {
  /** Routes without authorize(): the status anyone gets, token or not. */
  public?: number
  /** A public route that authenticates a bearer token when one is sent (401, audited, if unknown). */
  checksBearer?: true
  bound?: BoundCase[]
  /** A body that passes validation, so that a request refused only for tenancy reaches the service. */
  body?: (f: Fixtures) => Record<string, unknown>
  /** Query of the `not-found` case in the query. */
  query?: (f: Fixtures) => string
  /** A query every request of the route carries (its required query parameters). */
  requiredQuery?: string
  /**
   * How refusals are written: problem+json, or (`container`, the container-credentials route)
   * `{code, message, requestId}` in application/json, which is what the AWS SDKs print.
   */
  errors?: 'container'
  /** Path parameters of the `not-found` case in the body (B's own resources in the path). */
  ownParams?: (f: Fixtures) => Record<string, string>
}

const ADMIN_ONLY: BoundCase[] = [{ kind: 'admin-only' }]
const notFoundIn = (where: 'path' | 'query' | 'body', audit: 'access.denied' | 'credentials.denied' = 'access.denied'): BoundCase => ({ kind: 'not-found', in: where, audit })

/** Keyed by `METHOD url` as the route table spells it. HEAD routes follow their GET. */
const EXPECTATIONS: Record<string, Expectation> = {
  'GET /healthz': { public: 200 },
  'GET /readyz': { public: 200, checksBearer: true },
  'POST /v1/api-clients': { bound: ADMIN_ONLY, body: () => ({ name: 'matrix', scopes: ['audit:read'] }) },
  'GET /v1/api-clients': { bound: ADMIN_ONLY },
  'POST /v1/api-clients/:apiClientId/revoke': { bound: ADMIN_ONLY },
  'POST /v1/customers': { bound: [{ kind: 'refused', status: 403, code: 'customer_bound_client' }], body: () => ({ name: 'matrix' }) },
  'GET /v1/customers': { bound: [{ kind: 'own-only' }] },
  'GET /v1/customers/:customerId': { bound: [notFoundIn('path')] },
  // A bound client may suspend and resume its own customer, never another's.
  'POST /v1/customers/:customerId/suspend': { bound: [notFoundIn('path')], body: () => ({ reason: 'matrix test' }) },
  'POST /v1/customers/:customerId/resume': { bound: [notFoundIn('path')], body: () => ({}) },
  // Offboarding is final: customers:offboard, which no bound client can hold.
  'POST /v1/customers/:customerId/offboard': { bound: ADMIN_ONLY, body: () => ({ reason: 'matrix test' }) },
  'POST /v1/customers/:customerId/external-ids': { bound: [notFoundIn('path')], body: () => ({ awsAccountId: awsAccount() }) },
  'GET /v1/customers/:customerId/external-ids': { bound: [notFoundIn('path')] },
  'GET /v1/external-ids/:externalIdId': { bound: [notFoundIn('path')] },
  'GET /v1/external-ids/:externalIdId/onboarding': { bound: [notFoundIn('path')] },
  'POST /v1/external-ids/:externalIdId/retire': { bound: [notFoundIn('path')], body: () => ({ reason: 'matrix test' }) },
  'POST /v1/external-ids/:externalIdId/rotate': { bound: [notFoundIn('path')] },
  // External IDs are immutable: a 405 for anyone, with or without a token (nothing to protect).
  'PUT /v1/external-ids/:externalIdId': { public: 405 },
  'PATCH /v1/external-ids/:externalIdId': { public: 405 },
  'DELETE /v1/external-ids/:externalIdId': { public: 405 },
  'POST /v1/customers/:customerId/connections': {
    bound: [notFoundIn('path'), notFoundIn('body')],
    body: (f) => ({ externalIdId: f.externalIdA.id, roleArn: roleArn(f.accountA) }),
    ownParams: (f) => ({ customerId: f.b.id })
  },
  'GET /v1/customers/:customerId/connections': { bound: [notFoundIn('path')] },
  'GET /v1/connections/:connectionId': { bound: [notFoundIn('path')] },
  'POST /v1/connections/:connectionId/verify': { bound: [notFoundIn('path')] },
  'POST /v1/connections/:connectionId/revoke': { bound: [notFoundIn('path')], body: () => ({ reason: 'matrix test' }) },
  'POST /v1/connections/:connectionId/credentials': { bound: [notFoundIn('path', 'credentials.denied')], body: () => ({ purpose: 'matrix test' }) },
  'GET /v1/connections/:connectionId/container-credentials': { bound: [notFoundIn('path', 'credentials.denied')], requiredQuery: 'purpose=matrix%20test', errors: 'container' },
  'POST /v1/admin/freeze': { bound: ADMIN_ONLY, body: () => ({ reason: 'matrix test' }) },
  'POST /v1/admin/unfreeze': { bound: ADMIN_ONLY, body: () => ({}) },
  'GET /metrics': { bound: ADMIN_ONLY },
  'GET /v1/audit-events': { bound: [notFoundIn('query'), { kind: 'own-only' }], query: (f) => `customerId=${f.a.id}` },
  'GET /v1/audit-events/export': { bound: [notFoundIn('query'), { kind: 'own-only' }], query: (f) => `customerId=${f.a.id}` },
  // The seals cover every customer's events: admin only, though the route itself asks audit:read.
  'GET /v1/audit-events/integrity': { bound: [{ kind: 'refused', status: 403, code: 'admin_required' }] }
}

/** Authorization headers that carry no usable bearer token (some wrap the admin's valid one). */
const MALFORMED: Array<[label: string, header: string]> = [
  ['Basic scheme', 'Basic YWRtaW46YWRtaW4='],
  ['Bearer without a token', 'Bearer'],
  ['Bearer and spaces only', 'Bearer     '],
  ['a space inside the token', `Bearer ${ADMIN_TOKEN.slice(0, 12)} ${ADMIN_TOKEN.slice(12)}`],
  ['a valid token followed by junk', `Bearer ${ADMIN_TOKEN} junk`],
  ['a control character after a valid token', `Bearer ${ADMIN_TOKEN}\u0001`],
  ['a NUL inside the token', `Bearer dpt_\u0000${ADMIN_TOKEN.slice(4)}`],
  ['a tab instead of the space', `Bearer\t${ADMIN_TOKEN}`],
  ['a token of 513 characters', `Bearer dpt_${'a'.repeat(509)}`],
  ['a token without its scheme', ADMIN_TOKEN]
]

const NON_ADMIN_SCOPES = SCOPES.filter((s) => s !== 'admin')

interface Sent {
  res: LightMyRequestResponse
  requestId: string
  events: Array<{ action: string, outcome: string, actorClientId: string | null, details: Record<string, unknown> }>
}

t.test('authorization matrix', async (t) => {
  const aws = await startTestAws(t)
  // Thousands of refusals from one address: lift the failed-authentication throttle and the
  // request rate limit, which have tests of their own.
  const { app, database } = await buildTestApp(t, { ...aws.env, LOG_LEVEL: 'warn', AUTH_FAILURE_LIMIT_MAX: '1000000', RATE_LIMIT_MAX: '1000000' })
  const routes = await collectRoutes()

  // Customer A owns every resource the requests name; the bound token belongs to customer B.
  const a = await createCustomer(app, { name: 'Tenant A' })
  const b = await createCustomer(app, { name: 'Tenant B' })
  const accountA = awsAccount()
  const externalIdA = await mintExternalId(app, a.id, accountA)
  aws.emulator.putRole({ arn: roleArn(accountA), trustPolicy: secureTrust(externalIdA.externalId) })
  const registered = await call(app, 'POST', `/v1/customers/${a.id}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: externalIdA.id, roleArn: roleArn(accountA) } })
  if (registered.statusCode !== 201) throw new Error(registered.body)
  const connectionA = registered.json<{ id: string }>()
  const clientOfA = await createApiClient(app, ['audit:read'], a.id)
  const f: Fixtures = { a, b, accountA, externalIdA, connectionA, clientOfA }
  const paramsOfA: Record<string, string> = { customerId: a.id, externalIdId: externalIdA.id, connectionId: connectionA.id, apiClientId: clientOfA.id }

  const bound = await createApiClient(app, SCOPES.filter((s) => !UNBOUND_SCOPES.includes(s)), b.id)
  const revoked = await createApiClient(app, ['admin'])
  const revocation = await call(app, 'POST', `/v1/api-clients/${revoked.id}/revoke`, { token: ADMIN_TOKEN })
  if (revocation.statusCode !== 200) throw new Error(revocation.body)
  const onlyScope = new Map<Scope, ApiClient>()
  for (const scope of SCOPES) onlyScope.set(scope, await createApiClient(app, [scope]))
  const allBut = new Map<Scope, ApiClient>()
  for (const scope of SCOPES) allBut.set(scope, await createApiClient(app, NON_ADMIN_SCOPES.filter((s) => s !== scope)))
  // The export stops at the sealed horizon: seal the fixtures' events, B's among them.
  await app.auditSealer.runOnce()
  const clientWith = (clients: Map<Scope, ApiClient>, scope: Scope): ApiClient => {
    const client = clients.get(scope)
    if (client === undefined) throw new Error(`no client for ${scope}`)
    return client
  }

  async function rowCounts (): Promise<Record<string, number>> {
    const [row] = await database.prisma.$queryRaw<Array<Record<string, bigint>>>`SELECT
      (SELECT count(*) FROM customers) AS customers, (SELECT count(*) FROM external_ids) AS external_ids,
      (SELECT count(*) FROM connections) AS connections, (SELECT count(*) FROM api_clients) AS api_clients,
      (SELECT count(*) FROM idempotency_keys) AS idempotency_keys`
    return Object.fromEntries(Object.entries(row ?? {}).map(([k, v]) => [k, Number(v)]))
  }
  const countsAtStart = await rowCounts()
  const auditAtStart = await database.prisma.auditEvent.count()
  let auditedByRequests = 0

  let sent = 0
  async function send (method: HttpMethod, url: string, authorization: string | undefined, body?: Record<string, unknown>): Promise<Sent> {
    const requestId = `matrix-${++sent}`
    const headers: Record<string, string> = { 'x-request-id': requestId }
    if (authorization !== undefined) headers.authorization = authorization
    if (body !== undefined) headers['content-type'] = 'application/json'
    const res = await app.inject({ method, url, headers, ...(body === undefined ? {} : { payload: JSON.stringify(body) }) })
    const rows = await database.prisma.auditEvent.findMany({ where: { requestId }, orderBy: { seq: 'asc' } })
    const events = rows.map((e) => ({ action: e.action, outcome: e.outcome, actorClientId: e.actorClientId, details: e.details as Record<string, unknown> }))
    auditedByRequests += events.length
    return { res, requestId, events }
  }
  const bearer = (token: string): string => `Bearer ${token}`

  /** A refusal: the status and problem code, and exactly one audit event, like `event`. */
  async function expectRefusal (t: Test, label: string, { res, events }: Sent, status: number, code: string, event: { action: string, actorClientId: string | null, details: Record<string, unknown> }, errors?: 'container'): Promise<void> {
    t.equal(res.statusCode, status, `${label}: ${status} (${res.body.slice(0, 200)})`)
    const problem = res.json<{ code?: string, status?: number, message?: string }>()
    if (errors === 'container') {
      t.match(res.headers['content-type'], /^application\/json/, `${label}: the container provider's error`)
      t.match(problem.message, /./, `${label}: a message`)
    } else {
      t.match(res.headers['content-type'], /^application\/problem\+json/, `${label}: a problem document`)
      t.equal(problem.status, status, `${label}: problem status`)
    }
    t.equal(problem.code, code, `${label}: code ${code}`)
    t.equal(events.length, 1, `${label}: one audit event (${events.map((e) => e.action).join(', ')})`)
    t.match(events[0], { action: event.action, outcome: 'denied', actorClientId: event.actorClientId, details: event.details }, `${label}: audited as ${event.action}`)
  }

  t.test('every served route has exactly one entry in the expectations table', async (t) => {
    const keys = routes.filter((r) => r.method !== 'HEAD').map((r) => r.key)
    t.same(keys.filter((k) => EXPECTATIONS[k] === undefined), [], 'routes without an entry in EXPECTATIONS')
    t.same(Object.keys(EXPECTATIONS).filter((k) => !keys.includes(k)), [], 'entries in EXPECTATIONS without a route')
    for (const route of routes) {
      const expectation = EXPECTATIONS[route.method === 'HEAD' ? `GET ${route.url}` : route.key]
      if (route.method === 'HEAD') {
        const get = routes.find((r) => r.key === `GET ${route.url}`)
        t.equal(route.scope, get?.scope, `${route.key} demands what GET demands`)
      }
      t.equal(expectation?.public !== undefined, route.scope === undefined, `${route.key}: public in the table exactly when it has no authorize() hook`)
      const unbound = route.scope !== undefined && UNBOUND_SCOPES.includes(route.scope)
      t.equal(expectation?.bound?.some((c) => c.kind === 'admin-only') === true, unbound, `${route.key}: admin-only in the table exactly when it demands a scope a bound client cannot hold`)
      if (route.scope !== undefined && !unbound) t.ok((expectation?.bound ?? []).length > 0, `${route.key}: says what a bound token gets`)
      for (const name of route.params) t.ok(paramsOfA[name] !== undefined, `${route.key}: the matrix has a resource of customer A for :${name}`)
      t.equal(route.body !== undefined && route.scope !== undefined, expectation?.body !== undefined, `${route.key}: a valid body exactly when the route takes one`)
    }
    // The admin's own token is what the cases below wrap in malformed headers.
    t.equal((await call(app, 'GET', '/v1/customers', { token: ADMIN_TOKEN })).statusCode, 200)
  })

  for (const route of routes.filter((r) => r.scope === undefined)) {
    const expectation = EXPECTATIONS[route.method === 'HEAD' ? `GET ${route.url}` : route.key]
    t.test(`${route.key} is public: ${expectation?.public ?? '?'} with or without a token`, async (t) => {
      const url = pathOf(route, paramsOfA)
      for (const [label, authorization] of [['no token', undefined], ['an unknown token', bearer(`dpt_${randomBytes(32).toString('base64url')}`)], ['a malformed header', 'Basic abc']] as const) {
        const { res, events } = await send(route.method, url, authorization)
        if (expectation?.checksBearer === true && label === 'an unknown token') {
          t.equal(res.statusCode, 401, `${label}: refused, as on any route (${res.body.slice(0, 120)})`)
          t.match(events, [{ action: 'auth.failed', outcome: 'denied', details: { reason: 'unknown_token' } }], `${label}: audited`)
          continue
        }
        t.equal(res.statusCode, expectation?.public, `${label}: ${res.body.slice(0, 120)}`)
        t.same(events, [], `${label}: nothing audited`)
      }
      t.same(await rowCounts(), countsAtStart, 'nothing changed')
    })
  }

  for (const route of routes.filter((r): r is ServedRoute & { scope: Scope } => r.scope !== undefined)) {
    const scope = route.scope
    const isHead = route.method === 'HEAD'
    const expectation = EXPECTATIONS[isHead ? `GET ${route.url}` : route.key] ?? {}
    t.test(`${route.key} demands ${scope}`, async (t) => {
      const withQuery = (path: string): string => expectation.requiredQuery === undefined ? path : `${path}?${expectation.requiredQuery}`
      const url = withQuery(pathOf(route, paramsOfA))
      const dialect = expectation.errors
      const body = expectation.body?.(f)
      const where = { method: route.method, route: route.url }
      const attempt = (authorization: string | undefined): Promise<Sent> => send(route.method, url, authorization, body)

      if (isHead) {
        // HEAD answers have no body: status and audit event only.
        const missing = await attempt(undefined)
        t.equal(missing.res.statusCode, 401, 'no token: 401')
        t.match(missing.events, [{ action: 'auth.failed', outcome: 'denied', details: { reason: 'missing_token', ...where } }])
        const lacking = await attempt(bearer(clientWith(allBut, scope).token))
        t.equal(lacking.res.statusCode, 403, `every scope but ${scope}: 403`)
        t.match(lacking.events, [{ action: 'auth.forbidden', outcome: 'denied', details: { requiredScope: scope, ...where } }])
        t.same(await rowCounts(), countsAtStart, 'nothing changed')
        return
      }

      const missing = await attempt(undefined)
      await expectRefusal(t, 'no token', missing, 401, 'unauthorized', { action: 'auth.failed', actorClientId: null, details: { reason: 'missing_token', ...where } }, dialect)
      t.match(missing.res.headers['www-authenticate'], /^Bearer/, 'no token: WWW-Authenticate: Bearer')

      for (const [label, header] of MALFORMED) {
        await expectRefusal(t, `malformed header (${label})`, await attempt(header), 401, 'unauthorized', { action: 'auth.failed', actorClientId: null, details: { reason: 'missing_token', ...where } }, dialect)
      }

      await expectRefusal(t, 'unknown token', await attempt(bearer(`dpt_${randomBytes(32).toString('base64url')}`)), 401, 'unauthorized',
        { action: 'auth.failed', actorClientId: null, details: { reason: 'unknown_token', ...where } }, dialect)
      await expectRefusal(t, 'revoked token', await attempt(bearer(revoked.token)), 401, 'unauthorized',
        { action: 'auth.failed', actorClientId: revoked.id, details: { reason: 'revoked_token', ...where } }, dialect)

      const lacking: Array<[string, ApiClient]> = [[`every scope but ${scope}, without admin`, clientWith(allBut, scope)]]
      for (const other of NON_ADMIN_SCOPES) {
        if (other !== scope) lacking.push([`only ${other}`, clientWith(onlyScope, other)])
      }
      for (const [label, client] of lacking) {
        const res = await attempt(bearer(client.token))
        await expectRefusal(t, label, res, 403, 'insufficient_scope', { action: 'auth.forbidden', actorClientId: client.id, details: { requiredScope: scope, ...where } }, dialect)
        if (dialect === 'container') t.match(res.res.json<{ message?: string }>().message, scope, `${label}: the message names ${scope}`)
        else t.equal(res.res.json<{ requiredScope?: string }>().requiredScope, scope, `${label}: the problem names ${scope}`)
      }

      for (const tenancy of expectation.bound ?? []) {
        switch (tenancy.kind) {
          case 'admin-only': {
            const res = await attempt(bearer(bound.token))
            await expectRefusal(t, 'token bound to another customer', res, 403, 'insufficient_scope', { action: 'auth.forbidden', actorClientId: bound.id, details: { requiredScope: scope, ...where } }, dialect)
            break
          }
          case 'refused': {
            const { res } = await attempt(bearer(bound.token))
            t.equal(res.statusCode, tenancy.status, `bound token: ${tenancy.status}`)
            t.equal(res.json<{ code?: string }>().code, tenancy.code)
            break
          }
          case 'own-only': {
            const { res } = await send(route.method, url, bearer(bound.token))
            t.equal(res.statusCode, 200, 'bound token: lists')
            type Item = { id: string, customerId?: string | null }
            // The export answers NDJSON lines of {event, seal}; the lists a page of items.
            const items = /^application\/x-ndjson/.test(String(res.headers['content-type']))
              ? res.body.split('\n').filter((line) => line !== '').map((line) => (JSON.parse(line) as { event: Item }).event)
              : res.json<{ items: Item[] }>().items
            t.ok(items.length > 0, 'bound token: sees its own customer\'s rows')
            t.same(items.filter((item) => (item.customerId ?? item.id) !== b.id), [], 'bound token: sees nothing of another customer')
            break
          }
          case 'not-found': {
            const label = `token bound to another customer, A's resource in the ${tenancy.in}`
            const target = tenancy.in === 'query'
              ? `${url}?${expectation.query?.(f) ?? ''}`
              : tenancy.in === 'body' ? pathOf(route, expectation.ownParams?.(f) ?? {}) : url
            const res = await send(route.method, target, bearer(bound.token), body)
            await expectRefusal(t, label, res, 404, 'not_found', { action: tenancy.audit, actorClientId: bound.id, details: { reason: 'not_found' } }, dialect)
            // Indistinguishable from an id that does not exist at all.
            const fresh = Object.fromEntries(Object.values(paramsOfA).map((id) => [id, randomUUID()]))
            const swap = (text: string): string => Object.entries(fresh).reduce((s, [from, to]) => s.split(from).join(to), text)
            const unknown = await send(route.method, swap(target), bearer(bound.token), body === undefined ? undefined : JSON.parse(swap(JSON.stringify(body))) as Record<string, unknown>)
            const shape = (r: LightMyRequestResponse, ids: string[]): unknown => {
              const { type, title, status, code, detail, message } = r.json<Record<string, string>>()
              return { statusCode: r.statusCode, type, title, status, code, detail: ids.reduce((s, id) => s.split(id).join('<id>'), detail ?? message ?? '') }
            }
            t.same(shape(unknown.res, Object.values(fresh)), shape(res.res, Object.keys(fresh)), `${label}: answered exactly as for an id that does not exist`)
            break
          }
        }
      }

      // The scope alone is enough: the request gets past authorization (and stops at validation,
      // so nothing is written).
      const invalid = route.params.length > 0
        ? withQuery(pathOf(route, Object.fromEntries(route.params.map((p) => [p, 'not-a-uuid']))))
        : route.body === undefined ? `${url}?not_a_parameter=1` : url
      const passes = await send(route.method, invalid, bearer(clientWith(onlyScope, scope).token), route.body === undefined ? undefined : { not_a_field: true })
      t.equal(passes.res.statusCode, 400, `only ${scope}: past authorization, stopped by validation (${passes.res.body.slice(0, 160)})`)
      t.equal(passes.res.json<{ code?: string }>().code, 'validation_failed')
      t.same(await rowCounts(), countsAtStart, 'no request of this route changed anything but the audit trail')
    })
  }

  t.test('totals', async (t) => {
    t.same(await rowCounts(), countsAtStart, 'no refused request wrote anything but audit events')
    t.equal(await database.prisma.auditEvent.count() - auditAtStart, auditedByRequests, 'every audit event written is one a request above was checked for')
    const protectedRoutes = routes.filter((r) => r.scope !== undefined && r.method !== 'HEAD').length
    t.comment(`${routes.length} routes (${protectedRoutes} protected, HEAD aside), ${sent} requests`)
    t.ok(sent > protectedRoutes * 20, `${sent} requests`)
  })
})
