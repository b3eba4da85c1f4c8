// Mints per second for one API client: starts deputy on a fresh Postgres database (or PGlite
// with --pglite), then sends mint requests for distinct AWS accounts at a fixed concurrency for a
// fixed time over real HTTP. Prints req/s and latency percentiles. Bounded in time and count.
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { loadConfig } from '../src/config.js'
import { startServer } from '../src/server.js'

const usePglite = process.argv.includes('--pglite')
const seconds = Number(process.env.BENCH_SECONDS ?? 10)
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16)
const adminUrl = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'
const token = `dpt_bench-${randomBytes(16).toString('hex')}`

const env: Record<string, string> = { PORT: '0', LOG_LEVEL: 'warn', DEPUTY_BOOTSTRAP_ADMIN_TOKEN: token, RATE_LIMIT_MAX: '1000000' }
let cleanup = async (): Promise<void> => {}
if (usePglite) {
  const dir = await mkdtemp(join(tmpdir(), 'deputy-bench-'))
  env.DEPUTY_DATA_DIR = dir
  cleanup = () => rm(dir, { recursive: true, force: true })
} else {
  const name = `deputy_bench_${randomBytes(4).toString('hex')}`
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  await admin.query(`CREATE DATABASE "${name}"`)
  await admin.end()
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  Object.assign(env, { DATABASE_URL: url.toString(), MIGRATE_ON_START: 'true', DATABASE_POOL_SIZE: '20' })
  cleanup = async () => {
    const c = new pg.Client({ connectionString: adminUrl })
    await c.connect()
    await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
    await c.end()
  }
}

const startedAt = performance.now()
const server = await startServer(loadConfig(env))
const startupMs = performance.now() - startedAt
const address = server.server.address()
const base = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
const customer = await (await fetch(`${base}/v1/customers`, { method: 'POST', headers, body: JSON.stringify({ name: 'bench' }) })).json() as { id: string }

let account = 100000000000
const latencies: number[] = []
const statuses = new Map<number, number>()
const deadline = performance.now() + seconds * 1000
async function worker (): Promise<void> {
  while (performance.now() < deadline) {
    const t0 = performance.now()
    const res = await fetch(`${base}/v1/customers/${customer.id}/external-ids`, { method: 'POST', headers, body: JSON.stringify({ awsAccountId: String(account++) }) })
    await res.arrayBuffer()
    latencies.push(performance.now() - t0)
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
  }
}
const t0 = performance.now()
await Promise.all(Array.from({ length: concurrency }, worker))
const elapsed = (performance.now() - t0) / 1000
latencies.sort((a, b) => a - b)
const pct = (p: number): string => (latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0).toFixed(1)
console.log(JSON.stringify({
  database: usePglite ? 'pglite' : 'postgres',
  startupMs: Math.round(startupMs),
  concurrency,
  seconds: Number(elapsed.toFixed(1)),
  requests: latencies.length,
  statuses: Object.fromEntries(statuses),
  mintsPerSecond: Math.round((statuses.get(201) ?? 0) / elapsed),
  latencyMs: { p50: pct(0.5), p90: pct(0.9), p99: pct(0.99), max: (latencies.at(-1) ?? 0).toFixed(1) }
}))
await server.close()
await cleanup()
