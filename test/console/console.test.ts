/// <reference lib="dom" />
// The browser console end to end, in Debian's Chromium against a sandbox deputy listening on a
// port (real PostgreSQL, the STS emulator, the console as `npm run build` makes it): sign in,
// the onboarding wizard to an active connection, an insecure role refused with its finding and
// nothing stored, credentials issued by a script seen in the audit explorer (chart, detail,
// export, integrity), the freeze banner, revoke with its impact, lifecycle behind a
// confirmation, a bound token's view, a wrong token's 401 message, sign out. Every page is
// checked by axe-core and screenshotted at 1280x800 (test-output/console-screenshots/), and the
// page must report no CSP violation and make no request to another origin.
import { readdir, readFile, stat } from 'node:fs/promises'
import { gzipSync } from 'node:zlib'
import type { Page } from 'playwright-core'
import t from 'tap'
import { defaultConsoleDir } from '../../src/plugins/console.js'
import { ADMIN_TOKEN, call } from '../helpers/app.js'
import { ensureConsoleBuilt } from '../helpers/console-build.js'
import { axeViolations, launchChromium, openPage, screenshot, seriousOrCritical, type WatchedPage } from '../helpers/browser.js'
import { awsAccount, createApiClient, createCustomer } from '../helpers/fixtures.js'
import { buildSandboxApp } from '../helpers/sandbox-app.js'

// The console as `npm run build` builds it, so the test always drives the current source.
await ensureConsoleBuilt()

t.test('the built console stays under 150 KB of compressed JavaScript', async (t) => {
  const assets = new URL('assets/', `file://${defaultConsoleDir}/`)
  const scripts = (await readdir(assets)).filter((name) => name.endsWith('.js'))
  t.ok(scripts.length > 0, 'the build has JavaScript')
  let gzipped = 0
  for (const name of scripts) gzipped += gzipSync(await readFile(new URL(name, assets)), { level: 9 }).length
  t.ok(gzipped < 150 * 1024, `${(gzipped / 1024).toFixed(1)} KB gzipped`)
  t.ok((await stat(new URL('index.html', `file://${defaultConsoleDir}/`))).isFile())
})

