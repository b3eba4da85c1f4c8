// Goal 4 of issue 9: from spawning `node bin/deputy.js serve` on a migrated PostgreSQL database
// to the first 200 from /readyz, several times; the last deputy started stays up for the load
// phases, so its memory is read idle here and after load later.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort, memoryOf, startChild, stopChild, waitReady, type Child, type Memory } from '../processes.js'

export interface ColdStartResult {
  /** Spawn to /readyz 200, each start, in ms. */
  runsMs: number[]
  /**
   * Of each, the time deputy itself logs as startupMs ("deputy is ready": from startServer's
   * first line to listening); the rest is Node starting and loading modules. NaN below info.
   */
  startServerMs: number[]
  slowestMs: number
  medianMs: number
  /** The deputy left running, its URL, and its memory one second after it became ready. */
  deputy: Child
  url: string
  idle: Memory
}

export async function measureColdStarts (options: { root: string, logDir: string, starts: number, env: Record<string, string> }): Promise<ColdStartResult> {
  const runsMs: number[] = []
  const startServerMs: number[] = []
  for (let i = 1; ; i++) {
    const port = await freePort()
    const started = performance.now()
    const deputy = startChild('deputy', ['bin/deputy.js', 'serve'], { ...options.env, PORT: String(port), HOST: '127.0.0.1' }, join(options.logDir, 'deputy.log'), options.root)
    const url = `http://127.0.0.1:${port}`
    try {
      runsMs.push(Math.round(await waitReady(deputy, `${url}/readyz`, started)))
      startServerMs.push(loggedStartupMs(deputy.logFile, deputy.pid))
    } catch (error) {
      await stopChild(deputy)
      throw error
    }
    if (i < options.starts) {
      await stopChild(deputy)
      continue
    }
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const sorted = [...runsMs].sort((a, b) => a - b)
    return { runsMs, startServerMs, slowestMs: sorted[sorted.length - 1] ?? 0, medianMs: sorted[Math.floor(sorted.length / 2)] ?? 0, deputy, url, idle: memoryOf(deputy.pid) }
  }
}

function loggedStartupMs (logFile: string, pid: number): number {
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    if (!line.includes(`"pid":${pid},`) || !line.includes('"deputy is ready"')) continue
    const startupMs = (JSON.parse(line) as { startupMs?: unknown }).startupMs
    if (typeof startupMs === 'number') return startupMs
  }
  return Number.NaN
}
