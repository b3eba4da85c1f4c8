// Every background loop a deputy process runs, started when the app is ready and stopped when it
// closes. Each job runs, then waits its interval, so runs never overlap; a failed run is logged
// and the loop goes on. Tests call the jobs' run functions directly instead.
import type { FastifyBaseLogger } from 'fastify'

export interface Job {
  name: string
  /** Pause between the end of one run and the start of the next; 0 disables the job. */
  intervalMs: number
  run: () => Promise<unknown>
}

export function createJobs (log: FastifyBaseLogger, jobs: Job[]) {
  const timers = new Map<string, NodeJS.Timeout>()
  const running = new Set<Promise<unknown>>()
  let stopped = true

  function schedule (job: Job): void {
    if (stopped) return
    const timer = setTimeout(() => {
      const run = job.run()
        .catch((error: unknown) => { log.error({ err: error, job: job.name }, 'background job failed; it will run again') })
        .finally(() => {
          running.delete(run)
          schedule(job)
        })
      running.add(run)
    }, job.intervalMs)
    timer.unref()
    timers.set(job.name, timer)
  }

  return {
    start (): void {
      if (!stopped) return
      stopped = false
      for (const job of jobs) if (job.intervalMs > 0) schedule(job)
    },
    async stop (): Promise<void> {
      stopped = true
      for (const timer of timers.values()) clearTimeout(timer)
      timers.clear()
      await Promise.allSettled([...running])
    }
  }
}

export type Jobs = ReturnType<typeof createJobs>
