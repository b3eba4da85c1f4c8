// Overload: clients sending twice what deputy can serve. First the sustainable rate is measured
// with a closed loop of 64 concurrent clients (the bench's heaviest concurrency) on the default
// settings, which must shed nothing there. Then an open loop at twice that rate, once with load
// shedding off (the latency of every answer grows for as long as the overload lasts) and once
// with OVERLOAD_MAX_IN_FLIGHT set the way the README says to (throughput x the latency one
// accepts): deputy refuses the excess with 503 `overloaded` (problem+json, Retry-After) and the
// requests it takes are answered in bounded time; /healthz, /readyz and /metrics keep answering.
import { monitorEventLoopDelay } from 'node:perf_hooks'
import t from 'tap'
import { createTestDatabase } from '../helpers/postgres.js'
import { answers, closedLoop, createHttpClient, latencies, startLoad, timeline, type Sample } from './helpers/load.js'
import { mixedLoad } from './helpers/mix.js'
import { httpStatus, sleep, startDeputy, type DeputyProcess } from './helpers/processes.js'
import { ADMIN_TOKEN, buildScene, LOAD_ENV, startEmulator } from './helpers/scene.js'

const OVERLOAD_MS = Number(process.env.RELIABILITY_OVERLOAD_SECONDS ?? 20) * 1000
/** The latency an operator accepts, from which the cap is derived (README, "Overload"). */
const TARGET_LATENCY_S = 0.5
/**
 * What "bounded" means here: 3 s, or, on a machine so busy that answers at the sustainable rate
 * are already slower than that, twice their p99 (these cores are shared with the load generator,
 * PostgreSQL and whatever else runs).
 */
const BOUND_MS = Number(process.env.RELIABILITY_OVERLOAD_BOUND_MS ?? 3000)

const ok = (s: Sample): boolean => s.status >= 200 && s.status < 300
const thirds = (samples: Sample[]): [Sample[], Sample[], Sample[]] => {
  const end = samples.reduce((max, s) => Math.max(max, s.dueAt), 0)
  return [0, 1, 2].map((k) => samples.filter((s) => s.dueAt >= end * k / 3 && s.dueAt < end * (k + 1) / 3 + (k === 2 ? 1 : 0))) as [Sample[], Sample[], Sample[]]
}

