// Property-based fuzzing of every route (fast-check): path parameters, query strings, bodies and
// headers derived from the route schemas, mixed with arbitrary JSON, wrong types, huge and
// unicode strings, prototype-pollution keys, SQL-ish text, ids that are not UUIDs and broken
// encodings, sent with an admin token, a token bound to another customer, or none. Whatever
// comes in: no 5xx, no stack trace, SQL or internal path in an answer, every 4xx a valid
// problem+json document, every answer as openapi.yaml documents it, no other tenant's data, and
// a refused request writes nothing but refusal audit events.
//
// Reproduce: the seed is printed (`# fuzz seed ...`); DEPUTY_FUZZ_SEED=<seed> replays the run,
// DEPUTY_FUZZ_ROUTE=<part of "METHOD url"> narrows it to some routes, DEPUTY_FUZZ_PATH=<path from
// the failure report> jumps straight to a counterexample, DEPUTY_FUZZ_REQUESTS=<n> scales the run
// and DEPUTY_FUZZ_KEEP_GOING=1 collects every distinct violation instead of stopping at the first.
import fc from 'fast-check'
import type { LightMyRequestResponse } from 'fastify'
import pg from 'pg'
import t from 'tap'
import { SCOPES, UNBOUND_SCOPES } from '../src/modules/api-clients/scopes.js'
import { ADMIN_TOKEN, assertResponseMatchesSpec, buildTestApp, call } from './helpers/app.js'
import { roleArn, secureTrust, startTestAws } from './helpers/aws.js'
import { awsAccount, createApiClient, createCustomer, mintExternalId } from './helpers/fixtures.js'
import { collectRoutes, type HttpMethod, type JsonSchema, type ServedRoute } from './helpers/route-table.js'

const SEED = Number(process.env.DEPUTY_FUZZ_SEED ?? 20261128)
const TOTAL_REQUESTS = Number(process.env.DEPUTY_FUZZ_REQUESTS ?? 10_000)
const ONLY_ROUTE = process.env.DEPUTY_FUZZ_ROUTE
const REPLAY_PATH = process.env.DEPUTY_FUZZ_PATH
const KEEP_GOING = process.env.DEPUTY_FUZZ_KEEP_GOING === '1'

// ---------------------------------------------------------------------------------------------
// Values

/** Strings that have broken services before. */
const NASTY = [
  '', ' ', '\u0000', 'a\u0000b', '\ud800', 'x\udfff\ud800y', 'lone \ud800 surrogate', '\udc00\udc00\udc00', '\ufeff', '\u202e', '\u200b', 'é', 'ｆｕｌｌ', '🦀', '\u0085', '\r\n',
  'null', 'undefined', 'true', 'NaN', '-1', '0', '1e309', '9223372036854775808', '0x10', '00',
  "' OR '1'='1", "'; DROP TABLE customers; --", 'SELECT * FROM api_clients', '1; SELECT pg_sleep(1)', '$1', '\\', '%', '%00', '%s%n',
  '../../../etc/passwd', '..', '/', '$' + '{7*7}', '{{7*7}}', '<script>alert(1)</script>',
  '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty',
  'dpt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'aws:TokenIssueTime', 'secretAccessKey',
  '00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'urn:uuid:7d444840-9dc0-11d1-b245-5ffdce74fad2',
  '0000-01-01T00:00:00Z', '2020-12-31T23:59:60Z', '+275760-09-13T00:00:00Z'
]

const text: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 24 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 24 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }) },
  { weight: 3, arbitrary: fc.constantFrom(...NASTY) },
  { weight: 1, arbitrary: fc.constantFrom(101, 201, 513, 2049).map((n) => 'x'.repeat(n)) }
)

/** JSON texts of the wrong type, or of numbers and escapes JSON.stringify would never write. */
const garbageJson: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: text.map((s) => JSON.stringify(s)) },
  { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null)).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.constantFrom('1e400', '-1e400', '1.0', '9007199254740993', '-0', '"\\u0000"', '"\\ud800"', '"\\udfff\\ud800"', '[]', '{}', '[null]', '{"$ne":null}', '{"gt":""}') }
)

const UUID_SPELLINGS: Array<(id: string) => string> = [
  (id) => id.toUpperCase(),
  (id) => `urn:uuid:${id}`,
  (id) => `{${id}}`,
  (id) => id.replaceAll('-', ''),
  (id) => `${id}\n`
]

const uuidLike = (pool: readonly string[]): fc.Arbitrary<string> => fc.oneof(
  { weight: 4, arbitrary: pool.length === 0 ? fc.uuid() : fc.constantFrom(...pool) },
  { weight: 2, arbitrary: fc.uuid() },
  // Spellings a lax "uuid" format accepts, or nearly accepts.
  { weight: 1, arbitrary: fc.tuple(pool.length === 0 ? fc.uuid() : fc.constantFrom(...pool), fc.constantFrom(...UUID_SPELLINGS)).map(([id, spell]) => spell(id)) }
)

