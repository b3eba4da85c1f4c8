// openapi.yaml is the truth of the API: it must equal what the routes produce, list exactly the
// routes the server serves, document every status each route can answer, describe what the
// server really sends (test/helpers/openapi-validator.ts, run on every response of the suite by
// buildTestApp), and pass Redocly's lint.
import { execFile } from 'node:child_process'
import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connect } from 'node:net'
import { promisify } from 'node:util'
import Fastify, { type RouteOptions } from 'fastify'
import t from 'tap'
import { parse } from 'yaml'
import { buildAppForSpec, buildOpenApiYaml } from '../src/openapi.js'
import { requiredScopeOf } from '../src/plugins/auth.js'
import { validatorCompiler } from '../src/plugins/schema-compilers.js'
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler'
import { ADMIN_TOKEN, buildTestApp, call } from './helpers/app.js'
import { createApiClient } from './helpers/fixtures.js'
import { OpenApiValidator, openApiValidator, type ObservedResponse } from './helpers/openapi-validator.js'

const committedPath = new URL('../openapi.yaml', import.meta.url)

interface Document { paths: Record<string, Record<string, { responses: Record<string, unknown>, security?: unknown[] }>> }
const committed = async (): Promise<Document> => parse(await readFile(committedPath, 'utf8')) as Document

const isDocumentation = (route: Pick<RouteOptions, 'url' | 'schema'>): boolean =>
  (route.schema as { hide?: boolean } | undefined)?.hide === true || route.url.startsWith('/docs')

/** Every documented operation of the route table, as the routes declare themselves. */
async function documentedRoutes (): Promise<Array<{ method: string, path: string, route: RouteOptions }>> {
  const routes: Array<{ method: string, path: string, route: RouteOptions }> = []
  const app = await buildAppForSpec((route) => {
    if (isDocumentation(route)) return
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD') routes.push({ method, path: route.url.replace(/:(\w+)/g, '{$1}'), route })
    }
  })
  await app.close()
  return routes
}

t.test('the console\'s typed client is generated from the committed openapi.yaml', async (t) => {
  // web/console cannot call a route or read a field the API does not have: its client's types are
  // openapi-typescript's output for openapi.yaml, and this fails when either changes alone.
  const fresh = join(await mkdtemp(join(tmpdir(), 'deputy-client-')), 'schema.d.ts')
  await promisify(execFile)(process.execPath, [fileURLToPath(new URL('../node_modules/openapi-typescript/bin/cli.js', import.meta.url)), fileURLToPath(committedPath), '--output', fresh])
  const committedClient = await readFile(new URL('../web/console/src/api/schema.d.ts', import.meta.url), 'utf8')
  t.ok(committedClient === await readFile(fresh, 'utf8'), 'run `npm run generate -w web/console` and commit web/console/src/api/schema.d.ts')
})

t.test('the committed openapi.yaml is what the route schemas produce', async (t) => {
  const text = await readFile(committedPath, 'utf8')
  t.equal(text, await buildOpenApiYaml(), 'run `npm run openapi` and commit openapi.yaml')
})

