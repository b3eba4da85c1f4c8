// Load shedding: when this process has more than it can serve, new requests are refused at once
// with 503 `overloaded` and Retry-After, before authentication or any database work, instead of
// queueing until every answer is late. By default the limit is the queue itself: requests in
// flight past OVERLOAD_MAX_IN_FLIGHT (latency = in flight / throughput). The event loop and
// memory are sampled every OVERLOAD_SAMPLE_INTERVAL_MS (pressure-sampler.ts), which /metrics
// reports, and shed on too when OVERLOAD_MAX_EVENT_LOOP_DELAY_MS, _UTILIZATION_PERCENT,
// _HEAP_USED_BYTES or _RSS_BYTES is set: from the sample past its limit to the next one under it.
// Health and metrics are never shed: a load balancer that sees /healthz fail restarts the
// process (more load on the others), and one that sees /readyz fail on every overloaded replica
// at once has nowhere left to send anything; /readyz keeps reporting the database, and the 503s
// themselves tell clients to back off.
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { Counter, Gauge } from 'prom-client'
import type { OverloadConfig } from '../config.js'
import { AppError } from '../lib/errors.js'
import type { Metrics } from '../metrics.js'
import { createPressureSampler, type PressureSample, type PressureSampler } from './pressure-sampler.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The load-shedding sampler: tests take a sample at a moment of their choosing. */
    pressureSampler: PressureSampler
  }
}

/** Routes never shed: liveness, readiness and the metrics that show the overload. */
export const NEVER_SHED = new Set(['/healthz', '/readyz', '/metrics'])

const REASONS: Record<string, string> = {
  eventLoopDelay: 'its event loop is lagging',
  eventLoopUtilization: 'its event loop is saturated',
  inFlight: 'it is answering OVERLOAD_MAX_IN_FLIGHT requests already',
  heapUsedBytes: 'its heap is past OVERLOAD_MAX_HEAP_USED_BYTES',
  rssBytes: 'its memory is past OVERLOAD_MAX_RSS_BYTES'
}

/** Which configured limit the sample is past (0: that limit is off), if any. */
function pastLimit (sample: PressureSample, config: OverloadConfig): string | undefined {
  if (config.maxEventLoopDelayMs > 0 && sample.eventLoopDelayMs > config.maxEventLoopDelayMs) return 'eventLoopDelay'
  if (config.maxEventLoopUtilization > 0 && sample.eventLoopUtilization > config.maxEventLoopUtilization) return 'eventLoopUtilization'
  if (config.maxHeapUsedBytes > 0 && sample.heapUsedBytes > config.maxHeapUsedBytes) return 'heapUsedBytes'
  if (config.maxRssBytes > 0 && sample.rssBytes > config.maxRssBytes) return 'rssBytes'
  return undefined
}

export const overloaded = (reason: string, retryAfterSeconds: number): AppError => new AppError({
  status: 503,
  code: 'overloaded',
  title: 'Service unavailable',
  detail: `deputy is overloaded (${REASONS[reason] ?? reason}) and refused this request without doing anything; retry after the Retry-After delay`,
  headers: { 'retry-after': String(retryAfterSeconds) }
})

export default fp<{ config: OverloadConfig, metrics: Metrics }>(async function loadShedding (app: FastifyInstance, { config, metrics }) {
  const shed = new Counter({
    name: 'deputy_http_requests_shed_total',
    help: 'Requests refused with 503 overloaded before any work, by what was over its limit (inFlight, eventLoopDelay, eventLoopUtilization, heapUsedBytes, rssBytes)',
    labelNames: ['reason'] as const,
    registers: [metrics.registry]
  })
  // Building the app (compiling every route's schemas) stalls the event loop before it listens;
  // that says nothing about load, so sampling starts afresh when the app is ready.
  const sampler = createPressureSampler()
  app.decorate('pressureSampler', sampler)
  let timer: NodeJS.Timeout | undefined
  app.addHook('onReady', async () => {
    sampler.restart()
    timer = setInterval(() => { sampler.sample() }, config.sampleIntervalMs)
    timer.unref()
  })
  app.addHook('onClose', async () => {
    clearInterval(timer)
    sampler.close()
  })
  const gauge = (name: string, help: string, read: () => number): Gauge => new Gauge({ name, help, registers: [metrics.registry], collect () { this.set(read()) } })

  // The queue: requests received and not yet answered. A CPU-bound process at twice what it can
  // serve keeps its event loop busy but hardly later than at full load; what grows is this
  // count, and every answer's latency with it (latency = in flight / throughput), so past the
  // cap new requests are refused instead of joining the queue.
  let inFlight = 0
  app.addHook('onRequest', async (request, reply) => {
    if (NEVER_SHED.has(request.routeOptions.url ?? '')) return
    const pressure = pastLimit(sampler.last(), config)
    if (pressure !== undefined) {
      shed.inc({ reason: pressure })
      throw overloaded(pressure, config.retryAfterSeconds)
    }
    if (config.maxInFlight > 0 && inFlight >= config.maxInFlight) {
      shed.inc({ reason: 'inFlight' })
      throw overloaded('inFlight', config.retryAfterSeconds)
    }
    inFlight++
    // 'close' comes exactly once, whether the answer was sent or the client went away.
    reply.raw.once('close', () => { inFlight-- })
  })
  gauge('deputy_http_requests_in_flight', 'Requests received and not yet answered (health and metrics excluded), which OVERLOAD_MAX_IN_FLIGHT caps', () => inFlight)

  // What the decision is based on, as of the last sample (also with every limit off).
  const sample = sampler.last
  // An interval in which the loop never turned (no delay recorded) reads as infinitely late.
  gauge('deputy_event_loop_delay_seconds', 'Mean event-loop delay over the last load-shedding sample (OVERLOAD_SAMPLE_INTERVAL_MS)', () => Math.min(sample().eventLoopDelayMs, Number.MAX_SAFE_INTEGER) / 1000)
  gauge('deputy_event_loop_utilization_ratio', 'Event-loop utilization (0-1) over the last load-shedding sample', () => sample().eventLoopUtilization)
  gauge('deputy_heap_used_bytes', 'V8 heap in use at the last load-shedding sample', () => sample().heapUsedBytes)
  gauge('deputy_resident_memory_bytes', 'Resident set size at the last load-shedding sample', () => sample().rssBytes)
  // What RSS holds besides the JS heap: Buffers and other ArrayBuffers, and memory of native code
  // that V8 is told about, now.
  gauge('deputy_external_memory_bytes', 'Memory outside the V8 heap that V8 accounts for (Buffers and ArrayBuffers included), now', () => process.memoryUsage().external)
  // The tail, which a mean hides: p99 of the event-loop delay since the previous scrape.
  const delays = monitorEventLoopDelay({ resolution: 10 })
  delays.enable()
  app.addHook('onClose', async () => { delays.disable() })
  gauge('deputy_event_loop_delay_p99_seconds', 'p99 of the event-loop delay since the previous scrape of /metrics (10 ms resolution)', () => {
    const p99 = delays.count === 0 ? 0 : delays.percentile(99) / 1e9
    delays.reset()
    return p99
  })
}, { name: 'load-shedding', dependencies: ['error-handler'] })
