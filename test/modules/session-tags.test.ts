// Session tags (SESSION_TAGS): the template checked at start against AWS's tag limits, rendered
// per issuance and refused per request when a value cannot be a tag value, sent to STS (which
// then needs sts:TagSession in the trust policy), checked by the probe, granted by the kit.
import t from 'tap'
import { ConfigError, loadConfig } from '../../src/config.js'
import { parseSessionTags, renderSessionTags, PROBE_TAG_CONTEXT, type TagContext } from '../../src/modules/credentials/session-tags.js'
import { ADMIN_TOKEN, buildTestApp, call } from '../helpers/app.js'
import { policy, roleArn, startTestAws, VENDOR_ARN } from '../helpers/aws.js'
import { awsAccount, createApiClient, createCustomer, mintExternalId } from '../helpers/fixtures.js'

const TEMPLATE = '{"deputy:customer":"{customer.reference}","deputy:client":"{client.name}","deputy:purpose":"{purpose}","vendor":"acme/{connection.id}"}'

const context: TagContext = { 'customer.id': 'c', 'customer.reference': 'ACME-42', 'customer.name': 'Acme', 'client.id': 'id', 'client.name': 'billing', 'connection.id': 'conn', purpose: 'nightly inventory' }

t.test('the template: named placeholders in literal text, checked against AWS\'s limits at start', async (t) => {
  t.same(renderSessionTags(parseSessionTags(TEMPLATE), context), {
    ok: true,
    tags: [{ key: 'deputy:customer', value: 'ACME-42' }, { key: 'deputy:client', value: 'billing' }, { key: 'deputy:purpose', value: 'nightly inventory' }, { key: 'vendor', value: 'acme/conn' }]
  })
  t.same(renderSessionTags(parseSessionTags('{"Ünïcode Key_.:/=+-@":"Ünïcode value {purpose}"}'), context), { ok: true, tags: [{ key: 'Ünïcode Key_.:/=+-@', value: 'Ünïcode value nightly inventory' }] }, 'letters, digits and spaces of any script, as AWS\'s pattern allows')
  const refused: Array<[string, RegExp]> = [
    ['not json', /not valid JSON/],
    ['["a"]', /JSON object/],
    [JSON.stringify(Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v']))), /51 tags; AWS allows 50/],
    [JSON.stringify({ ['k'.repeat(129)]: 'v' }), /must be 1-128/],
    ['{"":"v"}', /must be 1-128/],
    ['{"bad;key":"v"}', /must be 1-128 of letters/],
    ['{"aws:purpose":"{purpose}"}', /aws: prefix is reserved/],
    ['{"Team":"a","team":"b"}', /appears twice/],
    ['{"k":"{customer.secret}"}', /\{customer\.secret\} is not a placeholder/],
    ['{"k":"{purpose.constructor}"}', /is not a placeholder/],
    ['{"k":"{__proto__}"}', /is not a placeholder/],
    ['{"k":"{purpose"}', /unmatched "\{"/],
    ['{"k":"purpose}"}', /unmatched "\}"/],
    ['{"k":"a;b"}', /characters AWS does not accept/],
    [JSON.stringify({ k: 'x'.repeat(257) }), /257 characters/],
    ['{"k":3}', /must be a string/]
  ]
  for (const [raw, message] of refused) {
    t.throws(() => loadConfig({ SESSION_TAGS: raw, VENDOR_PRINCIPAL_ARN: VENDOR_ARN }), { name: 'ConfigError', variable: 'SESSION_TAGS', message }, raw.slice(0, 60))
  }
  t.ok(new ConfigError('SESSION_TAGS', 'x') instanceof Error)
  t.same(loadConfig({ VENDOR_PRINCIPAL_ARN: VENDOR_ARN }).aws?.sessionTags, [], 'unset: no tags')
  t.equal(loadConfig({ VENDOR_PRINCIPAL_ARN: VENDOR_ARN, SESSION_TAGS: TEMPLATE }).aws?.sessionTags.length, 4)
  t.equal(loadConfig({ VENDOR_PRINCIPAL_ARN: VENDOR_ARN }).aws?.credentialReuse, false, 'reuse is off unless asked for')

  const rendered = renderSessionTags(parseSessionTags('{"p":"x{purpose}"}'), { ...context, purpose: 'drop; table' })
  t.match(rendered, { ok: false, key: 'p', placeholders: ['purpose'], problem: /characters AWS does not accept/ })
  t.match(renderSessionTags(parseSessionTags('{"p":"{purpose}{purpose}"}'), { ...context, purpose: 'x'.repeat(200) }), { ok: false, problem: /400 characters; AWS allows 256/ })
  t.ok(renderSessionTags(parseSessionTags(TEMPLATE), PROBE_TAG_CONTEXT).ok, 'the probe\'s values are valid tag values')
})

t.test('issuance with session tags', async (t) => {
  const aws = await startTestAws(t, { SESSION_TAGS: TEMPLATE })
  const { app, database } = await buildTestApp(t, aws.env)
  const customer = await createCustomer(app, { externalRef: 'ACME-42' })
  const worker = await createApiClient(app, ['credentials:issue'])

  /** A role trusting deputy with the external ID, with or without sts:TagSession. */
  async function connect (actions: string[]): Promise<{ status: number, connectionId: string, probe: { outcome: string, findings: Array<{ code: string, message: string }> } }> {
    const account = awsAccount()
    const externalId = await mintExternalId(app, customer.id, account)
    aws.emulator.putRole({ arn: roleArn(account), trustPolicy: policy({ Effect: 'Allow', Principal: { AWS: VENDOR_ARN }, Action: actions, Condition: { StringEquals: { 'sts:ExternalId': externalId.externalId } } }) })
    const res = await call(app, 'POST', `/v1/customers/${customer.id}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: externalId.id, roleArn: roleArn(account) } })
    return { status: res.statusCode, connectionId: res.json().id, probe: res.json().verification ?? res.json().probe }
  }
  const assumeRoles = (): number => aws.emulator.calls().filter((c) => c.action === 'AssumeRole').length

  t.test('every session carries the rendered tags, visible to AWS and in the audit event', async (t) => {
    const { connectionId, probe } = await connect(['sts:AssumeRole', 'sts:SetSourceIdentity', 'sts:TagSession'])
    t.equal(probe.outcome, 'pass', JSON.stringify(probe.findings))
    const probeCall = aws.emulator.calls().filter((c) => c.action === 'AssumeRole' && c.params.ExternalId !== undefined).at(0)
    t.equal(probeCall?.params['Tags.member.3.Key'], 'deputy:purpose', 'the probe asks with the same tag keys')
    const res = await call(app, 'POST', `/v1/connections/${connectionId}/credentials`, { token: worker.token, body: { purpose: 'nightly inventory' } })
    t.equal(res.statusCode, 201, res.body)
    const session = aws.emulator.principalFor(res.json().credentials.accessKeyId)
    t.same(session?.tags, [
      { key: 'deputy:customer', value: 'ACME-42' },
      { key: 'deputy:client', value: worker.name },
      { key: 'deputy:purpose', value: 'nightly inventory' },
      { key: 'vendor', value: `acme/${connectionId}` }
    ])
    const sent = aws.emulator.calls().filter((c) => c.action === 'AssumeRole').at(-1)
    t.notOk(Object.keys(sent?.params ?? {}).some((k) => k.startsWith('TransitiveTagKeys')), 'no transitive tags')
    const event = await database.prisma.auditEvent.findUniqueOrThrow({ where: { id: res.json().auditEventId } })
    t.same((event.details as { sessionTags: unknown }).sessionTags, session?.tags, 'the audit event records the tags')
  })

  t.test('sts:TagSession granted in a statement of its own: AWS allows it, and the static proof still proves the role', async (t) => {
    const account = awsAccount()
    const externalId = await mintExternalId(app, customer.id, account)
    aws.emulator.putRole({
      arn: roleArn(account),
      trustPolicy: policy(
        { Effect: 'Allow', Principal: { AWS: VENDOR_ARN }, Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'], Condition: { StringEquals: { 'sts:ExternalId': externalId.externalId } } },
        { Effect: 'Allow', Principal: { AWS: VENDOR_ARN }, Action: 'sts:TagSession' }
      ),
      permissions: [policy({ Effect: 'Allow', Action: 'iam:GetRole', Resource: roleArn(account) })]
    })
    const res = await call(app, 'POST', `/v1/customers/${customer.id}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: externalId.id, roleArn: roleArn(account) } })
    t.equal(res.statusCode, 201, res.body)
    t.equal(res.json().verification.outcome, 'pass')
    t.equal(res.json().verification.staticCheck.status, 'proved', res.json().verification.staticCheck.detail)
    const issued = await call(app, 'POST', `/v1/connections/${res.json().id}/credentials`, { token: worker.token, body: { purpose: 'nightly inventory' } })
    t.equal(issued.statusCode, 201, issued.body)
  })

  t.test('a value that cannot be a tag value is refused before AWS is asked, and audited', async (t) => {
    const { connectionId } = await connect(['sts:AssumeRole', 'sts:SetSourceIdentity', 'sts:TagSession'])
    const before = assumeRoles()
    const res = await call(app, 'POST', `/v1/connections/${connectionId}/credentials`, { token: worker.token, body: { purpose: 'inventory; then cleanup' } })
    t.equal(res.statusCode, 400)
    t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
    t.match(res.json(), { code: 'session_tag_invalid', detail: /session tag "deputy:purpose" \(from \{purpose\}\).*characters AWS does not accept/ })
    t.equal(assumeRoles(), before, 'no AssumeRole')
    const denied = await database.prisma.auditEvent.findFirstOrThrow({ where: { resourceId: connectionId, action: 'credentials.denied' }, orderBy: { occurredAt: 'desc' } })
    t.match(denied.details, { reason: 'session_tag_invalid', tagKey: 'deputy:purpose' })
    t.equal(await database.prisma.auditEvent.count({ where: { resourceId: connectionId, action: 'credentials.issued' } }), 0, 'nothing issued')
  })

  t.test('a role that does not allow sts:TagSession: the probe says so, and AWS refuses issuance', async (t) => {
    const { status, probe } = await connect(['sts:AssumeRole', 'sts:SetSourceIdentity'])
    t.equal(status, 422, 'not registered')
    t.equal(probe.outcome, 'not_assumable')
    t.match(probe.findings, [{ code: 'tag_session_not_allowed', message: /must also allow "sts:TagSession".*deputy:customer, deputy:client, deputy:purpose, vendor/ }])
    // AWS itself (the emulator, as IAM) refuses a tagged AssumeRole without sts:TagSession.
    const refused = aws.emulator.calls().filter((c) => c.action === 'AssumeRole' && c.params['Tags.member.1.Key'] !== undefined).at(-1)
    t.equal(refused?.errorCode, 'AccessDenied')
    t.equal(refused?.params.ExternalId !== undefined, true, 'even with the right external ID')
  })

  t.test('the onboarding kit grants sts:TagSession', async (t) => {
    const externalId = await mintExternalId(app, customer.id, awsAccount())
    const kit = await call(app, 'GET', `/v1/external-ids/${externalId.id}/onboarding`, { token: ADMIN_TOKEN })
    t.equal(kit.statusCode, 200)
    t.same(kit.json().trustPolicy.Statement[0].Action, ['sts:AssumeRole', 'sts:SetSourceIdentity', 'sts:TagSession'])
    t.match(kit.json().cloudFormation.template, /- sts:TagSession/)
  })
})