t.test('every served route is documented and every documented route is served', async (t) => {
  const served = new Set((await documentedRoutes()).map(({ method, path }) => `${method} ${path}`))
  const documented = await committed()
  const documentedOps = Object.entries(documented.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
  t.same([...served].sort(), documentedOps.sort())
  t.ok(served.size >= 12, `${served.size} operations`)
})

t.test('openapi.yaml passes redocly lint', async (t) => {
  const redocly = new URL('../node_modules/@redocly/cli/bin/cli.js', import.meta.url).pathname
  const result = await promisify(execFile)(process.execPath, [redocly, 'lint', 'openapi.yaml', '--format', 'stylish'], {
    cwd: new URL('..', import.meta.url).pathname,
    // A plain environment: tap's coverage hooks must not follow into the linter.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', _TAPJS_PROCESSINFO_COVERAGE_: '0', REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' }
  })
    .then(({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }), (error: { code: number, stdout: string, stderr: string }) => ({ code: error.code, output: error.stdout + error.stderr }))
  t.equal(result.code, 0, result.output)
  t.notMatch(result.output, /You have \d+ warning/, 'no lint warnings either')
})

// The rules, stated here on their own so that a change to the swagger plugin's onRoute hook
// cannot quietly weaken them: what each cross-cutting plugin, and Fastify, can answer.
function statusesThatApply (method: string, route: RouteOptions): Map<number, string> {
  const schema = (route.schema ?? {}) as Record<string, unknown>
  const config = (route.config ?? {}) as { rateLimit?: unknown, idempotency?: unknown }
  const takesBody = ['POST', 'PUT', 'PATCH', 'DELETE'].includes(method)
  const scope = requiredScopeOf(route)
  const rules: Array<[boolean, number[], string]> = [
    [['params', 'querystring', 'body', 'headers'].some((part) => schema[part] !== undefined), [400], 'validated input'],
    [takesBody, [400, 413, 415], 'the body parser (malformed JSON, over 64 KiB, not JSON)'],
    [scope !== undefined, [401, 403, 429], `authorize('${scope ?? ''}') and its failure throttle`],
    [schema.params !== undefined, [404], 'a path parameter naming a resource'],
    [route.url.includes(':'), [404, 414], 'a path parameter (the router refuses one over maxParamLength)'],
    [config.idempotency !== undefined, [400, 409, 422], 'Idempotency-Key'],
    [config.rateLimit !== false, [429], 'the rate limit'],
    [true, [500], 'the error handler masks unexpected errors'],
    [true, [503], 'a closing server (return503OnClosing)']
  ]
  const applies = new Map<number, string>()
  for (const [when, statuses, why] of rules) {
    if (when) for (const status of statuses) applies.set(status, applies.has(status) ? `${applies.get(status) ?? ''}; ${why}` : why)
  }
  return applies
}

t.test('every route documents every status the plugins and Fastify can answer for it', async (t) => {
  const documented = await committed()
  const routes = await documentedRoutes()
  for (const { method, path, route } of routes) {
    const responses = documented.paths[path]?.[method.toLowerCase()]?.responses ?? {}
    const missing = [...statusesThatApply(method, route)].filter(([status]) => responses[status] === undefined).map(([status, why]) => `${status} (${why})`)
    t.same(missing, [], `${method} ${path} documents ${Object.keys(responses).join(', ')}`)
  }
  // The case the hardening issue named, and one of each kind.
  const createCustomer = Object.keys(documented.paths['/v1/customers']?.post?.responses ?? {})
  t.same(['400', '401', '403', '413', '415', '429', '500', '503'].filter((status) => !createCustomer.includes(status)), [], 'POST /v1/customers')
  t.same(Object.keys(documented.paths['/healthz']?.get?.responses ?? {}), ['200', '500', '503'], 'a public, unlimited route without input')
  t.ok(routes.length >= 12)
})

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Omit<ObservedResponse, 'method' | 'url'> =>
  ({ statusCode: status, headers: { 'content-type': status >= 400 ? 'application/problem+json; charset=utf-8' : 'application/json; charset=utf-8', 'x-request-id': 'r-1', ...headers }, body: JSON.stringify(body) })
const problem = (status: number, code: string): Record<string, unknown> => ({ type: `urn:deputy:problem:${code}`, title: 'T', status, detail: 'd', code })

t.test('the response validator refuses what openapi.yaml does not document', async (t) => {
  const validator = openApiValidator()
  const get = (url: string, response: Omit<ObservedResponse, 'method' | 'url'>): string[] => validator.check({ method: 'GET', url, ...response }).problems
  t.same(get('/v1/customers?limit=2', json(401, problem(401, 'unauthorized'))), [], 'a documented problem passes')
  t.same(get('/v1/customers', json(200, { items: [], nextCursor: null, total: 0 })), [], 'a documented page passes')
  t.match(get('/v1/customers', json(418, problem(418, 'teapot'))), [/status 418 is not documented/])
  t.match(get('/v1/customers', { ...json(401, problem(401, 'unauthorized')), headers: { 'content-type': 'text/html', 'x-request-id': 'r' } }), [/content type text\/html is not documented/])
  t.match(get('/v1/customers', json(200, { items: [{ id: 'not-a-uuid' }] })), [/body does not match the application\/json schema: .*nextCursor/, /ajv errors/])
  t.match(get('/v1/customers', json(400, { code: 'validation_failed' })), [/body does not match.*must have required property 'type'/, /ajv errors/])
  t.match(get('/v1/customers', { ...json(401, problem(401, 'unauthorized')), headers: { 'content-type': 'application/problem+json' } }), [/required header X-Request-Id is missing/])
  t.match(get('/v1/customers', json(429, problem(429, 'rate_limited'))), [/required header Retry-After is missing/])
  t.match(get('/v1/customers', json(429, problem(429, 'rate_limited'), { 'retry-after': 'soon' })), [/header Retry-After: "soon" header.* must be integer/])
  t.same(get('/readyz', { statusCode: 503, headers: { 'content-type': 'application/json' }, body: '{"error":"Service Unavailable","message":"Service Unavailable","statusCode":503}' }), [], 'the closing answer passes without X-Request-Id')
  const customer = `/v1/customers/${crypto.randomUUID()}`
  t.same(validator.check({ method: 'HEAD', url: customer, statusCode: 200, headers: { 'content-type': 'application/json', 'x-request-id': 'r' }, body: '' }).problems, [], 'HEAD is checked as GET, without a body')
  t.match(validator.check({ method: 'POST', url: customer, ...json(201, {}) }), { operation: undefined, problems: [] }, 'not an operation: not checked')
  t.match(validator.check({ method: 'GET', url: '/docs/static/index.html', statusCode: 200, headers: {}, body: '<html>' }), { operation: undefined }, 'documentation is not checked')
  t.equal(validator.pathOf('/v1/external-ids/abc/retire'), '/v1/external-ids/{externalIdId}/retire')
  t.equal(new OpenApiValidator({ paths: {} }).pathOf('/v1/customers'), undefined)
})

t.test('every response a test sees through buildTestApp or call() is checked against openapi.yaml', async (t) => {
  // Through buildTestApp: app.inject itself (and so call()) refuses a response the validator
  // refuses, and the TestApp keeps it for the teardown check.
  const testApp = await buildTestApp(t)
  const validator = openApiValidator()
  const violation = validator.violation.bind(validator)
  validator.violation = (response) => response.url === '/healthz?pretend' ? `${response.method} ${response.url}: pretend violation` : violation(response)
  try {
    await t.rejects(testApp.app.inject({ method: 'GET', url: '/healthz?pretend' }), /GET \/healthz\?pretend: pretend violation/)
    await t.rejects(call(testApp.app, 'GET', '/healthz?pretend'), /pretend violation/)
    t.equal((await testApp.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'a conforming response passes')
  } finally {
    validator.violation = violation
  }
  t.equal(testApp.responseViolations.length, 2)
  testApp.responseViolations.length = 0 // or this test's teardown would fail it, as it should

  // call() on an app buildTestApp did not build checks the response itself, and says why it fails.
  const bare = Fastify()
  bare.get('/v1/customers', async (_request, reply) => reply.code(418).send({ hello: 'teapot' }))
  t.teardown(() => bare.close())
  await t.rejects(call(bare, 'GET', '/v1/customers'), /GET \/v1\/customers answered 418, which does not match openapi\.yaml \(GET \/v1\/customers\):\n {2}- status 418 is not documented/)
})

/** Splits raw HTTP/1.1 responses read from a socket (Content-Length framed). */
function parseResponses (raw: string): Array<Omit<ObservedResponse, 'method' | 'url'>> {
  const responses: Array<Omit<ObservedResponse, 'method' | 'url'>> = []
  let rest = raw
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n')
    if (end < 0) break
    const [statusLine = '', ...lines] = rest.slice(0, end).split('\r\n')
    const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]))
    const length = Number(headers['content-length'] ?? 0)
    responses.push({ statusCode: Number(statusLine.split(' ')[1]), headers, body: rest.slice(end + 4, end + 4 + length) })
    rest = rest.slice(end + 4 + length)
  }
  return responses
}

