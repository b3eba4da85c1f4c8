// The benchmark's knobs, read once from the environment (defaults keep `npm run bench` to about
// two minutes on a 2-core machine). Every phase of bench/run.ts takes its durations from here.
import { fileURLToPath } from 'node:url'

export interface BenchConfig {
  /** The repository root (bench/..). */
  root: string
  /** A PostgreSQL URL whose user may CREATE and DROP DATABASE; the bench database is made beside it. */
  adminUrl: string
  /** Length of each measured load phase. */
  seconds: number
  /** Length of the warm-up before each measured load phase (not counted). */
  warmupSeconds: number
  /** Concurrent connections of the mint phase (goal 1). */
  mintConcurrency: number
  /** Requests per path at one request at a time (goal 2, latency). */
  issueRequests: number
  /** Concurrent requests of the issuance throughput phase (goal 2). */
  issueConcurrency: number
  /** How many times deputy is started from nothing (goal 4); the slowest counts. */
  coldStarts: number
  /** Audit events seeded for goal 3 (5 million is the goal's size). */
  auditEvents: number
  /** Customers the seeded events are spread over. */
  auditCustomers: number
  /** Measured requests per audit query shape, one at a time. */
  auditRequests: number
  /** How deep the cursor walks of goal 3 go (pages of 50). */
  auditPages: number
  /** Page 1 and the deepest page are each timed this many times, interleaved. */
  auditRepeats: number
  /** Also issue at issueConcurrency across two deputies in the scale-out phase (BENCH_SCALE_ISSUANCE=1). */
  scaleIssuance: boolean
  /** Leave out goal 3 (BENCH_SKIP_AUDIT=1) or the scale-out phase (BENCH_SKIP_SCALE_OUT=1). */
  skipAudit: boolean
  skipScaleOut: boolean
  /** Database pool size of deputy and of the floor server alike. */
  poolSize: number
  /** deputy's LOG_LEVEL during the run (its default, info, unless told otherwise). */
  deputyLogLevel: string
  /** Skip `tsc -p tsconfig.build.json` (dist/ is already current). */
  skipBuild: boolean
  /** Where the report goes; undefined: print only. */
  resultsFile: string | undefined
  /**
   * SQL run on the bench databases after the migrations (BENCH_SETUP_SQL), to measure a lever
   * such as an index before writing its migration. Named in the report when set.
   */
  setupSql: string | undefined
}

function number (env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value < min) throw new Error(`${name} must be a number >= ${min}, got "${raw}"`)
  return value
}

const flag = (env: NodeJS.ProcessEnv, name: string): boolean => env[name] === '1' || env[name] === 'true'

export function loadBenchConfig (env: NodeJS.ProcessEnv = process.env): BenchConfig {
  const root = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '')
  const results = env.BENCH_RESULTS_FILE
  return {
    root,
    adminUrl: env.DATABASE_URL !== undefined && env.DATABASE_URL !== '' ? env.DATABASE_URL : 'postgresql://postgres@127.0.0.1:5432/postgres',
    seconds: number(env, 'BENCH_SECONDS', 10, 1),
    warmupSeconds: number(env, 'BENCH_WARMUP_SECONDS', 2, 0),
    mintConcurrency: Math.round(number(env, 'BENCH_MINT_CONCURRENCY', 32, 1)),
    issueRequests: Math.round(number(env, 'BENCH_ISSUE_REQUESTS', 1000, 10)),
    issueConcurrency: Math.round(number(env, 'BENCH_ISSUE_CONCURRENCY', 64, 1)),
    coldStarts: Math.round(number(env, 'BENCH_COLD_STARTS', 3, 1)),
    auditEvents: Math.round(number(env, 'BENCH_AUDIT_EVENTS', 5_000_000, 1000)),
    auditCustomers: Math.round(number(env, 'BENCH_AUDIT_CUSTOMERS', 1000, 1)),
    auditRequests: Math.round(number(env, 'BENCH_AUDIT_REQUESTS', 200, 10)),
    auditPages: Math.round(number(env, 'BENCH_AUDIT_PAGES', 1000, 2)),
    auditRepeats: Math.round(number(env, 'BENCH_AUDIT_REPEATS', 100, 5)),
    scaleIssuance: flag(env, 'BENCH_SCALE_ISSUANCE'),
    skipAudit: flag(env, 'BENCH_SKIP_AUDIT'),
    skipScaleOut: flag(env, 'BENCH_SKIP_SCALE_OUT'),
    poolSize: Math.round(number(env, 'BENCH_POOL_SIZE', 10, 1)),
    deputyLogLevel: env.BENCH_DEPUTY_LOG_LEVEL !== undefined && env.BENCH_DEPUTY_LOG_LEVEL !== '' ? env.BENCH_DEPUTY_LOG_LEVEL : 'info',
    skipBuild: flag(env, 'BENCH_SKIP_BUILD'),
    setupSql: env.BENCH_SETUP_SQL !== undefined && env.BENCH_SETUP_SQL.trim() !== '' ? env.BENCH_SETUP_SQL : undefined,
    resultsFile: results === 'none' ? undefined : results !== undefined && results !== '' ? results : `${root}/bench/RESULTS.md`
  }
}
