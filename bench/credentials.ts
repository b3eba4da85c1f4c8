// Credential issuance: the same load sent through deputy and sent directly with the SDK to the
// same STS emulator, in one run. deputy, the emulator and this load generator are separate
// processes on this machine (loopback only). Prints a JSON summary and a Markdown table.
//   BENCH_SECONDS (30), BENCH_CONCURRENCY (64), plus a light-load pass at concurrency 1.
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { cpus, totalmem } from 'node:os'
import { once } from 'node:events'
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts'
import pg from 'pg'

const seconds = Number(process.env.BENCH_SECONDS ?? 30)
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 64)
const lightSeconds = Number(process.env.BENCH_LIGHT_SECONDS ?? 10)
const adminUrl = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'
const VENDOR = 'arn:aws:iam::111111111111:user/deputy-bench'
const children: ChildProcess[] = []

function run (args: string[], env: Record<string, string>, profile = false): ChildProcess {
  // BENCH_PROFILE_DIR=dir writes a V8 CPU profile of the deputy process there.
  const profiling = profile && process.env.BENCH_PROFILE_DIR !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : []
  const child = spawn(process.execPath, [...profiling, '--import', 'tsx', ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(child)
  return child
}

/** Resolves with the first match in the child's stdout, and keeps draining it afterwards (a full
 * pipe would block the child's synchronous log writes and measure the pipe, not deputy). */
async function firstLine (child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = ''
    let found = false
    child.stdout?.on('data', (chunk: Buffer) => {
      if (found) return
      buffer += chunk.toString()
      const match = pattern.exec(buffer)
      if (match !== null) {
        found = true
        resolve(match[1] ?? match[0])
      }
    })
    child.on('exit', () => { if (!found) reject(new Error(`process ended before printing ${String(pattern)}`)) })
  })
}

