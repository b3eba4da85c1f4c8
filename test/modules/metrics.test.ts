// GET /metrics: a Prometheus scrape, parsed, after real traffic through the API and the STS
// emulator; protected by the metrics:read scope.
import t from 'tap'
import { ADMIN_TOKEN, buildTestApp, call } from '../helpers/app.js'
import { roleArn, secureTrust, startTestAws } from '../helpers/aws.js'
import { awsAccount, createApiClient, createCustomer, mintExternalId } from '../helpers/fixtures.js'

/** Parses the text exposition format into `name{labels}` -> value. */
function parse (text: string): Map<string, number> {
  const samples = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const match = /^([a-zA-Z_:][\w:]*(?:\{.*\})?) (\S+)$/.exec(line)
    if (match?.[1] === undefined || match[2] === undefined) throw new Error(`not a sample line: ${line}`)
    samples.set(match[1], Number(match[2]))
  }
  return samples
}

t.test('metrics', async (t) => {
  const aws = await startTestAws(t)
  const { app } = await buildTestApp(t, aws.env)
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

  t.test('the scope is required', async (t) => {
    t.equal((await call(app, 'GET', '/metrics')).statusCode, 401)
    t.equal((await call(app, 'GET', '/metrics', { token: worker.token })).statusCode, 403)
    t.equal((await call(app, 'GET', '/metrics', { token: ADMIN_TOKEN })).statusCode, 200, 'admin implies every scope')
    const bound = await call(app, 'POST', '/v1/api-clients', { token: ADMIN_TOKEN, body: { name: 'tenant scraper', scopes: ['metrics:read'], customerId: customer.id } })
    t.equal(bound.statusCode, 400, 'metrics cover every customer: a bound client cannot hold the scope')
    t.equal(bound.json().code, 'admin_cannot_be_bound')
  })
})
