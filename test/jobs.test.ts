// The background loop runner: runs each job, waits its interval, survives a failed run, never
// overlaps runs, and stop() waits for the run in progress.
import pino from 'pino'
import t from 'tap'
import { createJobs } from '../src/jobs.js'

t.test('jobs run on their interval, survive a failure, and stop cleanly', async (t) => {
  const lines: string[] = []
  const log = pino({ level: 'error' }, { write: (line: string) => { lines.push(line) } })
  let runs = 0
  let active = 0
  let overlapped = false
  const jobs = createJobs(log, [
    {
      name: 'flaky',
      intervalMs: 5,
      run: async () => {
        active++
        overlapped ||= active > 1
        runs++
        await new Promise((resolve) => setTimeout(resolve, 10))
        active--
        if (runs === 1) throw new Error('first run fails')
      }
    },
    { name: 'off', intervalMs: 0, run: async () => { throw new Error('a job with interval 0 never runs') } }
  ])
  jobs.start()
  jobs.start()
  // eslint-disable-next-line no-unmodified-loop-condition -- the job increments it
  while (runs < 4) await new Promise((resolve) => setTimeout(resolve, 5))
  await jobs.stop()
  const stoppedAt = runs
  t.equal(active, 0, 'stop() waited for the run in progress')
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(runs, stoppedAt, 'no run after stop()')
  t.notOk(overlapped, 'runs never overlap')
  t.equal(lines.length, 1, 'the failed run was logged once')
  t.match(lines[0], /"job":"flaky".*background job failed/)
})
