// Scale-out of issue 9: mints with one deputy process, then with two on the same database (the
// load generator spreading requests across both, as a load balancer would), at the same total
// concurrency; optionally issuance at c=64 across both. Then the database's side: the statements
// of a mint and of an issuance captured off the wire (round trips per operation), and pgbench
// replaying a mint's statements with no deputy in between, to see where PostgreSQL saturates.
import { join } from 'node:path'
import { createCustomer } from '../api.js'
import type { BenchConfig } from '../config.js'
import { checkMints, type BenchDatabase, type MintCheck } from '../database.js'
import { deputyEnv, startDeputy, type DeputyAws, type RunningDeputy } from '../deputy.js'
import { createHttpClient, expectStatus, runLoad, type HttpClient, type LoadResult } from '../load.js'
import { stopChild } from '../processes.js'
import type { BenchSession } from '../session.js'
import { pgbenchScriptFor, runPgbench, type PgbenchRun } from '../support/pgbench.js'
import { startSqlCapture, type CapturedStatement } from '../support/sql-capture.js'

export interface CapturedOperation {
  /** Round trips to PostgreSQL per operation (the same for every capture, or the list). */
  roundTrips: number[]
  /** The statements of the first capture, abbreviated. */
  statements: string[]
}

export interface ScaleOutResult {
  mint: { one: LoadResult, two: LoadResult, check: MintCheck }
  issuance?: { two: LoadResult }
  capture: { mint: CapturedOperation, issuance: CapturedOperation }
  pgbench: { script: string, notes: string[], runs: PgbenchRun[] } | { error: string }
}

const CAPTURES = 3

async function loadAcross (options: {
  label: string
  clients: HttpClient[]
  pids: number[]
  databases: string[]
  concurrency: number
  seconds: number
  warmupSeconds: number
  request: (client: HttpClient) => Promise<{ status: number, body: string }>
  expected: number
}): Promise<{ result: LoadResult, answered: number }> {
  const send = async (i: number) => expectStatus(await options.request(options.clients[i % options.clients.length] as HttpClient), options.expected)
  let answered = 0
  if (options.warmupSeconds > 0) {
    const warm = await runLoad({ label: `${options.label} warm-up`, concurrency: options.concurrency, durationMs: options.warmupSeconds * 1000, send })
    answered += warm.answers[String(options.expected)] ?? 0
    if (warm.errors > 0) throw new Error(`${options.label} warm-up: ${warm.errors} errors: ${warm.errorSamples.join(' | ')}`)
  }
  const result = await runLoad({ label: options.label, concurrency: options.concurrency, durationMs: options.seconds * 1000, send, serverPid: options.pids, databases: options.databases })
  answered += result.answers[String(options.expected)] ?? 0
  process.stderr.write(`bench: ${options.label}: ${result.rps} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms, ${result.errors} errors, CPU ${JSON.stringify(result.cpu)}\n`)
  return { result, answered }
}

const abbreviate = (statement: CapturedStatement): string => statement.sql.replace(/\s+/g, ' ').replace(/"public"\./g, '').slice(0, 160)

