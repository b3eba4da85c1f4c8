// The servers under test run as child processes of the benchmark, each on its own port, its
// output in a log file (a pipe the benchmark had to drain would cost the shared CPU). Memory and
// CPU time are read from /proc, as `ps` would.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs'
import { request } from 'node:http'
import { createServer, type AddressInfo } from 'node:net'

export interface Child {
  name: string
  process: ChildProcess
  pid: number
  logFile: string
  /** Resolves with the exit code (or signal) once the process has ended. */
  exited: Promise<string>
}

/** Environment every child starts from: no inherited AWS or database settings. */
export function baseEnv (): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    NODE_ENV: 'production',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true'
  }
}

export function startChild (name: string, args: string[], env: Record<string, string>, logFile: string, cwd: string): Child {
  const fd = openSync(logFile, 'a')
  const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', fd, fd] })
  closeSync(fd)
  if (child.pid === undefined) throw new Error(`${name}: could not start ${args.join(' ')}`)
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? String(code))))
  return { name, process: child, pid: child.pid, logFile, exited }
}

/** A TCP port that was free a moment ago, for a child to listen on. */
export async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  server.close()
  await once(server, 'close')
  return port
}

function getStatus (url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, timeout: 1000 }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', () => resolve(0))
    req.on('timeout', () => req.destroy())
    req.end()
  })
}

/**
 * Polls `url` every `everyMs` until it answers 200; resolves with the milliseconds since
 * `since`. Fails when the child ends first or `timeoutMs` passes.
 */
export async function waitReady (child: Child, url: string, since: number, timeoutMs = 30_000, everyMs = 5): Promise<number> {
  let ended: string | undefined
  child.exited.then((code) => { ended = code }, () => {})
  const deadline = since + timeoutMs
  while (performance.now() < deadline) {
    if (await getStatus(url) === 200) return performance.now() - since
    if (ended !== undefined) throw new Error(`${child.name} ended (${ended}) before ${url} answered 200; see ${child.logFile}`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
  throw new Error(`${child.name}: ${url} did not answer 200 within ${timeoutMs} ms; see ${child.logFile}`)
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopChild (child: Child, graceMs = 10_000): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return
  child.process.kill('SIGTERM')
  const timer = setTimeout(() => child.process.kill('SIGKILL'), graceMs)
  await child.exited
  clearTimeout(timer)
}

export interface Memory {
  /** Resident set size now, MiB. */
  rssMiB: number
  /** Highest resident set size so far, MiB. */
  peakMiB: number
}

export function memoryOf (pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN)
  return { rssMiB: Math.round(kib('VmRSS') / 1024), peakMiB: Math.round(kib('VmHWM') / 1024) }
}

/** User + system CPU seconds in a /proc/<pid>/stat line (clock ticks of 1/100 s on Linux). */
function statCpuSeconds (stat: string): number {
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** User + system CPU seconds the process has used so far. */
export function cpuSecondsOf (pid: number): number {
  return statCpuSeconds(readFileSync(`/proc/${pid}/stat`, 'utf8'))
}

/** The database a PostgreSQL process works for, from its title; undefined for the shared ones. */
function databaseOf (title: string): string | undefined {
  // "postgres: 15/main: <user> <database> <host(port)> <state>", "...: autovacuum worker <database>"
  return /: \S+ (\S+) (?:\S+\(\d+\)|\[local\])/.exec(title)?.[1] ?? /autovacuum worker (\S+)/.exec(title)?.[1]
}

/**
 * CPU seconds of each PostgreSQL process on this machine so far (backends, WAL writer, ...).
 * With `databases`, a backend counts only when it serves one of them: on a shared server,
 * other databases' work is not the benchmark's.
 */
function postgresCpuSeconds (databases?: readonly string[]): Map<string, number> {
  const seconds = new Map<string, number>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      if (!stat.includes(' (postgres) ')) continue
      if (databases !== undefined) {
        const database = databaseOf(readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' '))
        if (database !== undefined && !databases.includes(database)) continue
      }
      seconds.set(entry, statCpuSeconds(stat))
    } catch {
      // The process ended meanwhile.
    }
  }
  return seconds
}

/** Where the machine's CPU went during a phase, in % of one core. */
export interface CpuShare {
  /** The server(s) under test (deputy, the floor server, or the STS emulator for direct calls). */
  server: number
  postgres: number
  /** This process: the load generator (and, for direct calls, the SDK). */
  loadGenerator: number
}

/**
 * Starts counting; the returned function stops and gives the shares over `elapsedS`. PostgreSQL
 * counts only for `databases` (and its shared processes) when they are named.
 */
export function startCpuMeter (serverPids: number | number[], databases?: readonly string[]): (elapsedS: number) => CpuShare {
  const pids = Array.isArray(serverPids) ? serverPids : [serverPids]
  const serverSeconds = (): number => pids.reduce((sum, pid) => sum + cpuSecondsOf(pid), 0)
  const server = serverSeconds()
  const postgres = postgresCpuSeconds(databases)
  const own = process.cpuUsage()
  return (elapsedS) => {
    const used = process.cpuUsage(own)
    const pct = (seconds: number): number => Math.round(seconds / elapsedS * 100)
    return {
      server: pct(serverSeconds() - server),
      // Per process: a backend that started meanwhile counts from zero; one that ended is lost
      // (pools keep their connections through a phase, so that is little).
      postgres: pct([...postgresCpuSeconds(databases)].reduce((sum, [pid, now]) => sum + now - (postgres.get(pid) ?? 0), 0)),
      loadGenerator: pct((used.user + used.system) / 1e6)
    }
  }
}

/** The time the command `args` takes to run to completion; throws with its output on failure. */
export async function runToEnd (name: string, command: string, args: string[], env: Record<string, string>, cwd: string): Promise<number> {
  const started = performance.now()
  const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const [code] = await once(child, 'close') as [number | null]
  if (code !== 0) throw new Error(`${name} failed (exit ${String(code)}):\n${output.slice(-4000)}`)
  return performance.now() - started
}
