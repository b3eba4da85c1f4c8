// Goal 3 of issue 9 from start to end, on a database of its own: migrate, seed the trail with
// COPY (audit-seed.ts), start deputy on it, measure the queries (audit-queries.ts), then capture
// the SQL deputy sends for each query shape (a second deputy through bench/support/sql-capture.ts,
// so the measured one never goes through the proxy) and EXPLAIN (ANALYZE, BUFFERS) it with
// deputy's own values; drop the database.
import { json } from '../api.js'
import type { BenchConfig } from '../config.js'
import { createMigratedDatabase } from '../database.js'
import { deputyEnv, startDeputy } from '../deputy.js'
import { createHttpClient } from '../load.js'
import { memoryOf, stopChild, type Memory } from '../processes.js'
import type { BenchSession } from '../session.js'
import { explainAnalyze, withValues } from '../support/explain.js'
import { startSqlCapture } from '../support/sql-capture.js'
import { measureAuditQueries, type AuditQueriesResult } from './audit-queries.js'
import { seedAuditTrail, type SeededTrail } from './audit-seed.js'

export interface ExplainedStatement {
  /** The SQL as deputy sent it, and with its values in place. */
  sql: string
  withValues: string
  plan: string
}

export interface ExplainedRequest {
  key: string
  title: string
  path: string
  /** Every statement on the audit tables the request made (the others: authentication). */
  statements: ExplainedStatement[]
  /** Round trips to the database for the whole request. */
  roundTrips: number
}

export type TrailSummary = Omit<SeededTrail, 'customers' | 'connections'> & { customerCount: number, busiestCustomer: number, medianCustomer: number, connectionCount: number }

export interface AuditGoalResult {
  trail: TrailSummary
  migrateMs: number
  queries: AuditQueriesResult
  explained: ExplainedRequest[]
  /** deputy's memory after the queries. */
  memory: Memory
  /** deputy's own check of the seeded seal chain (GET /v1/audit-events/integrity?full=true), on small trails only. */
  integrity: { ok: boolean, checkedEvents: number, reason: string | null } | undefined
}

const MONTHS = 6
/** Up to this many seeded events, deputy rehashes them all to check the seeded chain. */
const INTEGRITY_CHECK_MAX_EVENTS = 100_000
const AUDIT_TABLES = /audit_(events|seals)/