t.test('overload: at twice the sustainable rate deputy sheds load with 503 overloaded instead of queueing', async (t) => {
  const databaseUrl = await createTestDatabase(t)
  const emulator = await startEmulator(t)
  const env = { ...LOAD_ENV, ...emulator.env, DATABASE_URL: databaseUrl }
  const defaults = await startDeputy(t, env, 'overload-defaults')
  const scene = await buildScene(defaults.url, emulator, 4, 2)
  // deputy's own work (database and CPU): issuance would make this process, the emulator's,
  // compete for the same two cores.
  const mix = mixedLoad(scene, { mint: 3, issue: 0, read: 3, audit: 1 })

  const warm = createHttpClient(defaults.url, ADMIN_TOKEN, 64)
  await closedLoop({ client: warm, operations: mix.operations, concurrency: 16, durationMs: 3000 })
  const capacity = await closedLoop({ client: warm, operations: mix.operations, concurrency: 64, durationMs: 10_000 })
  warm.close()
  t.comment(`sustainable rate (closed loop, 64 concurrent, default settings): ${capacity.perSecond.toFixed(0)}/s; ${JSON.stringify(latencies(capacity.samples))} ms; ${JSON.stringify(answers(capacity.samples))}`)
  t.equal(capacity.samples.filter((s) => !ok(s)).length, 0, 'the default settings shed nothing at 64 concurrent requests')
  await defaults.stop()

  const rate = Math.round(2 * capacity.perSecond)
  const cap = Math.max(8, Math.round(capacity.perSecond * TARGET_LATENCY_S))

  async function overload (deputy: DeputyProcess): Promise<{ samples: Sample[], health: number[] }> {
    // More sockets than the cap, by far: otherwise the excess queues in this client's agent,
    // never reaches deputy, and nothing is there to shed (a faster deputy has a higher cap).
    const sockets = Math.max(256, 4 * cap)
    const client = createHttpClient(deputy.url, ADMIN_TOKEN, sockets)
    // A fresh process compiles as it goes: warm it first, so what follows measures the overload;
    // and open every socket now, as a load balancer's pool would have them, rather than all at
    // once into an overloaded server's accept queue (SYN retries would add seconds).
    await closedLoop({ client, operations: mix.operations, concurrency: 8, durationMs: 4000 })
    await closedLoop({ client, operations: [{ name: 'open', weight: 1, next: () => ({ method: 'GET', path: '/healthz' }) }], concurrency: sockets, durationMs: 1000 })
    const load = startLoad({ client, operations: mix.operations, rate, durationMs: OVERLOAD_MS, timeoutMs: 120_000 })
    const health: number[] = []
    const polling = new AbortController()
    // This process's own lag: if it were late sending, the latencies would be its, not deputy's.
    const lag = monitorEventLoopDelay({ resolution: 10 })
    lag.enable()
    const poller = (async () => {
      while (!polling.signal.aborted) {
        const started = performance.now()
        const metrics = await fetch(`${deputy.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, signal: AbortSignal.timeout(10_000) }).then(async (r) => ({ status: r.status, text: await r.text() }), () => ({ status: 0, text: '' }))
        const gauge = (name: string): string => new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics.text)?.[1] ?? '?'
        if (process.env.RELIABILITY_OVERLOAD_TRACE === '1') t.comment(`  ${((started - load.startedAt) / 1000).toFixed(1)} s: in flight ${gauge('deputy_http_requests_in_flight')}, event-loop delay mean ${gauge('deputy_event_loop_delay_seconds')} s p99 ${gauge('deputy_event_loop_delay_p99_seconds')} s, ELU ${gauge('deputy_event_loop_utilization_ratio')}, /metrics in ${Math.round(performance.now() - started)} ms`)
        health.push(await httpStatus(`${deputy.url}/healthz`, 10_000), await httpStatus(`${deputy.url}/readyz`, 10_000), metrics.status)
        await sleep(1000)
      }
    })()
    const samples = await load.done
    polling.abort()
    await poller
    lag.disable()
    client.close()
    t.comment(`  load generator's own event-loop delay: p50 ${(lag.percentile(50) / 1e6).toFixed(0)} ms, p99 ${(lag.percentile(99) / 1e6).toFixed(0)} ms, max ${(lag.max / 1e6).toFixed(0)} ms`)
    return { samples, health }
  }

  const unshed = await startDeputy(t, { ...env, OVERLOAD_MAX_IN_FLIGHT: '0', OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0' }, 'overload-off')
  const before = process.env.RELIABILITY_OVERLOAD_CONTRAST === '0' ? { samples: [] } : await overload(unshed)
  await unshed.stop()
  t.comment(`shedding off, open loop at ${rate}/s for ${OVERLOAD_MS / 1000} s: ${JSON.stringify(answers(before.samples))}; ${JSON.stringify(latencies(before.samples))} ms`)
  for (const w of timeline(before.samples, 2000)) t.comment(`  off ${JSON.stringify(w)}`)

  const shedding = await startDeputy(t, { ...env, OVERLOAD_MAX_IN_FLIGHT: String(cap) }, 'overload-on')
  const { samples, health } = await overload(shedding)
  t.comment(`shedding on (OVERLOAD_MAX_IN_FLIGHT=${cap}: ${capacity.perSecond.toFixed(0)}/s x ${TARGET_LATENCY_S} s), open loop at ${rate}/s for ${OVERLOAD_MS / 1000} s: ${JSON.stringify(answers(samples))}; ${JSON.stringify(latencies(samples))} ms`)
  for (const w of timeline(samples, 2000)) t.comment(`  on ${JSON.stringify(w)}`)

  const shed = samples.filter((s) => s.status === 503)
  t.ok(shed.length > 0, `the excess was shed (${shed.length} of ${samples.length})`)
  t.same(shed.filter((s) => !(s.code === 'overloaded' && s.contentType?.startsWith('application/problem+json') === true && Number(s.retryAfter) > 0)).map((s) => `${s.op}: ${s.code ?? ''} ${s.retryAfter ?? ''}`), [], 'each shed request is 503 overloaded, problem+json, with Retry-After')
  t.same(samples.filter((s) => !ok(s) && s.status !== 503).map((s) => `${s.op}: ${s.status} ${s.code ?? s.error ?? ''}`), [], 'every other answer is a success: nothing timed out, nothing failed')
  const [first, middle, last] = thirds(samples)
  const [firstOff, , lastOff] = thirds(before.samples)
  t.comment(`latency by third (all answers): ${[first, middle, last].map((third) => JSON.stringify(latencies(third))).join(', ')}; successes only: ${thirds(samples.filter(ok)).map((third) => JSON.stringify(latencies(third))).join(', ')}; 503s: ${JSON.stringify(latencies(shed))}`)
  const bound = Math.max(BOUND_MS, 2 * latencies(capacity.samples).p99)
  t.ok(latencies(last).p99 <= bound, `answers stay fast while the overload lasts: p99 of the last third ${latencies(last).p99} ms <= ${bound} ms (${BOUND_MS} ms, or twice the p99 at the sustainable rate on this machine now)`)
  t.ok(latencies(last).p90 <= Math.max(1000, 1.5 * latencies(middle).p90), `and do not grow: p90 of the last third ${latencies(last).p90} ms, of the middle third ${latencies(middle).p90} ms`)
  if (before.samples.length > 0) {
    t.comment(`without shedding: p50 ${latencies(firstOff).p50} ms in the first third, ${latencies(lastOff).p50} ms in the last`)
    t.ok(latencies(lastOff).p50 > 1.5 * latencies(firstOff).p50 && latencies(lastOff).p50 > latencies(last).p50, 'without shedding, the same load makes every answer later the longer it lasts (so the test is a real overload)')
  }
  t.ok(samples.filter(ok).length >= 0.5 * capacity.perSecond * OVERLOAD_MS / 1000, `deputy kept serving (${samples.filter(ok).length} successes, ${(samples.filter(ok).length / (OVERLOAD_MS / 1000)).toFixed(0)}/s)`)
  t.same(health.filter((status) => status !== 200), [], `/healthz, /readyz and /metrics answered 200 throughout (${health.length} polls)`)

  await sleep(2000)
  const after = createHttpClient(shedding.url, ADMIN_TOKEN, 16)
  const calm = await closedLoop({ client: after, operations: mix.operations, concurrency: 4, durationMs: 3000 })
  after.close()
  t.equal(calm.samples.filter((s) => !ok(s)).length, 0, `once the overload is over, nothing is shed (${calm.samples.length} requests)`)
  t.equal(shedding.ended(), undefined, 'deputy is still running')
})
