// Load shedding: when this process has more than it can serve, new requests are refused at once
// with 503 `overloaded` and Retry-After, before authentication or any database work, instead of
// queueing until every answer is late. By default the limit is the queue itself: requests in
// flight past OVERLOAD_MAX_IN_FLIGHT (latency = in flight / throughput). @fastify/under-pressure
// samples the event loop and memory, which /metrics reports, and sheds on them too when
// OVERLOAD_MAX_EVENT_LOOP_DELAY_MS, _UTILIZATION_PERCENT, _HEAP_USED_BYTES or _RSS_BYTES is set.
// Health and metrics are never shed: a load balancer that sees /healthz fail restarts the
// process (more load on the others), and one that sees /readyz fail on every overloaded replica
// at once has nowhere left to send anything; /readyz keeps reporting the database, and the 503s
// themselves tell clients to back off.
import { monitorEventLoopDelay } from 'node:perf_hooks'
import underPressure from '@fastify/under-pressure'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { Counter, Gauge } from 'prom-client'
import type { OverloadConfig } from '../config.js'
import { AppError } from '../lib/errors.js'
import type { Metrics } from '../metrics.js'

/** Routes never shed: liveness, readiness and the metrics that show the overload. */
export const NEVER_SHED = new Set(['/healthz', '/readyz', '/metrics'])

const REASONS: Record<string, string> = {
  eventLoopDelay: 'its event loop is lagging',
  eventLoopUtilization: 'its event loop is saturated',
  inFlight: 'it is answering OVERLOAD_MAX_IN_FLIGHT requests already',
  heapUsedBytes: 'its heap is past OVERLOAD_MAX_HEAP_USED_BYTES',
  rssBytes: 'its memory is past OVERLOAD_MAX_RSS_BYTES'
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
  // the samples that saw it say nothing about load, so they are ignored until two fresh ones.
  let settledAt = Number.POSITIVE_INFINITY
  app.addHook('onReady', async () => { settledAt = Date.now() + 2 * config.sampleIntervalMs })
  await app.register(underPressure, {
    sampleInterval: config.sampleIntervalMs,
    maxEventLoopDelay: config.maxEventLoopDelayMs,
    maxEventLoopUtilization: config.maxEventLoopUtilization,
    // Each sample covers the last interval, not the time since start.
    eventLoopUtilizationMode: 'interval',
    maxHeapUsedBytes: config.maxHeapUsedBytes,
    maxRssBytes: config.maxRssBytes,
    pressureHandler: async (request: FastifyRequest, _reply, type) => {
      if (NEVER_SHED.has(request.routeOptions.url ?? '') || Date.now() < settledAt) return
      shed.inc({ reason: type })
      throw overloaded(type, config.retryAfterSeconds)
    }
  })
  const gauge = (name: string, help: string, read: () => number): Gauge => new Gauge({ name, help, registers: [metrics.registry], collect () { this.set(read()) } })

  // The queue: requests received and not yet answered. A CPU-bound process at twice what it can
  // serve keeps its event loop busy but hardly later than at full load; what grows is this
  // count, and every answer's latency with it (latency = in flight / throughput), so past the
  // cap new requests are refused instead of joining the queue.
  let inFlight = 0
  app.addHook('onRequest', async (request, reply) => {
    if (NEVER_SHED.has(request.routeOptions.url ?? '')) return
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
  const sample = (): ReturnType<FastifyInstance['memoryUsage']> => app.memoryUsage()
  gauge('deputy_event_loop_delay_seconds', 'Mean event-loop delay over the last load-shedding sample (OVERLOAD_SAMPLE_INTERVAL_MS)', () => sample().eventLoopDelay / 1000)
  gauge('deputy_event_loop_utilization_ratio', 'Event-loop utilization (0-1) over the last load-shedding sample', () => sample().eventLoopUtilized)
  gauge('deputy_heap_used_bytes', 'V8 heap in use at the last load-shedding sample', () => sample().heapUsed)
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
