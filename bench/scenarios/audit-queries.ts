// Goal 3 of issue 9, measured through deputy's HTTP API over the seeded trail
// (bench/scenarios/audit-seed.ts): the operator queries of GET /v1/audit-events one request at a
// time, each request with other values (customers picked in proportion to their activity, time
// windows anywhere in the span), for p50/p95/p99; then page depth: page 1 against page 1,000 of
// the same query, timed alternately.
//
// Page 1,000's cursor: one query's is reached by following nextCursor 999 times; the others'
// are built from the seq SQL finds at that depth, with deputy's own cursor encoding, and the
// followed one is checked against the one built the same way, so the shortcut is the walk's
// result and not a guess.
import { encodeCursor } from '../../src/lib/pagination.js'
import type { BenchDatabase } from '../database.js'
import { createHttpClient, percentile, runLoad, type HttpClient, type LoadResult } from '../load.js'
import { prng } from '../support/prng.js'
import type { SeededTrail } from './audit-seed.js'

export interface AuditShape {
  key: string
  title: string
  /** The path and query of request i. */
  paths: string[]
}

export interface ShapeResult {
  key: string
  title: string
  example: string
  /** The slowest measured request. */
  slowest: { path: string, ms: number }
  result: LoadResult
  /** Answers with no event at all (a query that finds nothing is not much of a measurement). */
  emptyAnswers: number
}

export interface Latency { requests: number, p50: number, p95: number, p99: number, max: number }

export interface DepthResult {
  key: string
  title: string
  /** The page compared with page 1 (fewer than asked when the query has fewer). */
  page: number
  /** Whether that page was reached by following nextCursor from page 1 (else: cursor built). */
  walked: boolean
  /** Latency of each page of the walk, when walked. */
  walk?: Latency
  firstPath: string
  deepPath: string
  first: Latency
  deep: Latency
}

export interface AuditQueriesResult {
  shapes: ShapeResult[]
  depth: DepthResult[]
}

const PAGE = 50
const DAY_MS = 86400_000
const WINDOW_DAYS = 7
const DEEP_WINDOW_DAYS = 30

/** Picks items in proportion to their weight. */
function weighted<T> (items: readonly T[], weight: (item: T) => number, rng: () => number): () => T {
  const cumulative: number[] = []
  let total = 0
  for (const item of items) {
    total += weight(item)
    cumulative.push(total)
  }
  return () => {
    const x = rng() * total
    const i = cumulative.findIndex((c) => c > x)
    return items[i < 0 ? items.length - 1 : i] as T
  }
}

/** The operator queries, `count` requests each. */
export function auditShapes (trail: SeededTrail, count: number): AuditShape[] {
  const rng = prng(9)
  const customer = weighted(trail.customers, (c) => c.events, rng)
  const connection = weighted(trail.connections, (c) => c.events, rng)
  const actions = trail.actions.map((a) => a.action)
  const days = Math.floor((trail.to.getTime() - trail.from.getTime()) / DAY_MS)
  const windowStart = (): number => trail.from.getTime() + Math.floor(rng() * Math.max(1, days - WINDOW_DAYS)) * DAY_MS
  const many = (make: () => string): string[] => Array.from({ length: count }, make)
  return [
    {
      key: 'customer-window',
      title: `by customer and time window (${WINDOW_DAYS} days), newest first`,
      paths: many(() => {
        const since = windowStart()
        return `/v1/audit-events?customerId=${customer().id}&since=${new Date(since).toISOString()}&until=${new Date(since + WINDOW_DAYS * DAY_MS).toISOString()}`
      })
    },
    { key: 'customer', title: 'by customer, newest first', paths: many(() => `/v1/audit-events?customerId=${customer().id}`) },
    { key: 'customer-action', title: 'by customer and action (credentials.denied), newest first', paths: many(() => `/v1/audit-events?customerId=${customer().id}&action=credentials.denied`) },
    { key: 'action', title: 'by action (each action alike), newest first', paths: many(() => `/v1/audit-events?action=${actions[Math.floor(rng() * actions.length)] ?? ''}`) },
    { key: 'resource', title: 'by resource (a connection), newest first', paths: many(() => `/v1/audit-events?resourceId=${connection().id}`) },
    { key: 'newest', title: 'every customer, newest first', paths: many(() => '/v1/audit-events') },
    { key: 'asc', title: 'by customer, order=asc (oldest first, to the sealed horizon)', paths: many(() => `/v1/audit-events?customerId=${customer().id}&order=asc`) }
  ]
}