/** Edge instants a "date-time" format accepts: leap seconds, year 0, far offsets, long fractions. */
const dateTime: fc.Arbitrary<string> = fc.oneof(
  { weight: 2, arbitrary: fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString()) },
  { weight: 1, arbitrary: fc.constantFrom('2020-12-31T23:59:60Z', '0000-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '2020-01-01T00:00:00+23:59', '2020-01-01t00:00:00z', '2020-01-01T00:00:00.123456789012Z', '1969-12-31T23:59:59.999Z') }
)

/** Cursors: opaque garbage, or well-formed base64url JSON with edge values inside. */
const cursor: fc.Arbitrary<string> = fc.oneof(
  { weight: 1, arbitrary: text.filter((s) => s.length > 0 && s.length <= 200) },
  {
    weight: 2,
    arbitrary: fc.record({
      createdAt: fc.oneof(dateTime, fc.constantFrom('0', '-271821-04-20T00:00:00Z', '+275760-09-13T00:00:00Z', 'garbage')),
      id: fc.oneof(fc.uuid(), fc.stringMatching(/^[0-9a-f-]{36}$/)),
      seq: fc.oneof(fc.bigInt({ min: 0n, max: 10n ** 19n - 1n }).map(String), fc.constantFrom('9223372036854775807', '9223372036854775808', '9999999999999999999', '0', '-1'))
    }).map((key) => Buffer.from(JSON.stringify(key)).toString('base64url'))
  }
)

interface Pools {
  customerId: string[]
  externalIdId: string[]
  connectionId: string[]
  apiClientId: string[]
  actorClientId: string[]
  awsAccountId: string[]
  roleArn: string[]
}

const poolOf = (pools: Pools, name: string): string[] | undefined => (pools as unknown as Partial<Record<string, string[]>>)[name]

/**
 * Values of a schema's shape (JSON values): mostly valid, with the fixtures' ids where the name
 * says what a field holds, and the edge values the schema's format or length still admits.
 */
function valid (schema: JsonSchema, name: string, pools: Pools): fc.Arbitrary<unknown> {
  const pool = poolOf(pools, name)
  if (name === 'cursor') return cursor
  if (name === 'roleArn' && schema.pattern !== undefined) return fc.oneof(fc.constantFrom(...pools.roleArn), fc.stringMatching(new RegExp(schema.pattern)))
  if (schema.const !== undefined) return fc.constant(schema.const)
  if (schema.enum !== undefined) return fc.constantFrom(...schema.enum)
  if (schema.anyOf !== undefined) return fc.oneof(...schema.anyOf.map((s) => valid(s, name, pools)))
  const type = [schema.type].flat()[0]
  switch (type) {
    case 'string': {
      if (schema.format === 'uuid') return uuidLike(pool ?? [])
      if (schema.format === 'date-time') return dateTime
      const min = schema.minLength ?? 0
      const max = Math.min(schema.maxLength ?? 40, 40)
      if (schema.pattern !== undefined) {
        const generated = fc.stringMatching(new RegExp(schema.pattern)).filter((s) => s.length >= min && s.length <= (schema.maxLength ?? Infinity))
        return pool === undefined ? generated : fc.oneof(fc.constantFrom(...pool), generated)
      }
      return fc.oneof(
        fc.string({ minLength: min, maxLength: Math.max(min, max) }),
        fc.string({ unit: 'grapheme', minLength: min, maxLength: Math.max(min, max) }),
        fc.string({ unit: 'binary', minLength: min, maxLength: Math.max(min, max) }),
        fc.constantFrom(...NASTY).filter((s) => s.length >= min && s.length <= (schema.maxLength ?? Infinity))
      )
    }
    case 'integer': return fc.integer({ min: schema.minimum ?? -(2 ** 31), max: schema.maximum ?? 2 ** 31 })
    case 'number': return fc.double({ noNaN: true, noDefaultInfinity: true })
    case 'boolean': return fc.boolean()
    case 'array': {
      const item = valid(schema.items ?? {}, name, pools)
      const bounds = { minLength: schema.minItems ?? 0, maxLength: Math.max(schema.minItems ?? 0, Math.min(schema.maxItems ?? 3, 3)) }
      return schema.uniqueItems === true ? fc.uniqueArray(item, { ...bounds, selector: (v: unknown) => JSON.stringify(v) }) : fc.array(item, bounds)
    }
    case 'object': {
      if (schema.properties !== undefined) {
        const model = Object.fromEntries(Object.entries(schema.properties).map(([key, s]) => [key, valid(s, key, pools)]))
        return fc.record(model, { requiredKeys: schema.required ?? [] })
      }
      const values = Object.values(schema.patternProperties ?? {})[0]
      return fc.dictionary(fc.string({ maxLength: 12 }), values === undefined ? fc.jsonValue({ maxDepth: 1 }) : valid(values, name, pools), { maxKeys: 3 })
    }
    default: return fc.jsonValue({ maxDepth: 2 })
  }
}

const EXTRA_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', '', 'id', 'customerId', 'status', 'admin', 'scopes', '$where']

/**
 * JSON text for a schema: mostly its shape with some members wrong, missing or extra (the keys
 * are written by hand, so "__proto__" and duplicate keys reach the parser as sent).
 */
function fuzzyJson (schema: JsonSchema, name: string, pools: Pools): fc.Arbitrary<string> {
  const asJson = valid(schema, name, pools).map((v) => JSON.stringify(v))
  let shaped: fc.Arbitrary<string> = asJson
  const type = [schema.type].flat()[0]
  if (type === 'object' && schema.properties !== undefined) {
    const required = schema.required ?? []
    const members = Object.entries(schema.properties).map(([key, s]) =>
      fc.option(fuzzyJson(s, key, pools).map((json) => [key, json] as const), { freq: required.includes(key) ? 12 : 2, nil: null }))
    const extra = fc.oneof(
      { weight: 5, arbitrary: fc.constant<Array<readonly [string, string]>>([]) },
      { weight: 1, arbitrary: fc.array(fc.tuple(fc.oneof(fc.constantFrom(...EXTRA_KEYS, ...Object.keys(schema.properties)), text), garbageJson), { minLength: 1, maxLength: 2 }) }
    )
    shaped = fc.tuple(fc.tuple(...members), extra).map(([known, more]) =>
      `{${[...known.filter((m) => m !== null), ...more].map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`)
  } else if (type === 'array' && schema.items !== undefined) {
    shaped = fc.array(fuzzyJson(schema.items, name, pools), { maxLength: Math.min(schema.maxItems ?? 3, 3) + 1 }).map((items) => `[${items.join(',')}]`)
  } else if (schema.anyOf !== undefined) {
    shaped = fc.oneof(...schema.anyOf.map((s) => fuzzyJson(s, name, pools)))
  }
  return fc.oneof({ weight: 6, arbitrary: shaped }, { weight: 1, arbitrary: garbageJson })
}

// ---------------------------------------------------------------------------------------------
// Requests

interface Payload { payload: string | Buffer, contentType: string | undefined }

interface FuzzRequest {
  token: { kind: 'admin' | 'bound' | 'none' } | { kind: 'garbage', header: string }
  params: Record<string, { value: string, raw: boolean }>
  query: string
  body: Payload | undefined
  headers: Record<string, string>
}

const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'application/json; charset=latin1', 'application/problem+json',
  'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream', '', 'application/json, text/plain']

