// The database's side of the capacity model: pgbench replaying the statements deputy sends for
// one operation (captured off the wire, bench/support/sql-capture.ts), with no deputy in between,
// to see how many of them PostgreSQL sustains on this machine. The script is derived from two or
// more captures of the same operation: a value that is the same in every capture is replayed as
// captured; one that differs gets a fresh value per transaction when it is an AWS account ID or a
// UUID (as deputy would mint), and otherwise is replayed as first captured (request ids,
// timestamps, audit details: their content does not change the work).
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import pg from 'pg'
import { startCpuMeter, type CpuShare } from '../processes.js'
import type { CapturedStatement } from './sql-capture.js'

export interface PgbenchScript {
  text: string
  /** How the captured values were replayed. */
  notes: string[]
}

const ACCOUNT = /^[0-9]{12}$/
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
/** pgbench's random() takes ranges below 2^63. */
const RANDOM_MAX = '4611686018427387903'

const literal = (value: string | null, type: string): string => (value === null ? `NULL::${type}` : `'${value.replaceAll("'", "''")}'::${type}`)

/** A fresh version-4-shaped UUID per transaction from two pgbench random variables. */
const uuidExpression = (a: string, b: string): string =>
  `overlay(overlay(md5((:${a})::text || '.' || (:${b})::text) placing '4' from 13 for 1) placing '8' from 17 for 1)::uuid`

/** The parameter types PostgreSQL infers (or was told) for a statement, as SQL type names. */
async function parameterTypes (client: pg.Client, statement: CapturedStatement): Promise<string[]> {
  if (statement.params.length === 0) return []
  const declared = statement.paramTypes.some((oid) => oid !== 0)
    ? ` (${(await Promise.all(statement.paramTypes.map(async (oid) => oid === 0 ? 'unknown' : (await client.query<{ name: string }>('SELECT format_type($1::oid, NULL) AS name', [oid])).rows[0]?.name ?? 'unknown'))).join(', ')})`
    : ''
  await client.query(`PREPARE bench_types${declared} AS ${statement.sql}`)
  try {
    const { rows } = await client.query<{ types: string[] }>("SELECT parameter_types::text[] AS types FROM pg_prepared_statements WHERE name = 'bench_types'")
    return rows[0]?.types ?? []
  } finally {
    await client.query('DEALLOCATE bench_types')
  }
}

export async function pgbenchScriptFor (databaseUrl: string, captures: CapturedStatement[][]): Promise<PgbenchScript> {
  const [first, ...others] = captures
  if (first === undefined || others.length === 0) throw new Error('pgbench script: needs at least two captures of the operation')
  for (const other of others) {
    if (other.length !== first.length || other.some((s, i) => s.sql !== first[i]?.sql)) {
      throw new Error('pgbench script: the captured operations did not send the same statements')
    }
  }
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  const sets = new Map<string, string>()
  const fresh = new Map<string, string>()
  const replayed = new Set<string>()
  const lines: string[] = []
  try {
    for (const [k, statement] of first.entries()) {
      const types = await parameterTypes(client, statement)
      const values = statement.params.map((value, j) => {
        const type = types[j] ?? 'text'
        const varies = others.some((other) => other[k]?.params[j] !== value)
        if (!varies || value === null) return literal(value, type)
        if (ACCOUNT.test(value)) {
          sets.set('account', 'random(100000000000, 999999999999)')
          return `(:account)::${type}`
        }
        if (UUID.test(value)) {
          let name = fresh.get(value)
          if (name === undefined) {
            name = `u${fresh.size + 1}`
            fresh.set(value, name)
            sets.set(`${name}a`, `random(0, ${RANDOM_MAX})`)
            sets.set(`${name}b`, `random(0, ${RANDOM_MAX})`)
          }
          return `${uuidExpression(`${name}a`, `${name}b`)}::${type}`
        }
        replayed.add(type)
        return literal(value, type)
      })
      const sql = statement.sql.replace(/\$(\d+)/g, (whole, n: string) => values[Number(n) - 1] ?? whole).trim().replace(/;$/, '')
      lines.push(`${sql};`)
    }
  } finally {
    await client.end()
  }
  const notes = [
    `${first.length} statements per transaction, as captured`,
    ...(sets.has('account') ? ['a fresh AWS account ID per transaction'] : []),
    ...(fresh.size > 0 ? [`${fresh.size} fresh UUID(s) per transaction where deputy generated new ones`] : []),
    ...(replayed.size > 0 ? [`other per-request values (${[...replayed].join(', ')}) replayed as captured`] : [])
  ]
  return { text: [...[...sets].map(([name, expression]) => `\\set ${name} ${expression}`), ...lines, ''].join('\n'), notes }
}

export interface PgbenchRun {
  clients: number
  seconds: number
  tps: number
  latencyMs: number
  transactions: number
  failed: number
  /** pgbench's own CPU in `server`, PostgreSQL's in `postgres`. */
  cpu: CpuShare
}

/** `pgbench -n -M extended` with the script for `seconds`; throws with its output when it fails. */
export async function runPgbench (options: { databaseUrl: string, scriptFile: string, script: string, clients: number, threads: number, seconds: number, env: Record<string, string>, databases?: readonly string[] }): Promise<PgbenchRun> {
  writeFileSync(options.scriptFile, options.script)
  const args = ['-n', '-M', 'extended', '-f', options.scriptFile, '-c', String(options.clients), '-j', String(Math.min(options.threads, options.clients)), '-T', String(options.seconds), options.databaseUrl]
  const child = spawn('pgbench', args, { env: options.env, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  let spawnError: Error | undefined
  child.on('error', (error) => { spawnError = error })
  const closed = once(child, 'close') as Promise<[number | null]>
  await Promise.race([once(child, 'spawn'), closed])
  const meter = child.pid === undefined ? undefined : startCpuMeter(child.pid, options.databases)
  const started = performance.now()
  // PostgreSQL's CPU is read per backend, so just before pgbench ends and its backends with it.
  const early = await Promise.race([new Promise((resolve) => setTimeout(resolve, (options.seconds - 0.25) * 1000, false)), closed.then(() => true)])
  let cpu: CpuShare | undefined
  try {
    cpu = early === true ? undefined : meter?.((performance.now() - started) / 1000)
  } catch {
    // pgbench ended meanwhile: no CPU figures for this run.
  }
  const [code] = await closed
  if (spawnError !== undefined) throw new Error(`pgbench could not run (${spawnError.message}): it comes with the PostgreSQL client tools`)
  const number = (pattern: RegExp): number => Number(pattern.exec(output)?.[1] ?? Number.NaN)
  const run = {
    clients: options.clients,
    seconds: options.seconds,
    tps: Math.round(number(/^tps = ([\d.]+)/m)),
    latencyMs: number(/^latency average = ([\d.]+) ms/m),
    transactions: number(/^number of transactions actually processed: (\d+)/m),
    failed: number(/^number of failed transactions: (\d+)/m) || 0,
    cpu: cpu ?? { server: Number.NaN, postgres: Number.NaN, loadGenerator: Number.NaN }
  }
  if (code !== 0 || Number.isNaN(run.tps)) throw new Error(`pgbench ${args.slice(0, -1).join(' ')} failed (exit ${String(code)}):\n${output.slice(-3000)}`)
  return run
}
