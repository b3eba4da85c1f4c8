/// <reference lib="dom" />
// The console at scale: among 2,000 customers the list is newest first with its count and the
// "New customer" form above it, search finds one customer, the audit explorer's customer filter
// searches the API as one types (it never loads every customer into a drop-down), each event says
// who acted by the client's name, and only an admin is offered "Recheck the whole chain".
import type { Page } from 'playwright-core'
import t from 'tap'
import { ADMIN_TOKEN } from '../helpers/app.js'
import { launchChromium } from '../helpers/browser.js'
import { ensureConsoleBuilt } from '../helpers/console-build.js'
import { awsAccount, createApiClient, createCustomer, mintExternalId } from '../helpers/fixtures.js'
import { buildSandboxApp } from '../helpers/sandbox-app.js'

await ensureConsoleBuilt()

const CUSTOMERS = 2000

t.test('the console finds one customer among thousands', async (t) => {
  // The fixtures make 2,000 requests with one token: above the default rate limit.
  const { app } = await buildSandboxApp(t, { DEPUTY_BOOTSTRAP_ADMIN_TOKEN: ADMIN_TOKEN, RATE_LIMIT_MAX: '100000' })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('not listening')
  const origin = `http://127.0.0.1:${address.port}`

  let needle = { id: '', name: '' }
  for (let i = 0; i < CUSTOMERS; i += 20) {
    await Promise.all(Array.from({ length: 20 }, async (_, j) => {
      const customer = await createCustomer(app, { name: `Tenant ${String(i + j).padStart(4, '0')}` })
      if (i + j === CUSTOMERS / 2) needle = customer
    }))
  }
  const newest = await createCustomer(app, { name: 'Zeta newest' })
  const worker = await createApiClient(app, ['external-ids:write'])
  await mintExternalId(app, needle.id, awsAccount(), worker.token)
  const reader = await createApiClient(app, ['customers:read', 'audit:read'])

  const browser = await launchChromium()
  t.teardown(() => browser.close())
  const open = async (token: string): Promise<{ page: Page, asked: string[] }> => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    t.teardown(() => context.close())
    const page = await context.newPage()
    page.setDefaultTimeout(10_000)
    const asked: string[] = []
    page.on('request', (request) => { if (request.url().includes('/v1/customers')) asked.push(new URL(request.url()).search) })
    await page.goto(`${origin}/console/`)
    await page.getByLabel('API token').fill(token)
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { name: 'Customers', level: 1 }).waitFor()
    return { page, asked }
  }
  const { page, asked } = await open(ADMIN_TOKEN)

  t.test('the list: newest first, counted, with the form above it', async (t) => {
    await page.getByRole('heading', { name: `${CUSTOMERS + 1} customers, newest first` }).waitFor()
    t.equal(await page.locator('table.list tbody tr td:first-child').first().innerText(), newest.name, 'the newest customer first')
    t.equal(await page.locator('table.list tbody tr').count(), 25, 'one page')
    const formFirst = await page.evaluate(() => {
      const form = document.querySelector('#create-customer')
      const table = document.querySelector('table.list')
      return form !== null && table !== null && (form.compareDocumentPosition(table) & Node.DOCUMENT_POSITION_FOLLOWING) !== 0
    })
    t.ok(formFirst, '"New customer" comes before the list')
    await page.getByLabel('Name or reference').fill(needle.name.toLowerCase())
    await page.getByRole('button', { name: 'Search' }).click()
    await page.getByRole('heading', { name: `1 customer matches “${needle.name.toLowerCase()}”` }).waitFor()
    t.same(await page.locator('table.list tbody tr td:first-child').allInnerTexts(), [needle.name], 'search finds the one customer')
  })

  t.test('the audit explorer: the customer filter searches, rows name who acted', async (t) => {
    await page.goto(`${origin}/console/#/audit`)
    await page.locator('table.events tbody tr').first().waitFor()
    const picker = page.getByRole('combobox', { name: 'Customer' })
    await picker.fill(needle.name.slice(0, -1))
    const options = page.getByRole('listbox', { name: 'Customers found' }).getByRole('option')
    await options.first().waitFor()
    const snapshot = await page.getByRole('listbox').ariaSnapshot()
    const suggested = [...snapshot.matchAll(/- option "([^"]+)"/g)].map((match) => match[1] ?? '')
    t.ok(suggested.length > 0 && suggested.length <= 8 && suggested.every((name) => name.startsWith(needle.name.slice(0, -1))), `the matches only, a few at a time, as options of a listbox: ${suggested.join(', ')}`)
    t.equal(await picker.getAttribute('aria-expanded'), 'true')
    await picker.fill(needle.name)
    await page.waitForFunction(() => document.querySelectorAll('#customer-options [role=option]').length === 1)
    await picker.press('ArrowDown')
    await picker.press('Enter')
    t.equal(await picker.getAttribute('aria-expanded'), 'false', 'chosen with the keyboard')
    await page.getByRole('button', { name: 'Apply filters' }).click()
    await page.waitForURL(new RegExp(`customerId=${needle.id}`))
    const row = page.locator('table.events tbody tr', { hasText: 'external_id.minted' })
    await row.waitFor()
    t.equal(await row.locator('td[data-label=By]').innerText(), worker.name, 'who acted, by name')
    t.equal(await row.locator('td[data-label=Customer]').innerText(), needle.name)
    t.equal(await picker.inputValue(), needle.name, 'the filter shows the customer by name')
    t.notOk(asked.some((search) => /limit=(\d{3,})/.test(search)), `no customer list loaded whole (${asked.length} customer requests, each a page or a search)`)
    t.ok(await page.getByRole('button', { name: 'Recheck the whole chain' }).isVisible(), 'an admin may recheck the chain')
  })

  t.test('a token without admin is not offered the whole-chain recheck', async (t) => {
    const { page: other } = await open(reader.token)
    await other.goto(`${origin}/console/#/audit`)
    await other.getByText('Checking the hash chain needs an admin token').waitFor()
    t.equal(await other.getByRole('button', { name: 'Recheck the whole chain' }).count(), 0)
  })
})