const rawBody: fc.Arbitrary<Payload> = fc.oneof(
  fc.constantFrom('', '{', '{"a":', '}', 'null', 'true', '[]', '"x"', '1e400', '{"a":1,"a":2}', '\ufeff{}', '{"__proto__":{"admin":true}}',
    '{"constructor":{"prototype":{"admin":true}}}', `${'['.repeat(3000)}${']'.repeat(3000)}`,
    // Nesting deep enough to overflow any recursive walk, within the 64 KiB body limit.
    `${'['.repeat(30_000)}${']'.repeat(30_000)}`, `${'{"":'.repeat(12_000)}1${'}'.repeat(12_000)}`, `{"name":${'['.repeat(30_000)}"x"${']'.repeat(30_000)}}`, `{"name":"${'x'.repeat(70_000)}"}`)
    .map((payload): Payload => ({ payload, contentType: 'application/json' })),
  fc.constantFrom(Buffer.from('{"name":"\xff\xfe"}', 'latin1'), Buffer.from([0x7b, 0x22, 0x6e, 0x61, 0x6d, 0x65, 0x22, 0x3a, 0x22, 0xc0, 0x80, 0x22, 0x7d]))
    .map((payload): Payload => ({ payload, contentType: 'application/json' })),
  fc.tuple(fc.oneof(garbageJson, text), fc.constantFrom(...CONTENT_TYPES, undefined)).map(([payload, contentType]): Payload => ({ payload, contentType }))
)

/**
 * Header values as Node's HTTP parser lets them through: tab, printable ASCII and the bytes
 * 0x80-0xFF (read as Latin-1). app.inject would pass anything, a NUL included, which no client
 * can send.
 */
const headerText: fc.Arbitrary<string> = text.map((s) => s.replace(/[^\t\x20-\x7e\x80-\xff]/g, (ch) => String.fromCharCode(0x80 + (ch.charCodeAt(0) % 0x80))).trim())

const encodeSegment = (value: string): string =>
  Array.from(value).map((ch) => (ch.length === 1 && ch >= '\ud800' && ch <= '\udfff') ? '%ED%A0%80' : encodeURIComponent(ch)).join('')