interface DepthQuery {
  key: string
  title: string
  path: string
  order: 'desc' | 'asc'
  /** The same selection in SQL, to find the seq at a depth. */
  where: string
  params: unknown[]
  /** Reach the deep page by following nextCursor (one query: the check of the built cursors). */
  walk: boolean
}

/** The queries whose page 1,000 is compared with page 1. */
function depthQueries (trail: SeededTrail): DepthQuery[] {
  const busiest = trail.customers[0]
  const middle = trail.from.getTime() + Math.floor((trail.to.getTime() - trail.from.getTime()) / 2 / DAY_MS) * DAY_MS
  const [since, until] = [new Date(middle), new Date(middle + DEEP_WINDOW_DAYS * DAY_MS)]
  return [
    { key: 'newest', title: 'every event, newest first', path: '/v1/audit-events', order: 'desc', where: 'true', params: [], walk: true },
    ...(busiest === undefined
      ? []
      : [
          { key: 'customer', title: `the busiest customer (${busiest.events.toLocaleString('en-US')} events), newest first`, path: `/v1/audit-events?customerId=${busiest.id}`, order: 'desc' as const, where: 'customer_id = $1', params: [busiest.id], walk: false },
          {
            key: 'customer-window',
            title: `the busiest customer, a ${DEEP_WINDOW_DAYS}-day window, newest first`,
            path: `/v1/audit-events?customerId=${busiest.id}&since=${since.toISOString()}&until=${until.toISOString()}`,
            order: 'desc' as const,
            where: 'customer_id = $1 AND occurred_at >= $2 AND occurred_at < $3',
            params: [busiest.id, since, until],
            walk: false
          }
        ]),
    { key: 'action', title: 'credentials.issued, newest first', path: '/v1/audit-events?action=credentials.issued', order: 'desc', where: "action = 'credentials.issued'", params: [], walk: false },
    // Ascending reads stop at the sealed horizon, which the seed put at the last seeded event.
    { key: 'asc', title: 'every event, order=asc', path: '/v1/audit-events?order=asc', order: 'asc', where: 'seq <= $1', params: [String(trail.sealedThroughSeq)], walk: false }
  ]
}

const withCursor = (path: string, cursor: string): string => `${path}${path.includes('?') ? '&' : '?'}cursor=${encodeURIComponent(cursor)}`

function latency (samples: number[]): Latency {
  const sorted = Float64Array.from(samples).sort()
  const round = (ms: number): number => Math.round(ms * 100) / 100
  return { requests: samples.length, p50: round(percentile(sorted, 0.5)), p95: round(percentile(sorted, 0.95)), p99: round(percentile(sorted, 0.99)), max: round(sorted[sorted.length - 1] ?? Number.NaN) }
}

async function timedGet (client: HttpClient, path: string, headers: Record<string, string>): Promise<number> {
  const t0 = performance.now()
  const answer = await client.send('GET', path, headers)
  const ms = performance.now() - t0
  if (answer.status !== 200) throw new Error(`GET ${path}: ${answer.status} ${answer.body.slice(0, 300)}`)
  return ms
}

/** Follows nextCursor from page 1 to page `pages`, timing each request; the last path requested. */
async function walk (client: HttpClient, headers: Record<string, string>, path: string, pages: number): Promise<{ samples: number[], deepPath: string }> {
  const samples: number[] = []
  let current = path
  for (let page = 1; ; page++) {
    const t0 = performance.now()
    const answer = await client.send('GET', current, headers)
    samples.push(performance.now() - t0)
    if (answer.status !== 200) throw new Error(`GET ${current}: ${answer.status} ${answer.body.slice(0, 300)}`)
    const body = JSON.parse(answer.body) as { items: unknown[], nextCursor: string | null }
    if (page === pages || body.nextCursor === null || body.items.length === 0) return { samples, deepPath: current }
    current = withCursor(path, body.nextCursor)
  }
}

