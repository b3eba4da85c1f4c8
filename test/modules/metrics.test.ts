// GET /metrics: a Prometheus scrape, parsed, after real traffic through the API and the STS
// emulator; protected by the metrics:read scope.
import t from 'tap'
import { openDatabase } from '../../src/db/database.js'
import { createMetrics } from '../../src/metrics.js'
import { ADMIN_TOKEN, buildTestApp, call } from '../helpers/app.js'
import { roleArn, secureTrust, startTestAws } from '../helpers/aws.js'
import { awsAccount, createApiClient, createCustomer, mintExternalId } from '../helpers/fixtures.js'
import { parseMetrics as parse } from '../helpers/prometheus.js'

t.test('metrics', async (t) => {
  const aws = await startTestAws(t)
  const { app, config, database } = await buildTestApp(t, aws.env)
  const scraper = await createApiClient(app, ['metrics:read'])
  const worker = await createApiClient(app, ['credentials:issue'])
  const customer = await createCustomer(app)
  const account = awsAccount()
  const externalId = await mintExternalId(app, customer.id, account)
  aws.emulator.putRole({ arn: roleArn(account), trustPolicy: secureTrust(externalId.externalId) })
  const connection = (await call(app, 'POST', `/v1/customers/${customer.id}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: externalId.id, roleArn: roleArn(account) } })).json<{ id: string }>()
  t.equal((await call(app, 'POST', `/v1/connections/${connection.id}/credentials`, { token: worker.token, body: { purpose: 'metrics' } })).statusCode, 201)
  t.equal((await call(app, 'POST', `/v1/connections/${connection.id}/credentials`, { token: worker.token, body: { purpose: 'metrics', durationSeconds: 3600, sessionPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Resource: '*' }] } } })).statusCode, 400)

  t.test('a scrape with metrics:read parses and counts what happened', async (t) => {
    const res = await call(app, 'GET', '/metrics', { token: scraper.token })
    t.equal(res.statusCode, 200)
    t.match(res.headers['content-type'], /^text\/plain/)
    const samples = parse(res.body)
    t.equal(samples.get('deputy_credentials_issued_total'), 1)
    t.equal(samples.get('deputy_credentials_denied_total{reason="invalid_session_policy"}'), 1)
    t.equal(samples.get('deputy_probes_total{outcome="pass"}'), 1)
    t.equal(samples.get('deputy_http_request_duration_seconds_count{method="POST",route="/v1/connections/:connectionId/credentials",status_code="201"}'), 1, 'latency by route pattern and status')
    t.ok((samples.get('deputy_sts_call_duration_seconds_count{action="AssumeRole",result="ok"}') ?? 0) >= 2, 'STS calls by action and result')
    t.ok((samples.get('deputy_sts_call_duration_seconds_count{action="AssumeRole",result="AccessDenied"}') ?? 0) >= 2, 'the probe\'s refused calls')
    t.equal(samples.get('deputy_issuance_frozen'), 0)
    t.equal(samples.get('deputy_credentials_unaudited_sessions_total'), 0)
    t.notOk([...samples.keys()].some((k) => k.includes(connection.id)), 'no resource id in any label')
    t.notOk(res.body.includes(worker.token) || res.body.includes(scraper.token), 'no token')
  })

  t.test('the database pool: connections in use, idle and waiting, read at scrape time', async (t) => {
    const poolSize = config.database.kind === 'postgres' ? config.database.poolSize : 0
    const scrape = async (): Promise<Map<string, number>> => parse((await call(app, 'GET', '/metrics', { token: scraper.token })).body)
    const check = (samples: Map<string, number>, label: string): { inUse: number, idle: number, waiting: number } => {
      const [inUse, idle, waiting] = ['in_use', 'idle', 'waiting'].map((state) => samples.get(`deputy_db_pool_connections{state="${state}"}`) ?? Number.NaN) as [number, number, number]
      t.ok(Number.isInteger(inUse) && Number.isInteger(idle) && Number.isInteger(waiting), `${label}: every state has a sample (${inUse} in use, ${idle} idle, ${waiting} waiting)`)
      t.ok(inUse >= 0 && idle >= 0 && waiting >= 0, `${label}: none negative`)
      t.ok(inUse + idle <= poolSize, `${label}: in use + idle within DATABASE_POOL_SIZE (${poolSize})`)
      return { inUse, idle, waiting }
    }
    const quiet = check(await scrape(), 'quiet')
    t.ok(quiet.inUse + quiet.idle >= 1, 'the app has used a connection')
    // A transaction holds one connection while the scrape reads the pool.
    let finish = (): void => {}
    const held = new Promise<void>((resolve) => { finish = resolve })
    let opened = (): void => {}
    const open = new Promise<void>((resolve) => { opened = resolve })
    const transaction = database.prisma.$transaction(async (tx) => {
      await tx.$queryRaw`SELECT 1`
      opened()
      await held
    })
    await open
    t.ok(check(await scrape(), 'a transaction open').inUse >= 1, 'the open transaction\'s connection is in use')
    finish()
    await transaction

    const embedded = await openDatabase({ kind: 'pglite', dataDir: 'memory://' })
    t.teardown(() => embedded.close())
    t.equal(embedded.poolStats, undefined, 'PGlite: one connection, no pool')
    const unwatched = createMetrics()
    t.notMatch(await unwatched.registry.metrics(), /^deputy_db_pool_connections\{/m, 'so the gauge has no sample')
  })

  t.test('the scope is required', async (t) => {
    t.equal((await call(app, 'GET', '/metrics')).statusCode, 401)
    t.equal((await call(app, 'GET', '/metrics', { token: worker.token })).statusCode, 403)
    t.equal((await call(app, 'GET', '/metrics', { token: ADMIN_TOKEN })).statusCode, 200, 'admin implies every scope')
    const bound = await call(app, 'POST', '/v1/api-clients', { token: ADMIN_TOKEN, body: { name: 'tenant scraper', scopes: ['metrics:read'], customerId: customer.id } })
    t.equal(bound.statusCode, 400, 'metrics cover every customer: a bound client cannot hold the scope')
    t.equal(bound.json().code, 'admin_cannot_be_bound')
  })
})
