// deputy as a real child process (through tsx, like test/helpers/process.ts), its output in a log
// file rather than a pipe the test would have to drain under load; and what the tests read about
// it from /proc.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { closeSync, openSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'

const ROOT = fileURLToPath(new URL('../../..', import.meta.url))
const ENTRY = fileURLToPath(new URL('../../../src/cli/index.ts', import.meta.url))

/** A TCP port that was free a moment ago. */
export async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  server.close()
  await once(server, 'close')
  return port
}

export interface DeputyProcess {
  url: string
  pid: number
  child: ChildProcess
  logFile: string
  /** The log so far. */
  log: () => string
  /** Set once the process has ended: its exit code or signal. */
  ended: () => string | undefined
  /** Resident set size now, from /proc. */
  rssBytes: () => number
  /** SIGTERM, then SIGKILL after 10 s. */
  stop: () => Promise<void>
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

export async function httpStatus (url: string, timeoutMs = 2000): Promise<number> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
    await res.arrayBuffer()
    return res.status
  } catch {
    return 0
  }
}

/** Starts `deputy serve` with `env` (plus PORT, and no inherited AWS or database settings) and waits for /readyz. */
export async function startDeputy (t: Test, env: Record<string, string>, name = 'deputy'): Promise<DeputyProcess> {
  const dir = await mkdtemp(join(tmpdir(), `deputy-reliability-${name}-`))
  const logFile = join(dir, 'deputy.log')
  const port = await freePort()
  const fd = openSync(logFile, 'a')
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, 'serve'], {
    cwd: ROOT,
    stdio: ['ignore', fd, fd],
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      // Coverage is not collected in children (tsx's source maps would skew it).
      _TAPJS_PROCESSINFO_COVERAGE_: '0',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      HOST: '127.0.0.1',
      PORT: String(port),
      ...env
    }
  })
  closeSync(fd)
  const pid = child.pid
  if (pid === undefined) throw new Error('could not start deputy')
  let ended: string | undefined
  const exited = new Promise<void>((resolve) => child.once('exit', (code, signal) => { ended = signal ?? String(code); resolve() }))
  const url = `http://127.0.0.1:${port}`
  const log = (): string => readFileSync(logFile, 'utf8')
  const deputy: DeputyProcess = {
    url,
    pid,
    child,
    logFile,
    log,
    ended: () => ended,
    rssBytes () {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8')
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN) * 1024
    },
    async stop () {
      if (ended !== undefined) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    }
  }
  t.teardown(async () => {
    await deputy.stop()
    // RELIABILITY_KEEP_LOGS=1 keeps the log for a look after the run.
    if (process.env.RELIABILITY_KEEP_LOGS === '1') t.comment(`${name}'s log: ${logFile}`)
    else await rm(dir, { recursive: true, force: true })
  })
  const deadline = Date.now() + 120_000
  while (await httpStatus(`${url}/readyz`) !== 200) {
    if (ended !== undefined) throw new Error(`deputy ended (${ended}) before it was ready:\n${log()}`)
    if (Date.now() > deadline) throw new Error(`deputy was not ready within 120 s:\n${log()}`)
    await sleep(100)
  }
  return deputy
}
