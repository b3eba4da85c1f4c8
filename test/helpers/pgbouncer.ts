// A private PgBouncer for tests (Debian's pgbouncer): transaction pooling in front of the test
// PostgreSQL, on a free port, its configuration in a temporary directory, stopped at teardown.
// PgBouncer refuses to run as root, so as root it is told to switch to the postgres user (-u).
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import type { Test } from 'tap'
import { ADMIN_URL } from './postgres.js'
import { freePort } from './redis.js'

export const PGBOUNCER = '/usr/sbin/pgbouncer'

export interface PgBouncer {
  /** `databaseUrl` (a direct PostgreSQL URL) with PgBouncer's host and port instead. */
  pooled (databaseUrl: string): string
  /** Runs a command on PgBouncer's admin console (SHOW POOLS, SHOW STATS, ...). */
  show (command: string): Promise<Array<Record<string, unknown>>>
}

export async function startPgBouncer (t: Test, options: { poolSize: number }): Promise<PgBouncer> {
  const target = new URL(ADMIN_URL)
  const user = decodeURIComponent(target.username) || 'postgres'
  const port = await freePort()
  const dir = await mkdtemp(join(tmpdir(), 'deputy-pgbouncer-'))
  const root = process.getuid?.() === 0
  await writeFile(join(dir, 'userlist.txt'), `"${user}" ""\n`)
  await writeFile(join(dir, 'pgbouncer.ini'), [
    '[databases]',
    // Any database name the client asks for, on the test PostgreSQL.
    `* = host=${target.hostname} port=${target.port || '5432'}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = trust',
    `auth_file = ${join(dir, 'userlist.txt')}`,
    `admin_users = ${user}`,
    'pool_mode = transaction',
    `default_pool_size = ${options.poolSize}`,
    'max_client_conn = 500',
    `logfile = ${join(dir, 'pgbouncer.log')}`,
    `pidfile = ${join(dir, 'pgbouncer.pid')}`,
    ''
  ].join('\n'))
  if (root) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString())
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString())
    for (const file of ['', 'userlist.txt', 'pgbouncer.ini']) await chown(join(dir, file), uid, gid)
  }
  // -u: started as root, it switches to that user itself, so signals reach it directly.
  const child = spawn(PGBOUNCER, [...(root ? ['-u', 'postgres'] : []), join(dir, 'pgbouncer.ini')], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  t.teardown(async () => {
    if (child.exitCode === null) {
      // SIGTERM: immediate shutdown (SIGINT would wait for every client to leave).
      child.kill('SIGTERM')
      await once(child, 'exit')
    }
    await rm(dir, { recursive: true, force: true })
  })
  const pooled = (databaseUrl: string): string => {
    const url = new URL(databaseUrl)
    url.hostname = '127.0.0.1'
    url.port = String(port)
    return url.toString()
  }
  const show = async (command: string): Promise<Array<Record<string, unknown>>> => {
    // The admin console speaks the simple query protocol only: no parameters.
    const client = new pg.Client({ connectionString: pooled(`postgresql://${user}@x/pgbouncer`) })
    await client.connect()
    try {
      const result = await client.query(command)
      return result.rows as Array<Record<string, unknown>>
    } finally {
      await client.end()
    }
  }
  for (const deadline = Date.now() + 10_000; ;) {
    try {
      await show('SHOW VERSION')
      break
    } catch (error) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`pgbouncer did not start (${(error as Error).message}):\n${output}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  return { pooled, show }
}