t.test('a closing server answers 503 as openapi.yaml documents it', async (t) => {
  const { app } = await buildTestApp(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const socket = connect(port, '127.0.0.1')
  t.teardown(() => socket.destroy())
  await new Promise((resolve) => socket.once('connect', resolve))
  let received = ''
  socket.on('data', (chunk: Buffer) => { received += chunk.toString('utf8') })
  const ended = new Promise((resolve) => socket.once('close', resolve))
  // A request in flight (half its body sent) keeps the connection open while the server
  // closes; the request pipelined behind it arrives at a closing server.
  const body = JSON.stringify({ name: 'Closing' })
  socket.write(`POST /v1/customers HTTP/1.1\r\nHost: deputy\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 5)}`)
  await new Promise((resolve) => setTimeout(resolve, 200))
  const closed = app.close()
  await new Promise((resolve) => setTimeout(resolve, 100))
  socket.write(`${body.slice(5)}GET /healthz HTTP/1.1\r\nHost: deputy\r\n\r\n`)
  await Promise.all([closed, ended])

  const [created, closing] = parseResponses(received)
  t.equal(created?.statusCode, 201, 'the request in flight is answered')
  t.equal(closing?.statusCode, 503, 'the one behind it is refused')
  t.same(JSON.parse(closing?.body ?? '{}'), { error: 'Service Unavailable', message: 'Service Unavailable', statusCode: 503 }, 'Fastify\'s own body, not a problem')
  t.equal(closing?.headers['x-request-id'], undefined, 'written before any hook: no request id')
  const validator = openApiValidator()
  t.same(created === undefined ? ['missing'] : validator.check({ method: 'POST', url: '/v1/customers', ...created }).problems, [])
  t.same(closing === undefined ? ['missing'] : validator.check({ method: 'GET', url: '/healthz', ...closing }).problems, [], 'documented for /healthz, which has no 503 of its own')
})

t.test('every route answers the cross-cutting statuses it documents, as it documents them', async (t) => {
  const routes = await documentedRoutes()
  const { app } = await buildTestApp(t)
  const auditor = await createApiClient(app, ['audit:read'])
  const reader = await createApiClient(app, ['customers:read'])
  // The other app allows one request per window, so the second is always 429.
  const limited = await buildTestApp(t, { RATE_LIMIT_MAX: '1' })
  const id = '00000000-0000-4000-8000-000000000000'
  let address = 0
  for (const { method, path, route } of routes) {
    const url = path.replace(/\{\w+\}/g, id)
    const scope = requiredScopeOf(route)
    const name = `${method} ${path}`
    // Each route from an address of its own, so that failed authentications do not add up.
    const remoteAddress = `10.0.${Math.floor(++address / 250)}.${address % 250}`
    const send = async (target: typeof app, headers: Record<string, string>, payload?: string): Promise<number> =>
      (await target.inject({ method: method as 'GET', url, headers, remoteAddress, ...(payload === undefined ? {} : { payload }) })).statusCode
    if (scope !== undefined) {
      t.equal(await send(app, {}), 401, `${name} without a token`)
      const lacking = [auditor, reader].find((client) => !['admin', scope].some((s) => client.scopes.includes(s))) ?? auditor
      t.equal(await send(app, { authorization: `Bearer ${lacking.token}` }), 403, `${name} without ${scope}`)
    }
    if (['POST', 'PUT', 'PATCH', 'DELETE'].includes(method)) {
      const admin = { authorization: `Bearer ${ADMIN_TOKEN}` }
      t.equal(await send(app, { ...admin, 'content-type': 'application/json' }, JSON.stringify({ name: 'x'.repeat(70 * 1024) })), 413, `${name} with 70 KB`)
      t.equal(await send(app, { ...admin, 'content-type': 'text/plain' }, 'name=x'), 415, `${name} with text/plain`)
      t.equal(await send(app, { ...admin, 'content-type': 'application/json' }, '{"name":'), 400, `${name} with malformed JSON`)
    }
    if ((route.config as { rateLimit?: unknown } | undefined)?.rateLimit !== false) {
      const token = { authorization: `Bearer dpt_rate-limit-${address}-000000000000000000000000000000` }
      await send(limited.app, token)
      t.equal(await send(limited.app, token), 429, `${name} over the rate limit`)
    }
  }
})

t.test('every route\'s validators and serializers compile (deputy compiles them on first use)', async (t) => {
  const routes: RouteOptions[] = []
  const app = await buildAppForSpec((route) => { routes.push(route) })
  t.teardown(() => app.close())
  const validators = validatorCompiler()
  const serializers = SerializerSelector()(app.getSchemas() as Parameters<ReturnType<typeof SerializerSelector>>[0], {})
  let compiled = 0
  for (const route of routes) {
    const schema = (route.schema ?? {}) as Record<string, unknown> & { response?: Record<string, unknown> }
    const method = [route.method].flat()[0] ?? 'GET'
    for (const httpPart of ['body', 'querystring', 'params', 'headers']) {
      if (schema[httpPart] === undefined) continue
      const validate = validators({ schema: schema[httpPart] as object, method, url: route.url, httpPart }) as (data: unknown) => boolean
      t.doesNotThrow(() => validate({}), `${method} ${route.url} ${httpPart}`)
      compiled++
    }
    for (const [httpStatus, response] of Object.entries(schema.response ?? {})) {
      t.doesNotThrow(() => serializers({ schema: response as object, method, url: route.url, httpStatus }), `${method} ${route.url} ${httpStatus}`)
      compiled++
    }
  }
  t.ok(compiled > 100, `${compiled} schemas compiled`)
})
