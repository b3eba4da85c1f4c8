/// <reference lib="dom" />
// Failure screens say one thing, once: deputy unreachable is one banner with Retry (not a box per
// request under stale badges); a role ARN is checked before it is sent, in words; a disabled
// button says why; a role that cannot be assumed gets one headline and its fix, the details
// collapsed, without a static-proof sentence that contradicts it; Probe now counts down the
// cooldown; a suspended customer says since when, by whom and why; a revocation that left nothing
// exposed offers no deny policy.
import t from 'tap'
import { ADMIN_TOKEN, call } from '../helpers/app.js'
import { launchChromium } from '../helpers/browser.js'
import { ensureConsoleBuilt } from '../helpers/console-build.js'
import { awsAccount, createApiClient, createCustomer, mintExternalId } from '../helpers/fixtures.js'
import { buildSandboxApp } from '../helpers/sandbox-app.js'

await ensureConsoleBuilt()

t.test('failure screens', async (t) => {
  const { app } = await buildSandboxApp(t, { DEPUTY_BOOTSTRAP_ADMIN_TOKEN: ADMIN_TOKEN })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('not listening')
  const origin = `http://127.0.0.1:${address.port}`
  const customer = await createCustomer(app, { name: 'Umbrella Failures' })
  const account = awsAccount()
  const externalId = await mintExternalId(app, customer.id, account)
  const kit = (await call(app, 'GET', `/v1/external-ids/${externalId.id}/onboarding`, { token: ADMIN_TOKEN })).json<{ cloudFormation: { template: string } }>()
  const stack = (await call(app, 'POST', `/v1/sandbox/accounts/${account}/stacks`, { token: ADMIN_TOKEN, body: { template: kit.cloudFormation.template } })).json<{ roleArn: string }>()
  const connection = (await call(app, 'POST', `/v1/customers/${customer.id}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: externalId.id, roleArn: stack.roleArn } })).json<{ id: string }>()

  const browser = await launchChromium()
  t.teardown(() => browser.close())
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
  const page = await context.newPage()
  page.setDefaultTimeout(10_000)
  const registrations: string[] = []
  page.on('request', (request) => { if (request.method() === 'POST' && request.url().endsWith('/connections')) registrations.push(request.url()) })
  await page.goto(`${origin}/console/`)
  await page.getByLabel('API token').fill(ADMIN_TOKEN)
  await page.keyboard.press('Enter')
  await page.getByRole('heading', { name: 'Customers', exact: true }).waitFor()

  t.test('deputy unreachable: one banner with Retry, and the page comes back', async (t) => {
    await page.goto(`${origin}/console/#/customers/${customer.id}`)
    await page.getByRole('heading', { name: /Umbrella Failures/ }).waitFor()
    // As the browser sees deputy stopped: every request fails without an answer.
    await context.route(/\/(v1\/|readyz)/, async (route) => { await route.abort('connectionrefused') })
    await page.getByRole('link', { name: 'Customers' }).click()
    const banner = page.locator('.banner-down')
    await banner.waitFor()
    t.match(await banner.innerText(), /^deputy is not answering \(since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)/, 'one headline, since when')
    t.equal(await page.getByRole('alert').count(), 1, 'one alert on the page: the banner, not a box per failed request')
    t.equal(await page.locator('.problem').count(), 0)
    await context.unroute(/\/(v1\/|readyz)/)
    await banner.getByRole('button', { name: 'Retry' }).click()
    await banner.waitFor({ state: 'detached' })
    await page.locator('table.list tbody tr').first().waitFor()
    t.pass('Retry: the banner goes and the page loads again')
  })

  t.test('a disabled button says why', async (t) => {
    await page.goto(`${origin}/console/#/customers/${customer.id}`)
    await page.getByRole('button', { name: 'Suspend…' }).click()
    const dialog = page.getByRole('dialog')
    const confirm = dialog.getByRole('button', { name: 'Suspend' })
    t.ok(await confirm.isDisabled())
    t.match(await dialog.ariaSnapshot(), /- button "Suspend" \[disabled\]:?\s*\n?[\s\S]*Type a reason \(3 characters or more\) to suspend\./, 'the reason, next to the button')
    t.equal(await confirm.evaluate((el) => document.getElementById(el.getAttribute('aria-describedby') ?? '')?.textContent), 'Type a reason (3 characters or more) to suspend.', 'and read with it')
    await page.getByLabel(/Reason/).fill('ok!')
    t.ok(await confirm.isEnabled())
    t.equal(await dialog.getByText(/Type a reason/).count(), 0, 'gone once it no longer applies')
    await page.keyboard.press('Escape')
  })

  t.test('a role ARN is checked before it is sent, in words', async (t) => {
    await page.goto(`${origin}/console/#/customers/${customer.id}/onboard`)
    const other = awsAccount()
    await page.getByLabel(/AWS account ID/).fill(other)
    await page.getByRole('button', { name: 'Mint the external ID' }).click()
    await page.getByRole('button', { name: 'The customer has created the role' }).click()
    const arn = page.getByLabel('Role ARN')
    const verify = page.getByRole('button', { name: 'Verify and connect' })
    t.equal(await page.locator('#role-arn-why').innerText(), 'Paste the role ARN to verify it.', 'why Verify is disabled')
    await arn.fill('DeputyAccess')
    t.match(await page.locator('#role-arn-why').innerText(), /^This is not an IAM role ARN\. It reads arn:aws:iam::\d{12}:role\//)
    t.equal(await arn.getAttribute('aria-invalid'), 'true')
    await arn.fill(`arn:aws:iam::${account}:role/DeputyAccess`)
    t.equal(await page.locator('#role-arn-why').innerText(), `This role is in account ${account}, but the external ID is for account ${other}: the role must be created in ${other}.`)
    t.ok(await verify.isDisabled())
    t.same(registrations, [], 'nothing sent')

    // A well-formed ARN of a role that does not exist: deputy's answer, one headline.
    await arn.fill(`arn:aws:iam::${other}:role/DeputyAccess`)
    await verify.click()
    const alert = page.getByRole('alert')
    await alert.waitFor()
    t.equal(await alert.innerText(), 'deputy cannot assume the role with its external ID yet. Nothing was recorded.')
    t.match(await page.locator('.probe-failure > p').nth(1).innerText(), /Check that the role exists in account/, 'then the one fix')
    t.notOk(await page.locator('.probe-report').isVisible(), 'the details collapsed')
    await page.getByText(/^Details:/).click()
    const proof = await page.locator('.static-check').innerText()
    t.match(proof, /could not be assumed/, 'the proof says why it could not read the policy')
    t.notMatch(proof, /iam:GetRole/, 'and does not blame a permission the role was never asked for')
  })

  t.test('Probe now knows the cooldown: a countdown, not a 429 quoting an id', async (t) => {
    await page.goto(`${origin}/console/#/connections/${connection.id}`)
    await page.getByRole('button', { name: 'Probe now' }).click()
    const button = page.getByRole('button', { name: /^Probe again in \d+ s$/ })
    await button.waitFor()
    t.ok(await button.isDisabled(), 'disabled while deputy would refuse it')
    const why = await page.locator('#probe-wait').innerText()
    t.match(why, /^This connection was probed moments ago, and deputy spaces the probes of one connection\. You can probe again in \d+ s\.$/, 'why, and for how long')
    t.notMatch(why, connection.id, 'no internal id')
    t.equal(await page.locator('.problem').count(), 0, 'no problem box for a wait')
    const first = Number(/in (\d+) s/.exec(await button.innerText())?.[1])
    await page.waitForFunction((before) => Number(/in (\d+) s/.exec(document.querySelector('#probe-wait')?.textContent ?? '')?.[1]) < before, first)
    t.pass('it counts down')
  })

  t.test('a suspended customer\'s page says since when, by whom and why', async (t) => {
    const other = await createCustomer(app, { name: 'Suspended Failures' })
    const suspender = await createApiClient(app, ['customers:write'])
    t.equal((await call(app, 'POST', `/v1/customers/${other.id}/suspend`, { token: suspender.token, body: { reason: 'unpaid invoice 2026-11' } })).statusCode, 200)
    await page.goto(`${origin}/console/#/customers/${other.id}`)
    const line = page.locator('.suspension')
    await line.waitFor()
    t.match(await line.innerText(), new RegExp(`^Suspended \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC by ${suspender.name}: “unpaid invoice 2026-11”\\.$`))
  })

  t.test('a revocation that left nothing exposed offers no deny policy', async (t) => {
    await page.goto(`${origin}/console/#/connections/${connection.id}`)
    await page.getByRole('button', { name: 'Revoke…' }).click()
    await page.getByLabel(/Reason/).fill('no credentials were ever issued')
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click()
    const impact = page.locator('.impact')
    await impact.waitFor()
    t.match(await impact.innerText(), /nothing is exposed, and the customer has nothing to do/)
    t.notMatch(await impact.innerText(), /To end them now/, 'no advice that contradicts it')
    t.equal(await page.getByRole('button', { name: 'Copy deny policy' }).count(), 0)
  })
})