async function json<T> (url: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(url, init)
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${url}: ${res.status} ${await res.text()}`)
  return await res.json() as T
}

interface Stats { requests: number, errors: number, rps: number, p50: number, p90: number, p99: number }

async function load (label: string, workers: number, durationS: number, once: () => Promise<boolean>): Promise<Stats> {
  const latencies: number[] = []
  let errors = 0
  const deadline = performance.now() + durationS * 1000
  const started = performance.now()
  await Promise.all(Array.from({ length: workers }, async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now()
      const ok = await once().catch(() => false)
      latencies.push(performance.now() - t0)
      if (!ok) errors++
    }
  }))
  const elapsed = (performance.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  const pct = (p: number): number => Number((latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0).toFixed(2))
  const stats = { requests: latencies.length, errors, rps: Math.round(latencies.length / elapsed), p50: pct(0.5), p90: pct(0.9), p99: pct(0.99) }
  process.stderr.write(`${label}: ${JSON.stringify(stats)}\n`)
  return stats
}

try {
  const emulator = run(['bench/support/emulator.ts'], {})
  const stsUrl = await firstLine(emulator, /(http:\/\/127\.0\.0\.1:\d+)/)
  const keys = await json<{ accessKeyId: string, secretAccessKey: string }>(`${stsUrl}/_emulator/users`, { method: 'POST', body: JSON.stringify({ arn: VENDOR }) })

  const dbName = `deputy_bench_${randomBytes(4).toString('hex')}`
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  await admin.query(`CREATE DATABASE "${dbName}"`)
  const dbUrl = new URL(adminUrl)
  dbUrl.pathname = `/${dbName}`
  const token = `dpt_bench-${randomBytes(16).toString('hex')}`
  const deputy = run(['src/cli/index.ts', 'serve'], {
    DATABASE_URL: dbUrl.toString(),
    MIGRATE_ON_START: 'true',
    PORT: '0',
    LOG_LEVEL: 'info',
    DATABASE_POOL_SIZE: '20',
    DEPUTY_BOOTSTRAP_ADMIN_TOKEN: token,
    RATE_LIMIT_MAX: '1000000',
    VENDOR_PRINCIPAL_ARN: VENDOR,
    AWS_ENDPOINT_URL_STS: stsUrl,
    AWS_ACCESS_KEY_ID: keys.accessKeyId,
    AWS_SECRET_ACCESS_KEY: keys.secretAccessKey,
    AWS_REGION: 'us-east-1'
  }, true)
  const base = await firstLine(deputy, /Server listening at (http:\/\/127\.0\.0\.1:\d+)/)
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
  const account = '123456789012'
  const roleArn = `arn:aws:iam::${account}:role/DeputyBench`
  const customer = await json<{ id: string }>(`${base}/v1/customers`, { method: 'POST', headers, body: JSON.stringify({ name: 'bench' }) })
  const externalId = await json<{ id: string, externalId: string }>(`${base}/v1/customers/${customer.id}/external-ids`, { method: 'POST', headers, body: JSON.stringify({ awsAccountId: account }) })
  await json(`${stsUrl}/_emulator/roles`, { method: 'PUT', body: JSON.stringify({ arn: roleArn, trustPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: VENDOR }, Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'], Condition: { StringEquals: { 'sts:ExternalId': externalId.externalId } } }] } }) })
  const connection = await json<{ id: string }>(`${base}/v1/customers/${customer.id}/connections`, { method: 'POST', headers, body: JSON.stringify({ externalIdId: externalId.id, roleArn }) })
  const worker = await json<{ token: string }>(`${base}/v1/api-clients`, { method: 'POST', headers, body: JSON.stringify({ name: 'bench-worker', scopes: ['credentials:issue'] }) })
  const workerHeaders = { authorization: `Bearer ${worker.token}`, 'content-type': 'application/json' }
  const body = JSON.stringify({ purpose: 'benchmark' })

  const viaDeputy = async (): Promise<boolean> => {
    const res = await fetch(`${base}/v1/connections/${connection.id}/credentials`, { method: 'POST', headers: workerHeaders, body })
    await res.arrayBuffer()
    return res.status === 201
  }
  const sts = new STSClient({ region: 'us-east-1', endpoint: stsUrl, credentials: keys, maxAttempts: 1 })
  let n = 0
  const direct = async (): Promise<boolean> => {
    const out = await sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: `bench.${n++}`, ExternalId: externalId.externalId, DurationSeconds: 900, SourceIdentity: 'deputy.bench' }))
    return out.Credentials !== undefined
  }

  // Warm both paths, then measure: light load first (added latency), then the full load.
  await load('warm-up', 8, 3, viaDeputy)
  await load('warm-up', 8, 3, direct)
  const lightDirect = await load('direct, c=1', 1, lightSeconds, direct)
  const lightDeputy = await load('deputy, c=1', 1, lightSeconds, viaDeputy)
  const fullDirect = await load(`direct, c=${concurrency}`, concurrency, seconds, direct)
  const fullDeputy = await load(`deputy, c=${concurrency}`, concurrency, seconds, viaDeputy)

  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`
  const added = (a: Stats, b: Stats, k: 'p50' | 'p99'): string => (b[k] - a[k]).toFixed(2)
  console.log(JSON.stringify({ machine, seconds, concurrency, lightDirect, lightDeputy, fullDirect, fullDeputy }))
  console.log(`
| load | path | req/s | p50 ms | p90 ms | p99 ms | errors |
|---|---|---|---|---|---|---|
| c=1, ${lightSeconds} s | SDK → emulator | ${lightDirect.rps} | ${lightDirect.p50} | ${lightDirect.p90} | ${lightDirect.p99} | ${lightDirect.errors} |
| c=1, ${lightSeconds} s | deputy → SDK → emulator | ${lightDeputy.rps} | ${lightDeputy.p50} | ${lightDeputy.p90} | ${lightDeputy.p99} | ${lightDeputy.errors} |
| c=${concurrency}, ${seconds} s | SDK → emulator | ${fullDirect.rps} | ${fullDirect.p50} | ${fullDirect.p90} | ${fullDirect.p99} | ${fullDirect.errors} |
| c=${concurrency}, ${seconds} s | deputy → SDK → emulator | ${fullDeputy.rps} | ${fullDeputy.p50} | ${fullDeputy.p90} | ${fullDeputy.p99} | ${fullDeputy.errors} |

Added by deputy: c=1 p50 ${added(lightDirect, lightDeputy, 'p50')} ms, p99 ${added(lightDirect, lightDeputy, 'p99')} ms; c=${concurrency} p50 ${added(fullDirect, fullDeputy, 'p50')} ms, p99 ${added(fullDirect, fullDeputy, 'p99')} ms. Machine: ${machine}.`)
  await admin.end()
  for (const child of children) child.kill('SIGTERM')
  await once(deputy, 'exit')
  const cleanup = new pg.Client({ connectionString: adminUrl })
  await cleanup.connect()
  await cleanup.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`)
  await cleanup.end()
} finally {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
}