function requestArbitrary (route: ServedRoute, pools: Pools): fc.Arbitrary<FuzzRequest> {
  const param = (name: string): fc.Arbitrary<{ value: string, raw: boolean }> => fc.oneof(
    { weight: 6, arbitrary: uuidLike(poolOf(pools, name) ?? []).map((value) => ({ value, raw: false })) },
    { weight: 3, arbitrary: text.map((value) => ({ value, raw: false })) },
    { weight: 1, arbitrary: fc.constantFrom('%', '%ZZ', '%E0%A4%A', '%00', '%2F', '..', '%2e%2e', '%ED%A0%80', '%C0%80', '%FF').map((value) => ({ value, raw: true })) }
  )
  const params = fc.record(Object.fromEntries(route.params.map((name) => [name, param(name)])))

  const properties = Object.entries(route.querystring?.properties ?? {})
  const unknownMember = fc.tuple(fc.oneof(fc.constantFrom(...EXTRA_KEYS, 'limit[]', 'a[b]', 'limit.x'), text), text)
  const member: fc.Arbitrary<readonly [string, string]> = properties.length === 0
    ? unknownMember
    : fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom(...properties).chain(([key, s]) => valid(s, key, pools).map((v) => [key, typeof v === 'string' ? v : JSON.stringify(v)] as const)) },
      { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...properties.map(([key]) => key)), text) },
      { weight: 1, arbitrary: unknownMember }
    )
  const query = fc.oneof(
    { weight: 6, arbitrary: fc.array(member, { maxLength: properties.length === 0 ? 1 : 4 }).map((ms) => ms.map(([k, v]) => `${encodeSegment(k)}=${encodeSegment(v)}`).join('&')) },
    { weight: 3, arbitrary: fc.constant('') },
    { weight: 1, arbitrary: fc.constantFrom('&', '=', '%', '%zz', '&&limit', 'limit', 'limit=1&limit=2', 'cursor=&limit=', '?', '#x') }
  )

  const body: fc.Arbitrary<Payload | undefined> = route.body === undefined
    ? fc.oneof({ weight: 8, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: rawBody })
    : fc.oneof(
      { weight: 3, arbitrary: valid(route.body, 'body', pools).map((v): Payload => ({ payload: JSON.stringify(v), contentType: 'application/json' })) },
      { weight: 6, arbitrary: fuzzyJson(route.body, 'body', pools).map((payload): Payload => ({ payload, contentType: 'application/json' })) },
      { weight: 1, arbitrary: rawBody },
      { weight: 1, arbitrary: fc.constant(undefined) }
    )

  const token = fc.oneof(
    { weight: 9, arbitrary: fc.constant({ kind: 'admin' as const }) },
    { weight: 9, arbitrary: fc.constant({ kind: 'bound' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
    { weight: 1, arbitrary: fc.oneof(headerText.map((s) => `Bearer ${s}`), headerText, fc.constantFrom('Bearer', 'Basic YWRtaW46YWRtaW4=', `Bearer dpt_${'A'.repeat(43)}`)).map((header) => ({ kind: 'garbage' as const, header })) }
  )

  const headers = fc.record({
    'idempotency-key': fc.oneof(fc.constantFrom('fuzz-key-1', 'fuzz-key-2'), headerText),
    'x-request-id': fc.oneof(fc.uuid(), headerText),
    'user-agent': headerText,
    accept: fc.constantFrom('application/json', 'text/html', '*/*', 'application/xml')
  }, { requiredKeys: [] })

  return fc.record({ token, params, query, body, headers })
}

// ---------------------------------------------------------------------------------------------
// What must hold

const LEAKS: Array<[string, RegExp]> = [
  ['a stack frame', /\bat .*\.[cm]?[jt]s:\d+/],
  ['an internal path', /\/work\//],
  ['node_modules', /node_modules/],
  ['SQL', /\bSELECT\s/],
  ['SQL', /\bINSERT INTO\b/],
  ['SQL', /\bDELETE FROM\b/],
  ['Prisma', /prisma/i],
  ['a Prisma error code', /\bP[1-5]\d{3}\b/],
  ['a PostgreSQL message', /duplicate key value|violates .* constraint|invalid input syntax|syntax error at or near/]
]

const PROBLEM_CODE = /^[a-z][a-z0-9_]*$/

/** The table a 201 of a route adds one row to (a route missing here fails when it creates). */
const CREATES: Record<string, string> = {
  'POST /v1/api-clients': 'api_clients',
  'POST /v1/customers': 'customers',
  'POST /v1/customers/:customerId/external-ids': 'external_ids',
  'POST /v1/external-ids/:externalIdId/rotate': 'external_ids',
  'POST /v1/customers/:customerId/connections': 'connections'
}

interface Snapshot { counts: Record<string, number>, seq: string, events: Array<{ action: string, outcome: string, requestId: string | null }> }

/** Every string and key in a JSON value; iterative, as the bodies sent nest 30,000 deep. */
const stringsIn = (root: unknown): string[] => {
  const into: string[] = []
  const stack = [root]
  for (let value = stack.pop(); stack.length > 0 || value !== undefined; value = stack.pop()) {
    if (typeof value === 'string') into.push(value)
    else if (Array.isArray(value)) stack.push(...value)
    else if (typeof value === 'object' && value !== null) for (const [k, v] of Object.entries(value)) { into.push(k); stack.push(v) }
  }
  return into
}

const safeDecode = (s: string): string => { try { return decodeURIComponent(s) } catch { return s } }
const parseJson = (s: string): unknown => { try { return JSON.parse(s) as unknown } catch { return undefined } }

t.test('fuzzing every route', async (t) => {
  t.comment(`fuzz seed ${SEED} (replay with DEPUTY_FUZZ_SEED=${SEED}), ${TOTAL_REQUESTS} requests`)
  const aws = await startTestAws(t)
  // Thousands of requests (and refusals) from one address in a minute: lift the rate limit and
  // the failed-authentication throttle, which have tests of their own.
  // Probes keep their production limits (one per connection per minute, 30 per customer per
  // hour): the fuzzer exercises the refusals, and the run stays fast.
  const { app, databaseUrl, logs } = await buildTestApp(t, {
    ...aws.env,
    LOG_LEVEL: 'warn',
    AUTH_FAILURE_LIMIT_MAX: '1000000',
    RATE_LIMIT_MAX: '1000000',
    PROBE_COOLDOWN_MS: '60000',
    PROBE_BUDGET_PER_CUSTOMER_PER_HOUR: '30'
  })
  const routes = (await collectRoutes()).filter((r) => r.method !== 'HEAD' && (ONLY_ROUTE === undefined || r.key.includes(ONLY_ROUTE)))

  // Customer A and B, each with an external ID and an active connection through the emulator;
  // A has a second external ID whose role does not exist (its registration runs a failing probe).
  const a = await createCustomer(app, { name: 'Fuzz A' })
  const b = await createCustomer(app, { name: 'Fuzz B' })
  const connect = async (customerId: string) => {
    const account = awsAccount()
    const externalId = await mintExternalId(app, customerId, account)
    aws.emulator.putRole({ arn: roleArn(account), trustPolicy: secureTrust(externalId.externalId) })
    const res = await call(app, 'POST', `/v1/customers/${customerId}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: externalId.id, roleArn: roleArn(account) } })
    if (res.statusCode !== 201) throw new Error(res.body)
    return { account, externalId, connection: res.json<{ id: string }>() }
  }
  const connectedA = await connect(a.id)
  const connectedB = await connect(b.id)
  const spareAccountA = awsAccount()
  const spareA = await mintExternalId(app, a.id, spareAccountA)
  const bound = await createApiClient(app, SCOPES.filter((s) => !UNBOUND_SCOPES.includes(s)), b.id)
  const clientOfA = await createApiClient(app, ['audit:read'], a.id)
  const spareClient = await createApiClient(app, ['customers:read'])
  const pools: Pools = {
    customerId: [a.id, b.id],
    externalIdId: [connectedA.externalId.id, spareA.id, connectedB.externalId.id],
    connectionId: [connectedA.connection.id, connectedB.connection.id],
    // Never the admin's or the bound client's own: revoking them would end the run.
    apiClientId: [clientOfA.id, spareClient.id],
    actorClientId: [bound.id, clientOfA.id],
    awsAccountId: [connectedA.account, spareAccountA, connectedB.account],
    roleArn: [roleArn(connectedA.account), roleArn(spareAccountA), roleArn(connectedB.account)]
  }
  // What customer B's token must never be shown: A's ids and its external ID values.
  const secretsOfA = [a.id, connectedA.externalId.id, connectedA.externalId.externalId, spareA.id, spareA.externalId, connectedA.connection.id, clientOfA.id]

  const db = new pg.Client({ connectionString: databaseUrl })
  db.on('error', () => {})
  await db.connect()
  t.teardown(() => db.end())
  async function snapshot (afterSeq: string): Promise<Snapshot> {
    const { rows } = await db.query<Snapshot>(`SELECT
      json_build_object('customers', (SELECT count(*) FROM customers), 'external_ids', (SELECT count(*) FROM external_ids),
        'connections', (SELECT count(*) FROM connections), 'api_clients', (SELECT count(*) FROM api_clients),
        'idempotency_keys', (SELECT count(*) FROM idempotency_keys)) AS counts,
      (SELECT coalesce(max(seq), 0) FROM audit_events)::text AS seq,
      (SELECT coalesce(json_agg(json_build_object('action', action, 'outcome', outcome, 'requestId', request_id) ORDER BY seq), '[]'::json) FROM audit_events WHERE seq > $1::bigint) AS events`, [afterSeq])
    const row = rows[0]
    if (row === undefined) throw new Error('no snapshot')
    return row
  }
  let current = await snapshot('0')

  // Routes whose success destroys fixtures (a retired external ID revokes its connection, a
  // revoked client is gone, an offboarded customer is gone for good) run last, so every other
  // route is fuzzed against live resources.
  // Suspending, offboarding and freezing stop issuance (a freeze answers 503 to every issuance).
  const destructive = (r: ServedRoute): boolean => /\/(retire|revoke|suspend|resume|offboard|freeze|unfreeze)$/.test(r.url)
  routes.sort((x, y) => Number(destructive(x)) - Number(destructive(y)))
  // The audit export streams the whole trail the fuzzing has written so far: it costs tens of
  // times a plain request, so it gets a smaller share and the other routes share the rest.
  const SHARE: Record<string, number> = { 'GET /v1/audit-events/export': 0.2 }
  const shares = routes.reduce((sum, r) => sum + (SHARE[r.key] ?? 1), 0)
  const requestsFor = (route: ServedRoute): number => Math.ceil(TOTAL_REQUESTS * (SHARE[route.key] ?? 1) / Math.max(1, shares))

  let sent = 0
  const failedRoutes: string[] = []
  const timings = { app: 0, snapshot: 0, openapi: 0 }
  const violations = new Map<string, { count: number, example: string }>()
  const started = performance.now()
  const cpuAtStart = process.cpuUsage()

  function describe (method: HttpMethod, url: string, req: FuzzRequest, res: LightMyRequestResponse): string {
    const payload = req.body === undefined ? '(none)' : typeof req.body.payload === 'string' ? JSON.stringify(req.body.payload.slice(0, 400)) : `<${req.body.payload.toString('hex')}>`
    const requestId = String(res.headers['x-request-id'] ?? '')
    const logged = logs.filter((line) => requestId !== '' && line.includes(`"reqId":${JSON.stringify(requestId)}`)).slice(-3).map((line) => line.slice(0, 700))
    return [
      `request: ${method} ${url.slice(0, 400)} token=${req.token.kind} content-type=${JSON.stringify(req.body?.contentType)} headers=${JSON.stringify(req.headers).slice(0, 300)}`,
      `body: ${payload}`,
      `response: ${res.statusCode} ${res.body.slice(0, 600)}`,
      ...(logged.length === 0 ? [] : ['log:', ...logged])
    ].join('\n')
  }

  interface Sent { req: FuzzRequest, url: string, res: LightMyRequestResponse, problems: string[] }
  let requestCounter = 0

  /** Sends one request and checks everything that does not need the database. */
  async function send (route: ServedRoute, req: FuzzRequest, statuses: Map<number, number>): Promise<Sent> {
    const path = route.url.replace(/:(\w+)/g, (_, name: string) => {
      const p = req.params[name] ?? { value: '', raw: false }
      return p.raw ? p.value : encodeSegment(p.value)
    })
    const url = req.query === '' ? path : `${path}?${req.query}`
    const headers: Record<string, string> = { ...req.headers }
    // Audit events are matched to requests by request id: a well-formed one is made unique.
    const offered = headers['x-request-id']
    if (offered !== undefined && /^[A-Za-z0-9._:-]{1,128}$/.test(offered)) headers['x-request-id'] = `${offered}.${++requestCounter}`
    if (req.token.kind === 'admin') headers.authorization = `Bearer ${ADMIN_TOKEN}`
    if (req.token.kind === 'bound') headers.authorization = `Bearer ${bound.token}`
    if (req.token.kind === 'garbage') headers.authorization = req.token.header
    if (req.body?.contentType !== undefined) headers['content-type'] = req.body.contentType
    // The callback form: buildTestApp checks promise-form answers against openapi.yaml and
    // rejects on a mismatch; here that check is one property among the others, below.
    const injected = performance.now()
    const res = await new Promise<LightMyRequestResponse>((resolve, reject) => {
      app.inject({ method: route.method, url, headers, ...(req.body === undefined ? {} : { payload: req.body.payload }) }, (error, response) => {
        if (response === undefined) reject(error ?? new Error('no response'))
        else resolve(response)
      })
    })
    sent++
    statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
    timings.app += performance.now() - injected

    const problems: string[] = []
    const status = res.statusCode
    const body = parseJson(res.body)
    // The audit export answers NDJSON: one JSON object ({event, seal}) per line, possibly none.
    const ndjson = String(res.headers['content-type'] ?? '').startsWith('application/x-ndjson')
      ? res.body.split('\n').filter((line) => line !== '').map(parseJson)
      : undefined
    const problem = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>
    const authenticated = req.token.kind === 'admin' || req.token.kind === 'bound'
    // What only a route's own code answers: reaching it takes a token with the right scope.
    const fromTheRoute = (status >= 200 && status < 300) || [409, 422, 424].includes(status) || problem.code === 'not_found'

    if (status >= 500) problems.push(`answered ${status}`)
    const validating = performance.now()
    try {
      assertResponseMatchesSpec(res)
    } catch (error) {
      problems.push(`does not match openapi.yaml: ${(error as Error).message.slice(0, 600)}`)
    }
    timings.openapi += performance.now() - validating
    const requestId = res.headers['x-request-id']
    if (typeof requestId !== 'string' || !/^[A-Za-z0-9._:-]{1,128}$/.test(requestId)) problems.push(`X-Request-Id missing or unsafe: ${JSON.stringify(requestId)}`)

    if (status >= 400) {
      const contentType = String(res.headers['content-type'] ?? '')
      // The container-credentials route answers errors as the AWS SDKs read them: {code, message, requestId}.
      // (A path with a `.` or `..` segment is resolved to another route, or to none, first.)
      const sdkShaped = /^\/v1\/connections\/[^/]*\/container-credentials$/.test(new URL(url, 'http://deputy.test').pathname)
      if (sdkShaped) {
        if (!contentType.startsWith('application/json')) problems.push(`a ${status} that is not application/json (${contentType})`)
        if (typeof problem.code !== 'string' || !PROBLEM_CODE.test(problem.code)) problems.push(`an SDK error without a stable code: ${JSON.stringify(problem.code)}`)
        if (typeof problem.message !== 'string' || problem.message === '') problems.push('an SDK error without a message')
        if (problem.requestId !== requestId) problems.push('an SDK error whose requestId is not the request\'s')
      } else if (!contentType.startsWith('application/problem+json')) problems.push(`a ${status} that is not application/problem+json (${contentType})`)
      if (typeof body !== 'object' || body === null) problems.push(`a ${status} whose body is not a JSON object`)
      else if (!sdkShaped) {
        if (problem.status !== status) problems.push(`problem status ${JSON.stringify(problem.status)} differs from HTTP ${status}`)
        for (const field of ['type', 'title', 'detail', 'code']) if (typeof problem[field] !== 'string' || problem[field] === '') problems.push(`problem without a ${field}`)
        if (typeof problem.code === 'string' && !PROBLEM_CODE.test(problem.code)) problems.push(`problem code ${problem.code} is not a stable code`)
        if (typeof problem.code === 'string' && problem.type !== `urn:deputy:problem:${problem.code}`) problems.push(`problem type ${String(problem.type)} does not match code ${problem.code}`)
      }
      // Nothing internal, unless the request itself said it.
      const sentText = [url, safeDecode(url), ...Object.values(headers), ...(typeof req.body?.payload === 'string' ? [req.body.payload, ...stringsIn(parseJson(req.body.payload))] : [])].join('\n')
      for (const s of body === undefined ? [res.body] : stringsIn(body)) {
        for (const [what, pattern] of LEAKS) {
          const match = pattern.exec(s)
          if (match !== null && !sentText.includes(match[0])) problems.push(`${what} in the answer: ${JSON.stringify(match[0])}`)
        }
      }
    } else if (status >= 200 && status < 300) {
      if (ndjson !== undefined) {
        if (ndjson.some((line) => line === undefined)) problems.push(`a ${status} with an NDJSON line that is not JSON`)
      } else if (String(res.headers['content-type'] ?? '').startsWith('text/plain')) {
        // GET /metrics: Prometheus text; what it must contain is asserted by openapi.yaml and its own test.
        if (route.url !== '/metrics') problems.push(`a ${status} in text/plain from ${route.url}`)
      } else if (!String(res.headers['content-type'] ?? '').startsWith('application/json') || body === undefined) problems.push(`a ${status} that is not JSON`)
    }

    if (route.scope !== undefined) {
      if (!authenticated && fromTheRoute) problems.push(`no valid token, yet ${status} ${String(problem.code ?? '')}`)
      if (status === 401 && authenticated) problems.push('a valid token answered 401')
      if (status === 401 && !String(res.headers['www-authenticate'] ?? '').startsWith('Bearer')) problems.push('401 without WWW-Authenticate: Bearer')
      if (req.token.kind === 'admin' && problem.code === 'insufficient_scope') problems.push('admin refused for scope')
      if (req.token.kind === 'bound' && route.scope !== undefined && UNBOUND_SCOPES.includes(route.scope) && fromTheRoute) problems.push(`a token bound to a customer reached a route of an unbound scope: ${status}`)
      if (req.token.kind === 'bound' && (route.scope === undefined || !UNBOUND_SCOPES.includes(route.scope)) && problem.code === 'insufficient_scope') problems.push('a token with every bindable scope refused for scope')
    }

    if (req.token.kind === 'bound' && status >= 200 && status < 300) {
      if (route.params.some((name) => secretsOfA.includes(req.params[name]?.value ?? ''))) problems.push('a token bound to B succeeded on a path naming A\'s resource')
      const items = (ndjson !== undefined
        ? ndjson.map((line) => (line as { event: unknown }).event)
        : typeof body === 'object' && body !== null && Array.isArray((body as { items?: unknown }).items) ? (body as { items: unknown[] }).items : [body]) as Array<Record<string, unknown>>
      for (const item of items) {
        const owner = item.customerId ?? (route.url.startsWith('/v1/customers') ? item.id : undefined)
        if (owner !== undefined && owner !== b.id) problems.push(`a token bound to B was shown a row of customer ${String(owner)}`)
      }
      // The audit trail is B's own: its refusals name the ids B asked for.
      if (!route.url.startsWith('/v1/audit-events')) {
        for (const secret of secretsOfA) if (res.body.includes(secret)) problems.push(`a token bound to B was shown ${secret} of customer A`)
      }
    }
    return { req, url, res, problems }
  }

  /**
   * Sends a batch of requests, then checks the database once: every new row is explained by a
   * creation the batch succeeded in, and every audit event belongs to a request of the batch,
   * a refused one having written refusals only. fast-check shrinks a failing batch down to the
   * request that did it.
   */
  async function exercise (route: ServedRoute, batch: FuzzRequest[], statuses: Map<number, number>): Promise<void> {
    const before = current
    const done: Sent[] = []
    for (const req of batch) done.push(await send(route, req, statuses))
    const snapshotStarted = performance.now()
    const after = await snapshot(before.seq)
    current = after
    timings.snapshot += performance.now() - snapshotStarted

    const batchProblems: string[] = []
    const creates = CREATES[route.key]
    const explained: Record<string, number> = {}
    let keyed = 0
    for (const { req, res } of done) {
      if (creates !== undefined && res.statusCode === 201 && res.headers['idempotent-replayed'] !== 'true') explained[creates] = (explained[creates] ?? 0) + 1
      // A 4xx the handler answered is the final answer to its Idempotency-Key: it is stored too.
      if (route.idempotent && req.headers['idempotency-key'] !== undefined && res.statusCode < 500) keyed++
    }
    for (const table of Object.keys(after.counts)) {
      const grew = (after.counts[table] ?? 0) - (before.counts[table] ?? 0)
      if (table === 'idempotency_keys' ? grew < 0 || grew > keyed : grew !== (explained[table] ?? 0)) {
        batchProblems.push(`${table} changed by ${grew}; the batch's successful creations explain ${table === 'idempotency_keys' ? `0 to ${keyed}` : explained[table] ?? 0}`)
      }
    }
    for (const event of after.events) {
      const owner = done.find((s) => s.res.headers['x-request-id'] === event.requestId)
      if (owner === undefined) {
        batchProblems.push(`audit event ${event.action} (${event.outcome}) of no request in the batch (request id ${JSON.stringify(event.requestId)})`)
        continue
      }
      const refusal = event.outcome === 'denied' || event.outcome === 'failure'
      const documented = owner.res.statusCode === 424 && event.action === 'connection.status_changed'
      if (owner.res.statusCode >= 300 && !refusal && !documented) owner.problems.push(`refused (${owner.res.statusCode}) but audited ${event.action} ${event.outcome}`)
    }

    const failing = done.filter((s) => s.problems.length > 0)
    if (failing.length === 0 && batchProblems.length === 0) return
    const reports = failing.map((s) => `${route.key}: ${s.problems.join('; ')}\n${describe(route.method, s.url, s.req, s.res)}`)
    if (batchProblems.length > 0) reports.push(`${route.key}: ${batchProblems.join('; ')}\nthe batch:\n${done.map((s) => describe(route.method, s.url, s.req, s.res)).join('\n')}`)
    if (!KEEP_GOING) throw new Error(reports.join('\n\n'))
    const record = (kind: string, report: string): void => {
      const seen = violations.get(kind)
      violations.set(kind, { count: (seen?.count ?? 0) + 1, example: seen?.example ?? report })
    }
    failing.forEach((s, i) => {
      // Grouped by answer, first problem (the others usually follow from it) and logged cause.
      const logged = logs.filter((line) => line.includes(`"reqId":${JSON.stringify(s.res.headers['x-request-id'] ?? '')}`)).join('\n')
      const cause = /Database error\. Code: `(\w+)`/.exec(logged)?.[1] ?? /"err":\{"type":"(\w+)"/.exec(logged)?.[1] ?? ''
      const code = String((parseJson(s.res.body) as { code?: unknown } | undefined)?.code ?? '')
      record(`${route.key} -> ${s.res.statusCode} ${code} ${cause}: ${(s.problems[0] ?? '').split(':')[0] ?? ''}`, reports[i] ?? '')
    })
    if (batchProblems.length > 0) record(`${route.key}: ${(batchProblems[0] ?? '').split(';')[0] ?? ''}`, reports.at(-1) ?? '')
  }

  for (const route of routes) {
    const requestsPerRoute = requestsFor(route)
    t.test(`${route.key}: ${requestsPerRoute} generated requests`, async (t) => {
      const statuses = new Map<number, number>()
      const routeStarted = performance.now()
      const sentBefore = sent
      // Offboarding B would revoke the bound client with it (offboarding revokes the clients
      // bound to the customer) and end the run: that route names A, or ids that do not exist.
      const routePools = route.key === 'POST /v1/customers/:customerId/offboard' ? { ...pools, customerId: [a.id] } : pools
      const batches = fc.array(requestArbitrary(route, routePools), { minLength: 1, maxLength: 8 })
      const property = fc.asyncProperty(batches, async (batch) => { await exercise(route, batch, statuses) })
      // Batches vary in length: rounds of runs (each with its own seed) until the route's share is sent.
      const remaining = (): number => requestsPerRoute - (sent - sentBefore)
      for (let round = 0; remaining() > 0; round++) {
        const seed = SEED + round
        const numRuns = Math.max(1, Math.ceil(remaining() / 4.5))
        const details = await fc.check(property, { seed, numRuns, ...(REPLAY_PATH === undefined ? {} : { path: REPLAY_PATH }) })
        if (details.failed) {
          failedRoutes.push(route.key)
          t.fail(`${route.key}: a property failed; replay with DEPUTY_FUZZ_SEED=${details.seed} DEPUTY_FUZZ_ROUTE='${route.key}' DEPUTY_FUZZ_PATH='${details.counterexamplePath ?? ''}'`, {
            counterexample: details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)
          })
          break
        }
        if (REPLAY_PATH !== undefined) break
      }
      const summary = [...statuses].sort(([x], [y]) => x - y).map(([s, n]) => `${s}×${n}`).join(' ')
      t.comment(`${sent - sentBefore} requests: ${summary} in ${Math.round(performance.now() - routeStarted)} ms`)
      t.pass(`${sent - sentBefore} requests sent`)
    })
  }

  t.test('totals', async (t) => {
    const seconds = (performance.now() - started) / 1000
    const cpuMs = (): number => { const { user, system } = process.cpuUsage(cpuAtStart); return (user + system) / 1000 }
    t.comment(`${sent} requests over ${routes.length} routes in ${seconds.toFixed(1)} s (${Math.round(sent / seconds)}/s; deputy ${Math.round(timings.app / 1000)} s, database snapshots ${Math.round(timings.snapshot / 1000)} s, openapi.yaml checks ${Math.round(timings.openapi / 1000)} s; ${(cpuMs() / sent).toFixed(1)} ms of this process's CPU per request; ${logs.length} log lines); seed ${SEED}`)
    // A failing route stops at its counterexample; the others send their share.
    if (ONLY_ROUTE === undefined && REPLAY_PATH === undefined && failedRoutes.length === 0) t.ok(sent >= TOTAL_REQUESTS, `at least ${TOTAL_REQUESTS} requests sent (${sent})`)
    if (KEEP_GOING) {
      for (const [kind, { count, example }] of violations) t.comment(`${count}× ${kind}\n${example}\n`)
      t.equal(violations.size, 0, 'no violations')
    }
  })
})