t.test('the console in Chromium, against a sandbox deputy', async (t) => {
  // With a template URL, as a vendor deploys it: the kit then has a quick-create link.
  const { app } = await buildSandboxApp(t, { DEPUTY_BOOTSTRAP_ADMIN_TOKEN: ADMIN_TOKEN, ONBOARDING_TEMPLATE_URL: 'https://vendor-templates.s3.eu-west-1.amazonaws.com/deputy-role.yaml' })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('not listening')
  const origin = `http://127.0.0.1:${address.port}`
  const browser = await launchChromium()
  t.teardown(() => browser.close())
  const pages: WatchedPage[] = []
  const open = async (): Promise<Page> => {
    const watched = await openPage(browser, origin)
    pages.push(watched)
    return watched.page
  }
  const axeByPage: Record<string, string[]> = {}
  /** Screenshot plus axe: every page the console has goes through here. */
  const checkPage = async (page: Page, name: string): Promise<void> => {
    await screenshot(page, name)
    axeByPage[name] = seriousOrCritical(await axeViolations(page)).map((v) => `${v.id} (${v.impact ?? ''}): ${v.help} at ${v.nodes.join(', ')}`)
  }
  const signIn = async (page: Page, token: string): Promise<void> => {
    await page.goto(`${origin}/console/`)
    await page.getByLabel('API token').fill(token)
    await page.getByRole('button', { name: 'Sign in' }).click()
  }

  const page = await open()

  t.test('the console is static files under a strict Content-Security-Policy', async (t) => {
    const res = await fetch(`${origin}/console/`)
    t.equal(res.status, 200)
    const csp = res.headers.get('content-security-policy') ?? ''
    for (const directive of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "require-trusted-types-for 'script'"]) t.match(csp, directive)
    t.notMatch(csp, /unsafe-inline|unsafe-eval|https?:/, 'no inline code and no other origin')
    const html = await res.text()
    t.notMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script in the page')
    t.notMatch(html, /\sstyle=/, 'no inline style')
    t.equal((await fetch(`${origin}/console`, { redirect: 'manual' })).headers.get('location'), '/console/')
    t.equal((await fetch(`${origin}/v1/customers`)).headers.get('content-security-policy'), null, 'the API is not the console: its CSP stays on the console')
  })

  t.test('a wrong token shows the 401 message with its request id, and is not kept', async (t) => {
    await signIn(page, 'dpt_this-is-not-a-token-deputy-ever-issued')
    const alert = page.getByRole('alert')
    await alert.waitFor()
    t.match(await alert.innerText(), /this API token is not valid/)
    t.match(await alert.innerText(), /Sign in again with a valid API token/)
    t.match(await alert.locator('.request-id').innerText(), /\S{6,}/, 'the request id to quote')
    t.equal(await page.evaluate(() => sessionStorage.length + localStorage.length), 0, 'nothing stored')
    await checkPage(page, 'sign-in')
  })

  let customerId = ''
  t.test('sign in: the token lives in this tab\'s sessionStorage, never in a URL or localStorage', async (t) => {
    // With the keyboard alone: the field has focus, Enter submits.
    await page.goto(`${origin}/console/`)
    await page.keyboard.type(ADMIN_TOKEN)
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { name: 'Customers', exact: true }).waitFor()
    t.equal(await page.evaluate(() => sessionStorage.getItem('deputy.console.token')), ADMIN_TOKEN)
    t.equal(await page.evaluate(() => localStorage.length), 0)
    t.notMatch(page.url(), ADMIN_TOKEN)
    t.notMatch(page.url(), 'dpt_')
  })

  t.test('create a customer, find it by search', async (t) => {
    const name = `Initech ${Date.now()}`
    await page.getByLabel('Name', { exact: true }).fill(name)
    await page.getByLabel(/Your reference/).fill(`crm-${Date.now()}`)
    await page.getByRole('button', { name: 'Create customer' }).click()
    await page.getByRole('heading', { name }).waitFor()
    customerId = decodeURIComponent(page.url().split('#/customers/')[1] ?? '')
    t.equal((await call(app, 'GET', `/v1/customers/${customerId}`, { token: ADMIN_TOKEN })).json().name, name, 'created through the API')
    await createCustomer(app, { name: 'Globex unrelated' })
    await page.getByRole('link', { name: 'Customers' }).click()
    await page.getByLabel('Name or reference').fill(name.slice(0, 12).toUpperCase())
    await page.getByRole('button', { name: 'Search' }).click()
    await page.waitForURL(/search=/)
    await page.waitForFunction(() => document.querySelectorAll('table.list tbody tr').length === 1)
    t.same(await page.locator('table.list tbody tr td:first-child').allInnerTexts(), [name], 'only the match')
    await checkPage(page, 'customers')
  })

  let connectionId = ''
  t.test('the onboarding wizard: mint, kit, apply in the sandbox, probe, connected', async (t) => {
    await page.goto(`${origin}/console/#/customers/${customerId}`)
    await page.getByRole('link', { name: 'Connect an AWS account' }).click()
    const account = awsAccount()
    await page.getByLabel(/AWS account ID/).fill(account)
    await page.getByRole('button', { name: 'Mint the external ID' }).click()
    const externalId = await page.locator('code.external-id').innerText()
    t.match(externalId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a UUID v4 external ID')
    t.match(await page.getByLabel('Terraform').innerText(), externalId, 'Terraform carries the ID')
    t.match(await page.getByLabel('AWS CLI commands').innerText(), externalId, 'so does the CLI')
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download the template' }).click()])
    const template = await readFile(await download.path(), 'utf8')
    t.match(template, 'AWS::IAM::Role')
    t.match(template, externalId, 'the downloaded template defaults to this ID')
    const launch = page.getByRole('link', { name: 'Launch stack in the AWS console' })
    const quickCreate = new URL(await launch.getAttribute('href') ?? '')
    t.equal(quickCreate.host, 'console.aws.amazon.com', 'Launch stack: the AWS console\'s quick-create page')
    const fragment = new URLSearchParams(quickCreate.hash.split('?')[1] ?? '')
    t.equal(fragment.get('param_ExternalId'), externalId, 'with this external ID filled in')
    t.equal(fragment.get('templateURL'), 'https://vendor-templates.s3.eu-west-1.amazonaws.com/deputy-role.yaml')
    t.equal(await launch.getAttribute('rel'), 'noopener noreferrer', 'opened without giving AWS\'s page a handle on the console')
    await checkPage(page, 'onboarding-kit')
    await page.getByRole('button', { name: 'Apply the template in the sandbox' }).click()
    const roleArn = page.getByLabel('Role ARN')
    await roleArn.waitFor()
    t.equal(await roleArn.inputValue(), `arn:aws:iam::${account}:role/DeputyAccess`, 'the stack\'s RoleArn output, filled in')
    await page.getByRole('button', { name: 'Verify and connect' }).click()
    await page.getByRole('heading', { name: 'Connected' }).waitFor()
    t.match(await page.locator('.verdict').innerText(), /safe to use/)
    t.match(await page.locator('.static-check').innerText(), /Proved: the trust policy admits deputy with this account's external ID and no other/, 'the static proof, in words')
    await checkPage(page, 'onboarding-connected')
    const list = (await call(app, 'GET', `/v1/customers/${customerId}/connections`, { token: ADMIN_TOKEN })).json<{ items: Array<{ id: string, status: string, roleArn: string }> }>()
    t.same(list.items.map((c) => [c.status, c.roleArn]), [['active', `arn:aws:iam::${account}:role/DeputyAccess`]], 'an active connection, stored')
    connectionId = list.items[0]?.id ?? ''
  })

  t.test('an insecure role: the finding in plain words, a retry, and no connection stored', async (t) => {
    const account = awsAccount()
    await page.goto(`${origin}/console/#/customers/${customerId}`)
    await page.getByRole('link', { name: 'Connect an AWS account' }).click()
    await page.getByLabel(/AWS account ID/).fill(account)
    await page.getByRole('button', { name: 'Mint the external ID' }).click()
    await page.locator('code.external-id').waitFor()
    // The customer creates the role by hand and leaves out the external ID condition.
    const kitId = (await call(app, 'GET', `/v1/customers/${customerId}/external-ids?awsAccountId=${account}`, { token: ADMIN_TOKEN })).json<{ items: Array<{ id: string }> }>().items[0]?.id ?? ''
    const kit = (await call(app, 'GET', `/v1/external-ids/${kitId}/onboarding`, { token: ADMIN_TOKEN })).json<{ cloudFormation: { template: string }, externalId: string }>()
    const kitExternalId = kit.externalId
    const insecure = kit.cloudFormation.template.replace(/\n\s+Condition:\n\s+StringEquals:\n\s+sts:ExternalId: !Ref ExternalId/, '')
    t.notMatch(insecure, 'sts:ExternalId:', 'the condition is gone')
    const stack = await app.inject({ method: 'POST', url: `/v1/sandbox/accounts/${account}/stacks`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { template: insecure } })
    t.equal(stack.statusCode, 201)
    await page.getByRole('button', { name: 'The customer has created the role' }).click()
    await page.getByLabel('Role ARN').fill(`arn:aws:iam::${account}:role/DeputyAccess`)
    await page.getByRole('button', { name: 'Verify and connect' }).click()
    const alert = page.getByRole('alert')
    await alert.waitFor()
    t.equal(await alert.innerText(), 'The role lets deputy in without its external ID, so deputy will not use it. Nothing was recorded.', 'one headline')
    const corrected = JSON.parse(await page.getByLabel('Corrected trust policy').innerText()) as unknown
    t.match(corrected, { Statement: [{ Condition: { StringEquals: { 'sts:ExternalId': kitExternalId } } }] }, 'the corrected trust policy, requiring this external ID')
    t.ok(await page.getByRole('button', { name: 'Copy the trust policy' }).isVisible(), 'with Copy')
    t.notOk(await page.locator('.probe-report').isVisible(), 'the details collapsed')
    await page.getByText(/^Details:/).click()
    t.match(await page.locator('.problem').innerText(), /Role trust policy is insecure[\s\S]*Request id/, 'the problem, its code and request id, in the details')
    t.match(await page.locator('.verdict').innerText(), /can be assumed without its external ID/)
    t.match(await page.locator('.static-check').innerText(), /Violation[\s\S]*Admitted although it is not this account's: external ID \S+, and AWS accepted it when deputy tried/, 'the static proof names a foreign ID the policy admits, confirmed by AWS')
    const findings = await page.locator('.findings li').allInnerTexts()
    t.ok(findings.length > 0, 'each finding listed')
    t.match(findings.join(' '), /sts:ExternalId/, 'saying what to put in the trust policy')
    t.match(await page.locator('.probe-report table').innerText(), /without an external ID[^\n]*\tdenied\tallowed not as expected/, 'the call that should have been refused, shown as such')
    t.ok(await page.getByRole('button', { name: 'Retry' }).isVisible(), 'a retry')
    await checkPage(page, 'onboarding-insecure')
    const stored = (await call(app, 'GET', `/v1/customers/${customerId}/connections`, { token: ADMIN_TOKEN })).json<{ items: Array<{ roleArn: string }> }>()
    t.notOk(stored.items.some((c) => c.roleArn.includes(account)), 'no connection recorded for the insecure role')
  })

  t.test('credentials issued by a script appear in the audit explorer: rows, detail, chart, export, integrity', async (t) => {
    const service = await createApiClient(app, ['credentials:issue'])
    for (let i = 0; i < 3; i++) {
      const res = await call(app, 'POST', `/v1/connections/${connectionId}/credentials`, { token: service.token, body: { purpose: `nightly inventory ${i}` } })
      t.equal(res.statusCode, 201)
    }
    t.equal((await call(app, 'POST', '/v1/admin/freeze', { token: ADMIN_TOKEN, body: { reason: 'console test' } })).statusCode, 200)
    t.equal((await call(app, 'POST', `/v1/connections/${connectionId}/credentials`, { token: service.token, body: { purpose: 'refused while frozen' } })).statusCode, 503)
    await app.auditSealer.runOnce()

    await page.goto(`${origin}/console/#/audit?customerId=${customerId}`)
    await page.getByRole('heading', { name: 'Audit trail' }).waitFor()
    await page.getByText('Credential issuance is frozen.').waitFor()
    t.notMatch(await page.locator('.banner-frozen').innerText(), /console test/, 'the freeze banner (the reason is not public: /readyz has only the flag)')
    await page.locator('.chart figcaption').waitFor()
    t.match(await page.locator('.chart figcaption').innerText(), /issued 3[\s\S]*denied 1/, 'the chart counts 3 issued and 1 denied')
    await page.locator('table.events').waitFor()
    t.equal(await page.locator('table.events tbody tr', { hasText: 'credentials.issued' }).count(), 3)
    await page.getByRole('button', { name: /^Show event/ }).first().click()
    const detail = await page.locator('tr.event-detail').innerText()
    t.match(detail, /refused while frozen|nightly inventory/, 'the event\'s details')
    t.notMatch(await page.content(), /SecretAccessKey|SessionToken|secretAccessKey/, 'no secret reaches the page')
    await page.getByText('The hash chain is intact').waitFor()
    await checkPage(page, 'audit')

    t.equal(await page.locator('input[name=customerId]').inputValue(), customerId, 'the customer filter from the URL is the one the form applies')
    const shown = (await call(app, 'GET', `/v1/customers/${customerId}`, { token: ADMIN_TOKEN })).json<{ name: string }>().name
    await page.waitForFunction((name) => document.querySelector<HTMLInputElement>('#customer-picker')?.value === name, shown)
    t.pass('and the form shows it by name')
    await page.getByLabel('Action').fill('credentials.issued')
    await page.getByRole('button', { name: 'Apply filters' }).click()
    await page.waitForURL(/action=credentials.issued/)
    t.match(page.url(), `customerId=${customerId}`, 'applying another filter keeps the customer')
    await page.waitForFunction(() => document.querySelectorAll('table.events tbody tr').length === 3)
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export NDJSON' }).click()])
    const lines = (await readFile(await download.path(), 'utf8')).split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as { event: { action: string, customerId: string }, seal: unknown })
    t.equal(lines.length, 3, 'the export holds exactly the current filter')
    t.ok(lines.every((l) => l.event.action === 'credentials.issued' && l.event.customerId === customerId && l.seal !== null), 'each with its seal')

    // Keyboard only: from the filter form to the first event's detail.
    await page.goto(`${origin}/console/#/audit?customerId=${customerId}&action=credentials.issued`)
    await page.locator('table.events').waitFor()
    await page.getByRole('button', { name: /^Show event/ }).first().focus()
    await page.keyboard.press('Enter')
    await page.locator('tr.event-detail').waitFor()
    t.equal(await page.getByRole('button', { name: /^Hide event/ }).getAttribute('aria-expanded'), 'true', 'Enter opens the detail, announced as expanded')
    t.equal((await call(app, 'POST', '/v1/admin/unfreeze', { token: ADMIN_TOKEN, body: {} })).statusCode, 200)
    await page.getByRole('link', { name: 'Customers' }).click()
    await page.locator('.banner-frozen').waitFor({ state: 'detached' })
    t.pass('unfrozen: the banner is gone on the next page')
  })

  t.test('revoke from the console: confirmation, then the exposure window and the deny policy', async (t) => {
    await page.goto(`${origin}/console/#/connections/${connectionId}`)
    await page.getByRole('heading', { name: /Connection/ }).waitFor()
    t.match(await page.locator('.facts').innerText(), /Next scheduled probe/)
    t.match(await page.locator('.probe-report table').innerText(), /with the external ID\tallowed\tallowed/)
    await checkPage(page, 'connection')
    await page.getByRole('button', { name: 'Revoke…' }).click()
    const dialog = page.getByRole('dialog', { name: 'Revoke this connection?' })
    await dialog.waitFor()
    t.match(await dialog.innerText(), /stops issuing credentials[\s\S]*stay valid until they expire/, 'the confirmation names what will happen')
    t.ok(await dialog.getByRole('button', { name: 'Revoke' }).isDisabled(), 'not without a reason')
    await page.keyboard.press('Escape')
    await dialog.waitFor({ state: 'detached' })
    t.equal((await call(app, 'GET', `/v1/connections/${connectionId}`, { token: ADMIN_TOKEN })).json().status, 'active', 'Escape cancels: nothing changed')
    await page.getByRole('button', { name: 'Revoke…' }).click()
    await checkPage(page, 'connection-revoke-confirm')
    await page.getByLabel(/Reason/).fill('customer asked to disconnect')
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click()
    const impact = page.locator('.impact')
    await impact.waitFor()
    t.match(await impact.innerText(), /stay valid until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/, 'the exposure window: the 3 sessions still valid')
    t.match(await impact.locator('pre').innerText(), /"aws:TokenIssueTime"/, 'the deny policy for the customer')
    await page.getByText('revoked', { exact: true }).first().waitFor()
    await checkPage(page, 'connection-revoked')
    t.equal((await call(app, 'GET', `/v1/connections/${connectionId}`, { token: ADMIN_TOKEN })).json().status, 'revoked')
  })

  t.test('suspend behind a confirmation that names what will happen', async (t) => {
    await page.goto(`${origin}/console/#/customers/${customerId}`)
    await page.getByRole('button', { name: 'Suspend…' }).click()
    const dialog = page.getByRole('dialog')
    t.match(await dialog.innerText(), /stops issuing credentials, probing and registering roles/)
    await page.getByLabel(/Reason/).fill('unpaid invoice')
    await dialog.getByRole('button', { name: 'Suspend' }).click()
    await page.getByRole('button', { name: 'Resume…' }).waitFor()
    await checkPage(page, 'customer')
    t.equal((await call(app, 'GET', `/v1/customers/${customerId}`, { token: ADMIN_TOKEN })).json().status, 'suspended')
    await page.goto(`${origin}/console/#/customers?status=suspended`)
    await page.locator('table.list tbody tr').first().waitFor()
    t.equal(await page.locator('select[name=status]').inputValue(), 'suspended', 'a filter in the URL shows in the form')
    t.ok((await page.locator('table.list tbody td:nth-child(3)').allInnerTexts()).every((text) => text === 'suspended'), 'and the list holds suspended customers only')
  })

  t.test('a token bound to one customer sees that customer only', async (t) => {
    const other = await createCustomer(app, { name: 'Hooli other tenant' })
    const bound = await createApiClient(app, ['customers:read', 'connections:read', 'external-ids:read', 'audit:read'], customerId)
    const tab = await open()
    await signIn(tab, bound.token)
    await tab.getByRole('heading', { name: 'Customers', exact: true }).waitFor()
    await tab.locator('table.list tbody tr').first().waitFor()
    const rows = await tab.locator('table.list tbody tr').allInnerTexts()
    t.equal(rows.length, 1, 'one customer')
    t.notMatch(rows.join(' '), 'Hooli', 'not the other tenant')
    await tab.goto(`${origin}/console/#/customers/${other.id}`)
    const alert = tab.getByRole('alert')
    await alert.waitFor()
    t.match(await alert.innerText(), /\(404\)[\s\S]*It does not exist, or your token cannot see it/, 'another customer: 404, as the API answers')
    // The audit page: its own customer's events; the integrity check (admin only) is asked once per
    // session, so reading the trail does not fill it with refusals.
    const refusals = async (): Promise<number> => (await call(app, 'GET', `/v1/audit-events?actorClientId=${bound.id}&outcome=denied`, { token: ADMIN_TOKEN })).json<{ items: unknown[] }>().items.length
    const before = await refusals()
    for (let visit = 0; visit < 2; visit++) {
      await tab.goto(`${origin}/console/#/customers`)
      await tab.goto(`${origin}/console/#/audit?visit=${visit}`)
      await tab.getByText('Checking the hash chain needs an admin token').waitFor()
    }
    await tab.locator('table.events tbody tr').first().waitFor()
    t.equal(await refusals() - before, 1, 'one audited refusal for two visits')
    t.equal(await tab.evaluate(() => sessionStorage.getItem('deputy.console.token')), bound.token, 'its own tab\'s session')
    t.equal(await page.evaluate(() => sessionStorage.getItem('deputy.console.token')), ADMIN_TOKEN, 'the admin tab keeps its own')
  })

  t.test('sign out forgets the token', async (t) => {
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByRole('button', { name: 'Sign in' }).waitFor()
    t.equal(await page.evaluate(() => sessionStorage.length), 0)
  })

  t.test('every page: no serious or critical axe violation, no CSP violation, no other origin', async (t) => {
    t.same(Object.keys(axeByPage).sort(), ['audit', 'connection', 'connection-revoke-confirm', 'connection-revoked', 'customer', 'customers', 'onboarding-connected', 'onboarding-insecure', 'onboarding-kit', 'sign-in'])
    for (const [name, violations] of Object.entries(axeByPage)) t.same(violations, [], name)
    for (const watched of pages) {
      t.same(watched.requestTrail.filter((entry) => entry.includes('dpt_')), [], 'no token in any request URL or Referer')
      t.ok(watched.requestTrail.length > 10, `${watched.requestTrail.length / 2} requests watched`)
      t.same(watched.cspViolations, [], 'no CSP or Trusted Types violation')
      t.same(watched.foreignRequests, [], 'no request to another origin')
    }
  })
})