/** The page `pages` of the query (or its last page), with its cursor built from the seq SQL finds. */
async function deepPage (db: BenchDatabase, query: DepthQuery, pages: number): Promise<{ page: number, path: string }> {
  const [{ count } = { count: '0' }] = await db.query<{ count: string }>(`SELECT count(*) AS count FROM (SELECT 1 FROM audit_events WHERE ${query.where} LIMIT ${pages * PAGE}) AS rows`, query.params)
  const page = Math.max(1, Math.min(pages, Math.ceil(Number(count) / PAGE)))
  if (page === 1) return { page, path: query.path }
  const [row] = await db.query<{ at: string }>(`SELECT seq::text AS at FROM audit_events WHERE ${query.where} ORDER BY seq ${query.order} OFFSET ${(page - 1) * PAGE - 1} LIMIT 1`, query.params)
  if (row === undefined) throw new Error(`audit depth ${query.key}: no event at depth ${(page - 1) * PAGE}`)
  return { page, path: withCursor(query.path, encodeCursor(query.order === 'asc' ? { after: row.at } : { seq: row.at })) }
}

export async function measureAuditQueries (options: {
  deputyUrl: string
  deputyPid: number
  token: string
  trail: SeededTrail
  db: BenchDatabase
  /** Measured requests per query shape (after a tenth as many, at least 10, of warm-up). */
  requests: number
  /** How deep the page-depth comparison goes. */
  pages: number
  /** Page 1 and the deep page are each timed this many times, alternately. */
  repeats: number
  say: (message: string) => void
}): Promise<AuditQueriesResult> {
  const client = createHttpClient(options.deputyUrl, 1)
  const headers = { authorization: `Bearer ${options.token}` }
  try {
    const warmup = Math.max(10, Math.round(options.requests / 10))
    const shapes: ShapeResult[] = []
    for (const shape of auditShapes(options.trail, options.requests + warmup)) {
      let empty = 0
      let slowest = { path: '', ms: -1 }
      const send = (offset: number) => async (i: number) => {
        const path = shape.paths[offset + i] ?? '/v1/audit-events'
        const t0 = performance.now()
        const answer = await client.send('GET', path, headers)
        const ms = performance.now() - t0
        if (answer.status !== 200) return { ok: false, answer: String(answer.status), detail: answer.body }
        if (ms > slowest.ms) slowest = { path, ms: Math.round(ms * 100) / 100 }
        if (answer.body.startsWith('{"items":[]')) empty++
        return { ok: true, answer: '200' }
      }
      const warm = await runLoad({ label: `audit ${shape.key} warm-up`, concurrency: 1, requests: warmup, send: send(0) })
      if (warm.errors > 0) throw new Error(`audit ${shape.key}: ${warm.errorSamples.join(' | ')}`)
      empty = 0
      slowest = { path: '', ms: -1 }
      const result = await runLoad({ label: `audit ${shape.key}`, concurrency: 1, requests: options.requests, send: send(warmup), serverPid: options.deputyPid, databases: [options.db.name] })
      shapes.push({ key: shape.key, title: shape.title, example: shape.paths[warmup] ?? '', slowest, result, emptyAnswers: empty })
      options.say(`audit ${shape.key}: p50 ${result.p50} ms, p95 ${result.p95} ms, p99 ${result.p99} ms, ${result.errors} errors, ${empty} empty pages${result.cpu === undefined ? '' : `, CPU ${JSON.stringify(result.cpu)}`}`)
    }

    const depth: DepthResult[] = []
    for (const query of depthQueries(options.trail)) {
      const built = await deepPage(options.db, query, options.pages)
      let walked: Awaited<ReturnType<typeof walk>> | undefined
      if (query.walk) {
        walked = await walk(client, headers, query.path, built.page)
        if (walked.deepPath !== built.path) throw new Error(`audit depth ${query.key}: following nextCursor to page ${built.page} reached ${walked.deepPath}, the cursor built from SQL is ${built.path}`)
      }
      const first: number[] = []
      const deep: number[] = []
      for (let i = 0; i < options.repeats; i++) {
        first.push(await timedGet(client, query.path, headers))
        deep.push(await timedGet(client, built.path, headers))
      }
      const result: DepthResult = {
        key: query.key,
        title: query.title,
        page: built.page,
        walked: walked !== undefined,
        ...(walked === undefined ? {} : { walk: latency(walked.samples) }),
        firstPath: query.path,
        deepPath: built.path,
        first: latency(first),
        deep: latency(deep)
      }
      depth.push(result)
      options.say(`audit depth ${query.key}: page 1 p50 ${result.first.p50} ms, page ${result.page} p50 ${result.deep.p50} ms${walked === undefined ? '' : ` (walked there: p50 ${result.walk?.p50 ?? '?'} ms a page)`}`)
    }
    return { shapes, depth }
  } finally {
    client.close()
  }
}
