// Soak: mixed load (mints, issuance, reads, audit queries) at a fixed rate for five minutes
// (RELIABILITY_SOAK_SECONDS), the audit sealer running as in production. Not one 5xx (nor any
// other failure); deputy's resident memory after the warm-up grows by at most 10 %; the
// event-loop delay p99 (deputy_event_loop_delay_p99_seconds, scraped every 10 s) is reported.
import t from 'tap'
import { createTestDatabase } from '../helpers/postgres.js'
import { answers, createHttpClient, latencies, startLoad, type Sample } from './helpers/load.js'
import { mixedLoad } from './helpers/mix.js'
import { sleep, startDeputy } from './helpers/processes.js'
import { ADMIN_TOKEN, buildScene, LOAD_ENV, startEmulator } from './helpers/scene.js'

const SOAK_MS = Number(process.env.RELIABILITY_SOAK_SECONDS ?? 300) * 1000
const RATE = Number(process.env.RELIABILITY_SOAK_RATE ?? 40)
/** Memory is compared from the end of the warm-up: a fifth of the run, at most a minute. */
const WARMUP_MS = Math.min(60_000, SOAK_MS / 5)
const SCRAPE_MS = 10_000
const MB = 1024 * 1024

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN

t.test(`soak: ${SOAK_MS / 1000} s of mixed load at ${RATE}/s`, async (t) => {
  const databaseUrl = await createTestDatabase(t)
  const emulator = await startEmulator(t)
  const deputy = await startDeputy(t, { ...LOAD_ENV, ...emulator.env, DATABASE_URL: databaseUrl }, 'soak')
  const scene = await buildScene(deputy.url, emulator, 4, 2)
  const mix = mixedLoad(scene, { mint: 2, issue: 3, read: 4, audit: 1 })
  const client = createHttpClient(deputy.url, ADMIN_TOKEN, 64)
  t.teardown(() => client.close())

  const load = startLoad({ client, operations: mix.operations, rate: RATE, durationMs: SOAK_MS })
  const memory: Array<{ at: number, rss: number, heap: number, external: number }> = []
  const loopP99: number[] = []
  const polling = new AbortController()
  const poller = (async () => {
    while (!polling.signal.aborted) {
      const at = performance.now() - load.startedAt
      const text = await fetch(`${deputy.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, signal: AbortSignal.timeout(10_000) }).then(async (r) => r.text(), () => '')
      const gauge = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN)
      memory.push({ at, rss: deputy.rssBytes(), heap: gauge('deputy_heap_used_bytes'), external: gauge('deputy_external_memory_bytes') })
      // Each scrape reports the p99 since the previous one: the first covers start-up, not load.
      if (memory.length > 1) loopP99.push(gauge('deputy_event_loop_delay_p99_seconds') * 1000)
      await sleep(SCRAPE_MS)
    }
  })()
  const samples = await load.done
  polling.abort()
  await poller

  t.comment(`${samples.length} requests: ${JSON.stringify(answers(samples))}`)
  for (const op of ['mint', 'issue', 'read', 'audit']) t.comment(`  ${op}: ${JSON.stringify(latencies(samples.filter((s) => s.op === op)))} ms`)
  const minutes = Math.ceil(SOAK_MS / 60_000)
  for (let m = 0; m < minutes; m++) {
    const inMinute = samples.filter((s) => s.dueAt >= m * 60_000 && s.dueAt < (m + 1) * 60_000)
    t.comment(`  minute ${m + 1}: ${JSON.stringify(latencies(inMinute))} ms`)
  }
  t.same(samples.filter((s) => s.status >= 500).map(describe), [], 'zero 5xx')
  t.same(samples.filter((s) => s.status < 200 || s.status >= 300).map(describe), [], 'and no other failure either')

  // Resident memory: the median around the end of the warm-up against the median of the last minute.
  const warm = memory.filter((m) => m.at >= WARMUP_MS - 30_000 && m.at <= WARMUP_MS + SCRAPE_MS)
  const end = memory.filter((m) => m.at >= SOAK_MS - 60_000)
  const warmRss = median(warm.map((m) => m.rss))
  const endRss = median(end.map((m) => m.rss))
  const growth = endRss / warmRss - 1
  t.comment(`RSS: ${(warmRss / MB).toFixed(1)} MB after the warm-up (${WARMUP_MS / 1000} s), ${(endRss / MB).toFixed(1)} MB at the end (${(growth * 100).toFixed(1)} %); max ${(Math.max(...memory.map((m) => m.rss)) / MB).toFixed(1)} MB; heap used ${(median(warm.map((m) => m.heap)) / MB).toFixed(1)} -> ${(median(end.map((m) => m.heap)) / MB).toFixed(1)} MB`)
  t.comment(`RSS every ${SCRAPE_MS / 1000} s (MB): ${memory.map((m) => (m.rss / MB).toFixed(0)).join(' ')}`)
  t.comment(`heap used every ${SCRAPE_MS / 1000} s (MB): ${memory.map((m) => (m.heap / MB).toFixed(0)).join(' ')}`)
  t.comment(`external memory every ${SCRAPE_MS / 1000} s (MB): ${memory.map((m) => (m.external / MB).toFixed(0)).join(' ')}`)
  // The warm-up may end before V8's first major collection, which flatters "end against warm-up":
  // also against the lowest resident memory seen after it.
  const lowest = Math.min(...memory.filter((m) => m.at >= WARMUP_MS).map((m) => m.rss))
  t.comment(`RSS at the end against the lowest after the warm-up (${(lowest / MB).toFixed(1)} MB): ${((endRss / lowest - 1) * 100).toFixed(1)} %`)
  // A garbage collection can make "end against warm-up" look better than the trend: the slope of
  // the second half says whether memory still climbs.
  const secondHalf = memory.filter((m) => m.at >= SOAK_MS / 2)
  t.comment(`RSS trend over the second half: ${(slope(secondHalf.map((m) => [m.at / 60_000, m.rss / MB])) ?? Number.NaN).toFixed(2)} MB/min; heap: ${(slope(secondHalf.map((m) => [m.at / 60_000, m.heap / MB])) ?? Number.NaN).toFixed(2)} MB/min`)
  t.ok(growth <= 0.10, `RSS grew by at most 10 % after the warm-up (${(growth * 100).toFixed(1)} %)`)

  t.comment(`event-loop delay p99 per ${SCRAPE_MS / 1000} s: median ${median(loopP99).toFixed(1)} ms, worst ${Math.max(...loopP99).toFixed(1)} ms (${loopP99.map((v) => v.toFixed(0)).join(' ')})`)
  t.ok(loopP99.length > 0 && loopP99.every(Number.isFinite), 'deputy reports its event-loop delay p99 in /metrics')
  t.equal(deputy.ended(), undefined, 'deputy is still running')
})

/** Least-squares slope of y over x. */
function slope (points: Array<[number, number]>): number | undefined {
  if (points.length < 2) return undefined
  const mx = points.reduce((sum, [x]) => sum + x, 0) / points.length
  const my = points.reduce((sum, [, y]) => sum + y, 0) / points.length
  const sxx = points.reduce((sum, [x]) => sum + (x - mx) ** 2, 0)
  return sxx === 0 ? undefined : points.reduce((sum, [x, y]) => sum + (x - mx) * (y - my), 0) / sxx
}

function describe (s: Sample): string {
  return `${s.op} at ${(s.dueAt / 1000).toFixed(1)} s: ${s.status} ${s.code ?? s.error ?? ''}`
}