export async function runScaleOut (options: {
  config: BenchConfig
  session: BenchSession
  env: Record<string, string>
  db: BenchDatabase
  adminToken: string
  /** The deputy already running on `db` (replica 1). */
  deputy: RunningDeputy
  aws: DeputyAws
  /** A connection that issues, and a token allowed to (from the issuance phase). */
  issuance: { connectionId: string, workerToken: string }
}): Promise<ScaleOutResult> {
  const { config, session, env, db, adminToken, aws } = options
  const { say } = session
  const replicaEnv = deputyEnv(env, config, db.url, adminToken, aws)
  const customer = await createCustomer(options.deputy.url, adminToken, 'bench scale-out')
  const mintPath = `/v1/customers/${customer.id}/external-ids`
  const adminHeaders = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' }
  let account = 200_000_000_000
  const mint = (client: HttpClient) => client.send('POST', mintPath, adminHeaders, JSON.stringify({ awsAccountId: String(account++) }))
  const c = config.mintConcurrency

  say(`scale-out: mints at c=${c} with 1 deputy, then 2 (same database), ${config.seconds} s each`)
  const oneClient = createHttpClient(options.deputy.url, c)
  const one = await loadAcross({ label: 'mint via 1 deputy', clients: [oneClient], pids: [options.deputy.child.pid], databases: [db.name], concurrency: c, seconds: config.seconds, warmupSeconds: config.warmupSeconds, request: mint, expected: 201 })
  oneClient.close()
  const second = await startDeputy({ root: config.root, logDir: session.logDir, name: 'deputy-2', env: replicaEnv })
  session.child(second.child)
  const twoClients = [options.deputy.url, second.url].map((url) => createHttpClient(url, Math.ceil(c / 2)))
  let issuance: ScaleOutResult['issuance']
  let two: Awaited<ReturnType<typeof loadAcross>>
  try {
    two = await loadAcross({ label: 'mint via 2 deputies', clients: twoClients, pids: [options.deputy.child.pid, second.child.pid], databases: [db.name], concurrency: c, seconds: config.seconds, warmupSeconds: config.warmupSeconds, request: mint, expected: 201 })
    if (config.scaleIssuance) {
      const issueClients = [options.deputy.url, second.url].map((url) => createHttpClient(url, Math.ceil(config.issueConcurrency / 2)))
      const workerHeaders = { authorization: `Bearer ${options.issuance.workerToken}`, 'content-type': 'application/json' }
      const issue = (client: HttpClient) => client.send('POST', `/v1/connections/${options.issuance.connectionId}/credentials`, workerHeaders, JSON.stringify({ purpose: 'benchmark' }))
      // The token's first success on the new replica, one at a time (see the auth throttle in RESULTS.md).
      const proving = await runLoad({ label: 'issuance warm-up on deputy 2', concurrency: 1, requests: 10, send: async () => expectStatus(await issue(issueClients[1] as HttpClient), 201) })
      if (proving.errors > 0) throw new Error(`issuance on deputy 2: ${proving.errorSamples.join(' | ')}`)
      const issued = await loadAcross({ label: `issuance via 2 deputies, c=${config.issueConcurrency}`, clients: issueClients, pids: [options.deputy.child.pid, second.child.pid], databases: [db.name], concurrency: config.issueConcurrency, seconds: config.seconds, warmupSeconds: config.warmupSeconds, request: issue, expected: 201 })
      issueClients.forEach((client) => { client.close() })
      issuance = { two: issued.result }
    }
  } finally {
    twoClients.forEach((client) => { client.close() })
    await stopChild(second.child)
  }
  const check = await checkMints(db, customer.id, one.answered + two.answered)

  say('scale-out: capturing the statements of a mint and of an issuance')
  const capture = await captureOperations({ ...options, customerId: customer.id })
  let pgbench: ScaleOutResult['pgbench']
  try {
    const script = await pgbenchScriptFor(db.url, capture.mintStatements)
    const runs: PgbenchRun[] = []
    const seconds = Math.max(3, Math.round(config.seconds / 2))
    for (const clients of [config.poolSize, config.poolSize * 2]) {
      say(`scale-out: pgbench of a mint's statements, ${clients} clients, ${seconds} s`)
      const run = await runPgbench({ databaseUrl: db.url, scriptFile: join(session.logDir, 'mint.pgbench.sql'), script: script.text, clients, threads: 2, seconds, env, databases: [db.name] })
      say(`scale-out: pgbench at c=${clients}: ${run.tps} tps, ${run.failed} failed, CPU ${JSON.stringify(run.cpu)}`)
      runs.push(run)
    }
    pgbench = { script: script.text, notes: script.notes, runs }
  } catch (error) {
    pgbench = { error: error instanceof Error ? error.message : String(error) }
    say(`scale-out: pgbench: ${pgbench.error}`)
  }
  return { mint: { one: one.result, two: two.result, check }, ...(issuance === undefined ? {} : { issuance }), capture: { mint: capture.mint, issuance: capture.issuance }, pgbench }
}

/** A deputy through the SQL capture, no background jobs: a few mints and issuances, one at a time. */
async function captureOperations (options: {
  config: BenchConfig
  session: BenchSession
  env: Record<string, string>
  db: BenchDatabase
  adminToken: string
  aws: DeputyAws
  issuance: { connectionId: string, workerToken: string }
  customerId: string
}): Promise<{ mint: CapturedOperation, issuance: CapturedOperation, mintStatements: CapturedStatement[][] }> {
  const capture = await startSqlCapture(options.db.url)
  try {
    const deputy = await startDeputy({
      root: options.config.root,
      logDir: options.session.logDir,
      name: 'deputy-capture',
      env: {
        ...deputyEnv(options.env, options.config, capture.url, options.adminToken, options.aws),
        DATABASE_DIRECT_URL: options.db.url,
        AUDIT_SEAL_INTERVAL_MS: '0',
        DRIFT_TICK_MS: '0'
      }
    })
    options.session.child(deputy.child)
    const client = createHttpClient(deputy.url, 1)
    const adminHeaders = { authorization: `Bearer ${options.adminToken}`, 'content-type': 'application/json' }
    const workerHeaders = { authorization: `Bearer ${options.issuance.workerToken}`, 'content-type': 'application/json' }
    let account = 300_000_000_000
    const operations = {
      mint: () => client.send('POST', `/v1/customers/${options.customerId}/external-ids`, adminHeaders, JSON.stringify({ awsAccountId: String(account++) })),
      issuance: () => client.send('POST', `/v1/connections/${options.issuance.connectionId}/credentials`, workerHeaders, JSON.stringify({ purpose: 'benchmark' }))
    }
    const captured: Record<keyof typeof operations, Array<ReturnType<typeof capture.take>>> = { mint: [], issuance: [] }
    try {
      for (const name of ['mint', 'issuance'] as const) {
        // One first, unrecorded: whatever a process does once per token or per route.
        const first = await operations[name]()
        if (first.status !== 201) throw new Error(`${name} through the SQL capture: ${first.status} ${first.body.slice(0, 300)}`)
        for (let i = 0; i < CAPTURES; i++) {
          capture.take()
          const answer = await operations[name]()
          if (answer.status !== 201) throw new Error(`${name} through the SQL capture: ${answer.status} ${answer.body.slice(0, 300)}`)
          captured[name].push(capture.take())
        }
      }
    } finally {
      client.close()
      await stopChild(deputy.child)
    }
    const summary = (windows: Array<ReturnType<typeof capture.take>>): CapturedOperation => ({
      roundTrips: windows.map((w) => w.roundTrips),
      statements: (windows[0]?.statements ?? []).map(abbreviate)
    })
    return { mint: summary(captured.mint), issuance: summary(captured.issuance), mintStatements: captured.mint.map((w) => w.statements) }
  } finally {
    await capture.close()
  }
}
