/// <reference lib="dom" />
// The console's layout holds any content on any screen: every page (sign-in, customers, a
// customer and its suspend dialog, a connection and its revoke dialog, each onboarding step, the
// audit explorer with an event open) at 1280x800 and on a 390x844 phone, with hostile content (a
// 200-character name without a space, a 200-character reference, 500-character reasons, pages
// full of rows). On each: the page is no wider than the window, "Sign out" and the page's main
// buttons are inside it, and a long name is cut in cells with its full text on hover and focus.
// Screenshots of each page's first 1600 px go to test-output/console-layout/.
import { mkdir } from 'node:fs/promises'
import type { Browser, Page } from 'playwright-core'
import t from 'tap'
import { ADMIN_TOKEN, call } from '../helpers/app.js'
import { launchChromium } from '../helpers/browser.js'
import { ensureConsoleBuilt } from '../helpers/console-build.js'
import { awsAccount, createCustomer, mintExternalId } from '../helpers/fixtures.js'
import { buildSandboxApp } from '../helpers/sandbox-app.js'

await ensureConsoleBuilt()

const SHOTS = new URL('../../test-output/console-layout/', import.meta.url)
const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } }
// Valid everywhere the API takes a name, and the worst case for a layout: nowhere to break.
const LONG_NAME = 'Aktiengesellschaft'.repeat(12).slice(0, 200)
const LONG_REF = `crm-${'x9'.repeat(98)}`
const LONG_REASON = `${'contractterminated'.repeat(27)}`.slice(0, 480)

interface Fit { scrollWidth: number, innerWidth: number, outside: string[] }

/** How wide the page is, and which key controls stick out of the window. */
async function fit (page: Page): Promise<Fit> {
  return await page.evaluate(() => {
    const outside: string[] = []
    const controls = document.querySelectorAll<HTMLElement>('.sign-out, button.primary, a.button.primary, button.danger, button[type=submit], dialog[open] button')
    for (const control of Array.from(controls)) {
      const box = control.getBoundingClientRect()
      if (box.width === 0) continue
      if (box.left < 0 || box.right > innerWidth) outside.push(`${control.textContent ?? ''} (${Math.round(box.left)}..${Math.round(box.right)})`)
    }
    return { scrollWidth: document.documentElement.scrollWidth, innerWidth, outside }
  })
}

