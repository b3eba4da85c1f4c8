/// <reference lib="dom" />
// Debian's Chromium driven by playwright-core, for the console's end-to-end tests. The flags keep
// Chromium off the network (this machine has none: without them it tries Google's hosts at every
// start); launch() gives every run a fresh temporary --user-data-dir of its own.
import { mkdir, readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { chromium, type Browser, type Page } from 'playwright-core'

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
export const CHROMIUM_FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
export const VIEWPORT = { width: 1280, height: 800 }
/** Where the run keeps its screenshots (git-ignored): one per console page. */
export const SCREENSHOT_DIR = new URL('../../test-output/console-screenshots/', import.meta.url)

export async function launchChromium (): Promise<Browser> {
  return await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_FLAGS })
}

export interface WatchedPage {
  page: Page
  /** Content-Security-Policy and Trusted Types violations the page reported. */
  cspViolations: string[]
  /** Requests that left for another origin (there must be none). */
  foreignRequests: string[]
  /** Every request's URL and Referer, to prove a token never travels in either. */
  requestTrail: string[]
}

export async function openPage (browser: Browser, origin: string): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: VIEWPORT, acceptDownloads: true })
  const page = await context.newPage()
  page.setDefaultTimeout(10_000)
  const cspViolations: string[] = []
  const foreignRequests: string[] = []
  page.on('console', (message) => {
    const text = message.text()
    if (/Content Security Policy|Trusted Type|TrustedHTML|TrustedScript/i.test(text)) cspViolations.push(text)
  })
  page.on('pageerror', (error) => { cspViolations.push(`page error: ${error.message}`) })
  const requestTrail: string[] = []
  page.on('request', (request) => { requestTrail.push(request.url(), request.headers().referer ?? '') })
  page.on('request', (request) => { if (!request.url().startsWith(origin) && !request.url().startsWith('blob:') && !request.url().startsWith('data:')) foreignRequests.push(request.url()) })
  return { page, cspViolations, foreignRequests, requestTrail }
}

export async function screenshot (page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOT_DIR, { recursive: true })
  // The top of the page, as a person arriving on it sees it.
  await page.evaluate(() => { scrollTo(0, 0) })
  await page.screenshot({ path: new URL(`${name}.png`, SCREENSHOT_DIR).pathname })
}

const axeSource = readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

export interface AxeViolation { id: string, impact: string | null, help: string, nodes: string[] }

/**
 * axe-core's WCAG 2.x A/AA rules on the page as it is. Evaluated through the DevTools protocol,
 * which the page's CSP does not govern, so the console's own policy stays as strict as served.
 */
export async function axeViolations (page: Page): Promise<AxeViolation[]> {
  await page.evaluate(await axeSource)
  return await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run: (context: unknown, options: unknown) => Promise<{ violations: Array<{ id: string, impact: string | null, help: string, nodes: Array<{ target: unknown[] }> }> }> } }).axe
    const result = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } })
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => JSON.stringify(n.target)) }))
  })
}

/** The violations a person relying on assistive technology would be blocked or badly hindered by. */
export const seriousOrCritical = (violations: AxeViolation[]): AxeViolation[] => violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