export async function runAuditGoal (options: { config: BenchConfig, session: BenchSession, env: Record<string, string>, adminToken: string }): Promise<AuditGoalResult> {
  const { config, session, env, adminToken } = options
  const { say } = session
  const { db, migrateMs } = await createMigratedDatabase({ adminUrl: config.adminUrl, root: config.root, env, setupSql: config.setupSql })
  session.database(db)
  try {
    say(`goal 3: seeding ${config.auditEvents.toLocaleString('en-US')} audit events over ${MONTHS} months with COPY (CPU-bound: about a minute per million on 2 cores; BENCH_AUDIT_EVENTS sets how many)`)
    const trail = await seedAuditTrail({ url: db.url, events: config.auditEvents, customers: config.auditCustomers, months: MONTHS, say })
    say(`goal 3: seeded in ${(trail.timings.total / 1000).toFixed(1)} s (COPY ${(trail.timings.copy / 1000).toFixed(1)} s, indexes ${(trail.timings.indexes / 1000).toFixed(1)} s, ANALYZE ${(trail.timings.analyze / 1000).toFixed(1)} s); table ${trail.tableMiB} MiB, indexes ${trail.indexesMiB} MiB`)

    const deputy = await startDeputy({ root: config.root, logDir: session.logDir, name: 'deputy-audit', env: deputyEnv(env, config, db.url, adminToken) })
    session.child(deputy.child)
    let queries: AuditQueriesResult
    let memory: Memory
    let integrity: AuditGoalResult['integrity']
    try {
      queries = await measureAuditQueries({ deputyUrl: deputy.url, deputyPid: deputy.child.pid, token: adminToken, trail, db, requests: config.auditRequests, pages: config.auditPages, repeats: config.auditRepeats, say })
      memory = memoryOf(deputy.child.pid)
      if (trail.events <= INTEGRITY_CHECK_MAX_EVENTS) {
        integrity = await json<{ ok: boolean, checkedEvents: number, reason: string | null }>(`${deputy.url}/v1/audit-events/integrity?full=true`, { token: adminToken })
        say(`goal 3: deputy's integrity check of the seeded chain: ${JSON.stringify(integrity)}`)
      }
    } finally {
      await stopChild(deputy.child)
    }

    say('goal 3: capturing the SQL of each query and running EXPLAIN (ANALYZE, BUFFERS) on it')
    // Each shape's first measured request and its slowest; page 1 and the deep page of each depth query.
    const requests = [
      ...queries.shapes.flatMap((shape) => [
        { key: shape.key, title: `${shape.title}: the first measured request`, path: shape.example },
        ...(shape.slowest.path === shape.example ? [] : [{ key: `${shape.key}-slowest`, title: `${shape.title}: the slowest request (${shape.slowest.ms.toFixed(2)} ms)`, path: shape.slowest.path }])
      ]),
      ...queries.depth.flatMap((walk) => [
        { key: `depth-${walk.key}-first`, title: `page 1 of ${walk.title}`, path: walk.firstPath },
        { key: `depth-${walk.key}`, title: `page ${walk.page.toLocaleString('en-US')} of ${walk.title}`, path: walk.deepPath }
      ])
    ]
    const explained = await captureAndExplain({ config, session, env, adminToken, databaseUrl: db.url, requests })
    const { customers, connections, ...rest } = trail
    return {
      trail: {
        ...rest,
        customerCount: customers.length,
        busiestCustomer: customers[0]?.events ?? 0,
        medianCustomer: customers[Math.floor(customers.length / 2)]?.events ?? 0,
        connectionCount: connections.length
      },
      migrateMs,
      queries,
      explained,
      memory,
      integrity
    }
  } finally {
    await session.drop(db)
  }
}

async function captureAndExplain (options: {
  config: BenchConfig
  session: BenchSession
  env: Record<string, string>
  adminToken: string
  databaseUrl: string
  requests: Array<{ key: string, title: string, path: string }>
}): Promise<ExplainedRequest[]> {
  const { config, session } = options
  const capture = await startSqlCapture(options.databaseUrl)
  try {
    const deputy = await startDeputy({
      root: config.root,
      logDir: session.logDir,
      name: 'deputy-capture',
      env: {
        ...deputyEnv(options.env, config, capture.url, options.adminToken),
        // Sessions that are not queries (migrations, locks, LISTEN) straight to PostgreSQL, and
        // no background job, so the capture holds only what the requests sent.
        DATABASE_DIRECT_URL: options.databaseUrl,
        AUDIT_SEAL_INTERVAL_MS: '0',
        DRIFT_TICK_MS: '0'
      }
    })
    session.child(deputy.child)
    const client = createHttpClient(deputy.url, 1)
    const captured: Array<{ key: string, title: string, path: string, window: ReturnType<typeof capture.take> }> = []
    try {
      // Once unmeasured, so a token lookup or any first-request work is out of the way.
      await client.send('GET', '/v1/audit-events?limit=1', { authorization: `Bearer ${options.adminToken}` })
      for (const request of options.requests) {
        capture.take()
        const answer = await client.send('GET', request.path, { authorization: `Bearer ${options.adminToken}` })
        if (answer.status !== 200) throw new Error(`GET ${request.path} through the SQL capture: ${answer.status} ${answer.body.slice(0, 300)}`)
        captured.push({ ...request, window: capture.take() })
      }
    } finally {
      client.close()
      await stopChild(deputy.child)
    }
    const explained: ExplainedRequest[] = []
    for (const request of captured) {
      const statements: ExplainedStatement[] = []
      for (const statement of request.window.statements.filter((s) => AUDIT_TABLES.test(s.sql))) {
        statements.push({ sql: statement.sql, withValues: withValues(statement), plan: await explainAnalyze(options.databaseUrl, statement) })
      }
      explained.push({ key: request.key, title: request.title, path: request.path, statements, roundTrips: request.window.roundTrips })
    }
    return explained
  } finally {
    await capture.close()
  }
}
