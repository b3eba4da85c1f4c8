/// <reference lib="dom" />
// Focus follows the user, with the keyboard only: each page change puts focus on the new page's
// heading (or its one field) and announces it; each wizard step focuses and announces its heading;
// the account field takes focus after in-app navigation; Escape in a dialog returns focus to the
// button that opened it. The accessibility tree (Playwright's ARIA snapshot) is checked as a
// screen reader gets it, beyond axe's rules: headings by level and name, the steps, the tables.
import type { Page } from 'playwright-core'
import t from 'tap'
import { ADMIN_TOKEN } from '../helpers/app.js'
import { launchChromium } from '../helpers/browser.js'
import { ensureConsoleBuilt } from '../helpers/console-build.js'
import { awsAccount, createCustomer } from '../helpers/fixtures.js'
import { buildSandboxApp } from '../helpers/sandbox-app.js'

await ensureConsoleBuilt()

/** What has focus, as "tag: accessible text". */
const focused = async (page: Page): Promise<string> => await page.evaluate(() => {
  const element = document.activeElement
  if (element === null || element === document.body) return 'body'
  const text = element instanceof HTMLInputElement ? element.name : (element.textContent ?? '').trim()
  return `${element.tagName.toLowerCase()}: ${text}`
})
const announced = async (page: Page): Promise<string> => await page.locator('#page-announcer').innerText()

t.test('focus follows the keyboard user through the console', async (t) => {
  const { app } = await buildSandboxApp(t, { DEPUTY_BOOTSTRAP_ADMIN_TOKEN: ADMIN_TOKEN })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('not listening')
  const origin = `http://127.0.0.1:${address.port}`
  const customer = await createCustomer(app, { name: 'Initech Keyboard' })
  const browser = await launchChromium()
  t.teardown(() => browser.close())
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
  const page = await context.newPage()
  page.setDefaultTimeout(10_000)
  const press = async (name: RegExp | string, role: 'link' | 'button' = 'button'): Promise<void> => {
    await page.getByRole(role, { name, exact: typeof name === 'string' }).focus()
    await page.keyboard.press('Enter')
  }

  await page.goto(`${origin}/console/`)
  t.equal(await focused(page), 'input: token', 'the token field has focus on arrival')
  await page.keyboard.type(ADMIN_TOKEN)
  await page.keyboard.press('Enter')
  await page.getByRole('heading', { name: 'Customers', level: 1 }).waitFor()
  await page.waitForFunction(() => document.activeElement?.tagName === 'H1')
  t.equal(await focused(page), 'h1: Customers', 'signed in: focus on the page heading')
  t.equal(await page.title(), 'Customers · deputy console', 'the title names the page')
  t.equal(await announced(page), 'Customers', 'and the page is announced')
  await page.keyboard.press('Tab')
  t.equal(await focused(page), 'input: name', 'Tab goes on to the page\'s first control (a new customer\'s name)')

  await page.locator('table.list tbody tr').first().waitFor()
  await press('Initech Keyboard', 'link')
  await page.waitForFunction(() => document.activeElement?.tagName === 'H1')
  t.match(await focused(page), /^h1: Initech Keyboard/, 'a customer: focus on its name')

  await press('Connect an AWS account', 'link')
  await page.waitForFunction(() => document.activeElement instanceof HTMLInputElement)
  t.equal(await focused(page), 'input: awsAccountId', 'the wizard: the account field has focus after in-app navigation')
  // The sandbox proposes an account: replaced, as a person would, by selecting it and typing.
  await page.keyboard.press('ControlOrMeta+A')
  await page.keyboard.type(awsAccount())
  await page.keyboard.press('Enter')
  await page.getByRole('heading', { name: 'The customer creates the role' }).waitFor()
  t.equal(await focused(page), 'h2: The customer creates the role', 'step 2: focus on its heading')
  t.equal(await announced(page), 'Step 2 of 4: Create the role', 'announced with its place in the wizard')
  t.match(await page.locator('main').ariaSnapshot(), /- heading "Connect an AWS account for Initech Keyboard" \[level=1\][\s\S]*- list "Steps":[\s\S]*- listitem: 2\. Create the role[\s\S]*- heading "The customer creates the role" \[level=2\]/, 'the accessibility tree: page heading, steps, step heading')

  await press('Apply the template in the sandbox')
  await page.getByRole('heading', { name: 'Verify the role' }).waitFor()
  t.equal(await focused(page), 'h2: Verify the role', 'step 3: focus on its heading')
  t.equal(await announced(page), 'Step 3 of 4: Verify the role')
  await press('Verify and connect')
  await page.getByRole('heading', { name: 'Connected' }).waitFor()
  t.equal(await focused(page), 'h2: Connected', 'step 4: focus on its heading')
  t.match(await page.locator('main').ariaSnapshot(), /- heading "Connected" \[level=2\][\s\S]*- table[\s\S]*- columnheader "AWS answered"[\s\S]*- row "AssumeRole with the external ID allowed allowed/, 'the probe table reads as a table, row by row')

  await press('Back to the customer', 'link')
  await page.waitForFunction(() => document.activeElement?.tagName === 'H1')
  await press('Suspend…')
  const dialog = page.getByRole('dialog', { name: 'Suspend Initech Keyboard?' })
  await dialog.waitFor()
  t.equal(await focused(page), 'input: ', 'the dialog: focus in its reason field')
  t.match(await dialog.ariaSnapshot(), /- heading "Suspend Initech Keyboard\?" \[level=2\][\s\S]*- textbox "Reason \(kept in the audit trail\)"[\s\S]*- button "Suspend" \[disabled\]/, 'the dialog as a screen reader gets it')
  await page.keyboard.press('Escape')
  await dialog.waitFor({ state: 'detached' })
  await page.waitForFunction(() => document.activeElement?.tagName === 'BUTTON')
  t.equal(await focused(page), 'button: Suspend…', 'Escape: focus back on the button that opened the dialog')

  await press('Sign out')
  await page.getByRole('button', { name: 'Sign in' }).waitFor()
  await page.waitForFunction(() => document.activeElement instanceof HTMLInputElement)
  t.equal(await focused(page), 'input: token', 'signed out: the token field has focus again')
  t.equal(await announced(page), 'deputy console')

  t.test('a phone: the stacked tables keep their table semantics', async (t) => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 } })
    t.teardown(() => phone.close())
    await phone.goto(`${origin}/console/`)
    await phone.getByLabel('API token').fill(ADMIN_TOKEN)
    await phone.keyboard.press('Enter')
    await phone.goto(`${origin}/console/#/customers/${customer.id}`)
    await phone.locator('table.list').first().waitFor()
    t.match(await phone.locator('main').ariaSnapshot(), /- table[\s\S]*- columnheader "Role"[\s\S]*- row "arn:aws:iam::\d{12}:role\/DeputyAccess \d{12} active[\s\S]*- cell "\d{12}"/, 'rows, cells and column headers, as at 1280 px (the labels drawn above each value are not read twice)')
  })
})
