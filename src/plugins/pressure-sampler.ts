// What load shedding decides on: the event loop's mean delay and utilization, and memory, over
// the last sampling interval. Sampled on a timer in production; `sample()` takes one at once, so
// a test can say exactly which interval a decision covers. Same measures as
// @fastify/under-pressure (which this replaced): the mean of a 10 ms-resolution delay histogram
// less its resolution, and an interval with no delay recorded at all counts as infinitely late.
import { monitorEventLoopDelay, performance, type EventLoopUtilization } from 'node:perf_hooks'

const RESOLUTION_MS = 10

export interface PressureSample {
  eventLoopDelayMs: number
  /** 0-1 over the interval. */
  eventLoopUtilization: number
  heapUsedBytes: number
  rssBytes: number
}

export interface PressureSampler {
  /** Ends the current interval: measures it, keeps the result, starts the next one. */
  sample (): PressureSample
  /** The last sample taken (zeros before the first). */
  last (): PressureSample
  /** Forgets what was measured so far (e.g. building the app) and starts a fresh interval. */
  restart (): void
  close (): void
}

export function createPressureSampler (): PressureSampler {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS })
  histogram.enable()
  let utilizationSince: EventLoopUtilization = performance.eventLoopUtilization()
  let latest: PressureSample = { eventLoopDelayMs: 0, eventLoopUtilization: 0, heapUsedBytes: 0, rssBytes: 0 }
  return {
    sample () {
      const mean = histogram.mean / 1e6 - RESOLUTION_MS
      histogram.reset()
      const utilization = performance.eventLoopUtilization(utilizationSince)
      utilizationSince = performance.eventLoopUtilization()
      const memory = process.memoryUsage()
      latest = { eventLoopDelayMs: Number.isNaN(mean) ? Infinity : Math.max(0, mean), eventLoopUtilization: utilization.utilization, heapUsedBytes: memory.heapUsed, rssBytes: memory.rss }
      return latest
    },
    last: () => latest,
    restart () {
      histogram.reset()
      utilizationSince = performance.eventLoopUtilization()
      latest = { eventLoopDelayMs: 0, eventLoopUtilization: 0, heapUsedBytes: 0, rssBytes: 0 }
    },
    close: () => { histogram.disable() }
  }
}
