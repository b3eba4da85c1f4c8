// Load shedding: past OVERLOAD_MAX_IN_FLIGHT requests at once, or with the event loop lagging
// past OVERLOAD_MAX_EVENT_LOOP_DELAY_MS, new requests are refused at once with 503 `overloaded`
// (problem+json, Retry-After), while /healthz, /readyz and /metrics keep answering; once the
// pressure is gone, requests are served again. The event-loop test takes the samples itself, so
// it knows which sample starts and which ends the shedding. (Behaviour under real overload, with numbers:
// test/reliability/overload.reliability.ts.)
import t from 'tap'
import { ADMIN_TOKEN, buildTestApp, call } from '../helpers/app.js'
import { startTestAws } from '../helpers/aws.js'
import { connectRole, createCustomer } from '../helpers/fixtures.js'

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

t.test('past OVERLOAD_MAX_IN_FLIGHT, new requests are shed; health and metrics are not', async (t) => {
  const aws = await startTestAws(t)
  const { app } = await buildTestApp(t, { ...aws.env, OVERLOAD_MAX_IN_FLIGHT: '1', OVERLOAD_RETRY_AFTER_SECONDS: '3' })
  const customer = await createCustomer(app)
  const { connection } = await connectRole(app, aws.emulator, customer.id)

  // One issuance held up by STS fills the only slot.
  aws.emulator.injectFault({ kind: 'latency', action: 'AssumeRole', count: 1, latencyMs: 700 })
  const slow = call(app, 'POST', `/v1/connections/${connection.id}/credentials`, { token: ADMIN_TOKEN, body: { purpose: 'holds the slot' } })
  await sleep(250)
  const shed = await call(app, 'GET', '/v1/customers', { token: ADMIN_TOKEN })
  t.equal(shed.statusCode, 503)
  t.match(shed.headers['content-type'], /^application\/problem\+json/)
  t.equal(shed.headers['retry-after'], '3')
  t.match(shed.json(), { code: 'overloaded', type: 'urn:deputy:problem:overloaded', status: 503, detail: /OVERLOAD_MAX_IN_FLIGHT/ })
  t.ok(shed.headers['x-request-id'], 'with its request id')
  for (const path of ['/healthz', '/readyz']) t.equal((await call(app, 'GET', path)).statusCode, 200, `${path} is never shed`)
  const metrics = await call(app, 'GET', '/metrics', { token: ADMIN_TOKEN })
  t.equal(metrics.statusCode, 200, '/metrics is never shed')
  t.match(metrics.body, /deputy_http_requests_shed_total\{reason="inFlight"\} 1\b/)
  t.match(metrics.body, /deputy_http_requests_in_flight 1\b/)
  t.match(metrics.body, /deputy_event_loop_delay_p99_seconds \d/)

  t.equal((await slow).statusCode, 201, 'the request that held the slot is served')
  t.equal((await call(app, 'GET', '/v1/customers', { token: ADMIN_TOKEN })).statusCode, 200, 'and the next one is too')
})

t.test('a lagging event loop: shedding starts with the sample past OVERLOAD_MAX_EVENT_LOOP_DELAY_MS and stops with the next one under it', async (t) => {
  // The timer never samples during the test (60 s): the test takes each sample itself.
  const { app } = await buildTestApp(t, { OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '50', OVERLOAD_SAMPLE_INTERVAL_MS: '60000' })
  const customers = async () => await call(app, 'GET', '/v1/customers', { token: ADMIN_TOKEN })
  t.equal((await customers()).statusCode, 200, 'nothing sampled yet: served')

  // Blocks the event loop for 400 ms; once the delay histogram has recorded it, a sample is taken.
  const until = Date.now() + 400
  while (Date.now() < until) { /* busy */ }
  await sleep(20)
  const lagging = app.pressureSampler.sample()
  t.ok(lagging.eventLoopDelayMs > 50, `the sample covering the block is past the limit (${lagging.eventLoopDelayMs.toFixed(1)} ms)`)
  const shedRequests = [await customers(), await customers()]
  t.same(shedRequests.map((r) => r.statusCode), [503, 503], 'every request from that sample on is shed')
  const shed = shedRequests[0]!
  t.match(shed.json(), { code: 'overloaded', detail: /event loop is lagging/ })
  t.equal(shed.headers['retry-after'], '2', 'the default Retry-After')
  t.equal((await call(app, 'GET', '/healthz')).statusCode, 200, '/healthz answers while shedding')
  const metrics = await call(app, 'GET', '/metrics', { token: ADMIN_TOKEN })
  t.match(metrics.body, /deputy_http_requests_shed_total\{reason="eventLoopDelay"\} 2\b/, 'both counted')

  // The next interval has no block in it: its sample is under the limit, and shedding stops.
  await sleep(50)
  const calm = app.pressureSampler.sample()
  t.ok(calm.eventLoopDelayMs <= 50, `the next sample is under the limit (${calm.eventLoopDelayMs.toFixed(1)} ms)`)
  t.equal((await customers()).statusCode, 200, 'served again from the sample under the limit on')
})

t.test('the defaults shed nothing in ordinary use', async (t) => {
  const { app, config } = await buildTestApp(t, { RATE_LIMIT_MAX: '100000' })
  t.same(config.overload, { maxInFlight: 512, maxEventLoopDelayMs: 0, maxEventLoopUtilization: 0, maxHeapUsedBytes: 0, maxRssBytes: 0, sampleIntervalMs: 500, retryAfterSeconds: 2 })
  // Proven first, so the auth throttle does not count 100 first sightings of the token.
  t.equal((await call(app, 'GET', '/v1/customers', { token: ADMIN_TOKEN })).statusCode, 200)
  const answers = await Promise.all(Array.from({ length: 100 }, () => call(app, 'GET', '/v1/customers', { token: ADMIN_TOKEN })))
  t.same([...new Set(answers.map((r) => r.statusCode))], [200], '100 concurrent requests, none shed')
})
