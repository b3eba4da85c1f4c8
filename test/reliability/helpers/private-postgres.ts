// A throwaway PostgreSQL cluster of the test's own (initdb into a temporary directory, pg_ctl on a
// free port), so a test can stop and start PostgreSQL without touching the shared server on 5432
// that other suites use. PostgreSQL refuses to run as root: as root (CI, these machines), every
// binary runs as the `postgres` user through runuser.
import { execFile } from 'node:child_process'
import { chown, mkdtemp, readdir, rm } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { Test } from 'tap'
import { freePort } from './processes.js'

const run = promisify(execFile)

/** The directory of initdb and pg_ctl: PG_BIN_DIR, else the newest /usr/lib/postgresql/<n>/bin, else pg_config's. */
async function binDir (): Promise<string> {
  if (process.env.PG_BIN_DIR !== undefined && process.env.PG_BIN_DIR !== '') return process.env.PG_BIN_DIR
  const versions = existsSync('/usr/lib/postgresql') ? (await readdir('/usr/lib/postgresql')).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : []
  for (const version of versions) {
    const dir = `/usr/lib/postgresql/${version}/bin`
    if (existsSync(join(dir, 'pg_ctl'))) return dir
  }
  const { stdout } = await run('pg_config', ['--bindir'])
  return stdout.trim()
}

export interface PrivatePostgres {
  port: number
  /** postgresql://postgres@127.0.0.1:<port>/<database> */
  url: (database?: string) => string
  /** Fast shutdown: sessions are terminated, open transactions roll back, a checkpoint is written. */
  stop: (mode?: 'fast' | 'immediate') => Promise<void>
  start: () => Promise<void>
  /** The server's own log, for the test's diagnostics. */
  logFile: string
}

export async function startPrivatePostgres (t: Test): Promise<PrivatePostgres> {
  const bin = await binDir()
  const dir = await mkdtemp(join(tmpdir(), 'deputy-reliability-pg-'))
  const asRoot = process.getuid?.() === 0
  const exec = async (tool: string, args: string[]): Promise<void> => {
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]] : [join(bin, tool), args]
    await run(file, argv, { timeout: 60_000 })
  }
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres'])
    const { stdout: gid } = await run('id', ['-g', 'postgres'])
    await chown(dir, Number(stdout.trim()), Number(gid.trim()))
  }
  const data = join(dir, 'data')
  const logFile = join(dir, 'postgres.log')
  const port = await freePort()
  // fsync off: the test stops PostgreSQL's processes, never the machine, so the kernel keeps
  // what was written; and the shared disk is spared.
  await exec('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'])
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`
  let running = false
  const cluster: PrivatePostgres = {
    port,
    logFile,
    url: (database = 'postgres') => `postgresql://postgres@127.0.0.1:${port}/${database}`,
    async start () {
      await exec('pg_ctl', ['-D', data, '-l', logFile, '-o', options, '-w', '-t', '60', 'start'])
      running = true
    },
    async stop (mode = 'fast') {
      await exec('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '60', 'stop'])
      running = false
    }
  }
  await cluster.start()
  t.teardown(async () => {
    if (running) await cluster.stop('immediate').catch(() => {})
    await rm(dir, { recursive: true, force: true })
  })
  return cluster
}