t.test('every console page fits a desktop and a phone, whatever the names', async (t) => {
  const { app } = await buildSandboxApp(t, { DEPUTY_BOOTSTRAP_ADMIN_TOKEN: ADMIN_TOKEN })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('not listening')
  const origin = `http://127.0.0.1:${address.port}`

  // Hostile content: pages full of customers, the longest name and reference, a live and a revoked
  // connection, long reasons in the trail, and a freeze with a long reason on every page.
  // In the middle of 30 others, so the first page holds it whichever way the list is sorted.
  for (let i = 0; i < 15; i++) await createCustomer(app, { name: `Filler customer ${i}` })
  const hostile = await createCustomer(app, { name: LONG_NAME, externalRef: LONG_REF })
  for (let i = 15; i < 30; i++) await createCustomer(app, { name: `Filler customer ${i}` })
  // As the customer would: the kit's template applied in an emulated account, then registered.
  const connect = async (): Promise<{ id: string }> => {
    const account = awsAccount()
    const externalId = await mintExternalId(app, hostile.id, account)
    const kit = (await call(app, 'GET', `/v1/external-ids/${externalId.id}/onboarding`, { token: ADMIN_TOKEN })).json<{ cloudFormation: { template: string } }>()
    const stack = await call(app, 'POST', `/v1/sandbox/accounts/${account}/stacks`, { token: ADMIN_TOKEN, body: { template: kit.cloudFormation.template } })
    const created = await call(app, 'POST', `/v1/customers/${hostile.id}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: externalId.id, roleArn: stack.json<{ roleArn: string }>().roleArn } })
    if (created.statusCode !== 201) throw new Error(created.body)
    return created.json<{ id: string }>()
  }
  const connection = await connect()
  const second = await connect()
  t.equal((await call(app, 'POST', `/v1/connections/${second.id}/revoke`, { token: ADMIN_TOKEN, body: { reason: LONG_REASON } })).statusCode, 200)
  t.equal((await call(app, 'POST', '/v1/admin/freeze', { token: ADMIN_TOKEN, body: { reason: LONG_REASON } })).statusCode, 200)
  await mkdir(SHOTS, { recursive: true })

  const browser: Browser = await launchChromium()
  t.teardown(() => browser.close())

  for (const [device, viewport] of Object.entries(VIEWPORTS)) {
    t.test(device, async (t) => {
      const context = await browser.newContext({ viewport })
      t.teardown(() => context.close())
      const page = await context.newPage()
      page.setDefaultTimeout(10_000)
      const check = async (name: string): Promise<void> => {
        // The first 1600 px of the page: the window and what the next scrolls show.
        const height = Math.min(1600, await page.evaluate(() => document.documentElement.scrollHeight))
        await page.screenshot({ path: new URL(`${device}-${name}.png`, SHOTS).pathname, fullPage: true, clip: { x: 0, y: 0, width: viewport.width, height } })
        const measured = await fit(page)
        t.ok(measured.scrollWidth <= measured.innerWidth, `${name}: ${measured.scrollWidth} px wide in a ${measured.innerWidth} px window`)
        t.same(measured.outside, [], `${name}: Sign out and the main buttons are inside the window`)
      }

      await page.goto(`${origin}/console/`)
      await page.getByLabel('API token').fill('dpt_not-a-token-deputy-issued')
      await page.getByRole('button', { name: 'Sign in' }).click()
      await page.getByRole('alert').waitFor()
      await check('sign-in')
      await page.getByLabel('API token').fill(ADMIN_TOKEN)
      await page.getByRole('button', { name: 'Sign in' }).click()

      await page.getByRole('heading', { name: 'Customers', exact: true }).waitFor()
      await page.locator('table.list tbody tr').nth(20).waitFor()
      await check('customers')
      const name = page.locator('table.list a.clip', { hasText: LONG_NAME })
      if (device === 'desktop') {
        const cut = await name.evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth, height: el.clientHeight, title: el.getAttribute('title') }))
        t.ok(cut.scroll > cut.client, 'the long name is cut in its cell')
        t.equal(cut.title, LONG_NAME, 'its full text is the title (on hover)')
        await name.focus()
        t.ok(await name.evaluate((el, before) => el.clientHeight > before && el.scrollWidth <= el.clientWidth, cut.height), 'and shown whole on focus')
        t.ok(await page.locator('table.list td[data-label=Created]').first().evaluate((el) => el.getClientRects()[0]!.height < 40), 'dates stay on one line')
      }

      await page.goto(`${origin}/console/#/customers/${hostile.id}`)
      await page.getByRole('heading', { name: LONG_NAME }).waitFor()
      await page.locator('table.list').nth(1).waitFor()
      await check('customer')
      await page.getByRole('button', { name: 'Suspend…' }).click()
      await page.getByRole('dialog').waitFor()
      await page.getByLabel(/Reason/).fill(LONG_REASON)
      await check('customer-suspend-dialog')
      await page.keyboard.press('Escape')

      await page.goto(`${origin}/console/#/connections/${connection.id}`)
      await page.locator('.probe-report table').waitFor()
      await check('connection')
      await page.getByRole('button', { name: 'Revoke…' }).click()
      await page.getByRole('dialog').waitFor()
      await check('connection-revoke-dialog')
      await page.keyboard.press('Escape')
      await page.goto(`${origin}/console/#/connections/${second.id}`)
      await page.locator('.probe-report table').waitFor()
      await check('connection-revoked')

      await page.goto(`${origin}/console/#/customers/${hostile.id}/onboard`)
      await page.getByRole('heading', { name: new RegExp(`for ${LONG_NAME}`) }).waitFor()
      await check('onboarding-account')
      const account = awsAccount()
      await page.getByLabel(/AWS account ID/).fill(account)
      await page.getByRole('button', { name: 'Mint the external ID' }).click()
      await page.locator('code.external-id').waitFor()
      await check('onboarding-kit')
      await page.getByRole('button', { name: 'The customer has created the role' }).click()
      await page.getByLabel('Role ARN').fill(`arn:aws:iam::${account}:role/${'Deputy'.repeat(10)}`)
      await page.getByRole('button', { name: 'Verify and connect' }).click()
      await page.getByRole('alert').waitFor()
      await check('onboarding-role-failed')
      await page.getByRole('button', { name: 'Back to the kit' }).click()
      await page.getByRole('button', { name: 'Apply the template in the sandbox' }).click()
      await page.getByRole('button', { name: 'Verify and connect' }).click()
      await page.getByRole('heading', { name: 'Connected' }).waitFor()
      await check('onboarding-connected')

      await page.goto(`${origin}/console/#/audit?customerId=${hostile.id}`)
      await page.locator('table.events tbody tr').nth(5).waitFor()
      await page.locator('.chart figcaption').waitFor()
      await page.getByRole('button', { name: /^Show event/ }).first().click()
      await page.locator('tr.event-detail').waitFor()
      await check('audit')
    })
  }
})
