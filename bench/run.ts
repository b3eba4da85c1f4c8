// `npm run bench`: the measurements of issue 9 in one run on one machine. Builds deputy, makes a
// fresh PostgreSQL database and migrates it with `deputy migrate`, starts the STS emulator, then
//   goal 4: cold starts of `node bin/deputy.js serve` to /readyz 200 (the last one stays up),
//   goal 1: mints through deputy and through the floor server at the same concurrency,
//   goal 2: issuance through deputy against the same AssumeRole sent straight with the SDK,
//   scale-out: mints with 1 and 2 deputy processes, round trips per operation, pgbench of a mint,
//   goal 3: audit queries over a COPY-seeded trail (a database of its own), with EXPLAIN,
// checks the database after each load phase, prints the tables, rewrites bench/RESULTS.md, and
// stops everything and drops the databases. Exits 1 when any phase saw an error or a duplicate.
// Knobs: bench/config.ts (BENCH_SECONDS and friends).
import { randomBytes } from 'node:crypto'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { createCustomer, json } from './api.js'
import { loadBenchConfig } from './config.js'
import { createMigratedDatabase, postgresVersion } from './database.js'
import { deputyEnv } from './deputy.js'
import { baseEnv, freePort, memoryOf, runToEnd, startChild, stopChild, waitReady } from './processes.js'
import { printReport, writeResults, type BenchReport } from './report.js'
import { runAuditGoal } from './scenarios/audit-goal.js'
import { measureColdStarts } from './scenarios/cold-start.js'
import { runIssuancePhase, VENDOR_ARN } from './scenarios/issuance.js'
import { runReusePhase } from './scenarios/issuance-reuse.js'
import { runMintPhase } from './scenarios/mint.js'
import { runScaleOut } from './scenarios/scale-out.js'
import { createBenchSession } from './session.js'

const config = loadBenchConfig()
const startedAt = new Date()
const loadBefore = loadavg()[0] ?? 0
const t0 = performance.now()
const session = createBenchSession()
const { say, logDir } = session

async function main (): Promise<BenchReport> {
  say(`logs of the servers under ${logDir}`)
  if (loadBefore > 0.5) say(`the machine is busy (1-minute load average ${loadBefore.toFixed(2)}): the numbers will say so`)
  const env = baseEnv()
  let buildMs: number | undefined
  if (!config.skipBuild) {
    say('building deputy (tsc -p tsconfig.build.json)')
    buildMs = await runToEnd('build', process.execPath, [join(config.root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], env, config.root)
  }
  const postgres = await postgresVersion(config.adminUrl)
  // deputy's database, and one for the floor server with the same migrations: each starts its
  // mints on an empty external_ids table (a mint's cost grows with it, see RESULTS.md).
  const createMigrated = async () => {
    const made = await createMigratedDatabase({ adminUrl: config.adminUrl, root: config.root, env, setupSql: config.setupSql })
    session.database(made.db)
    return made
  }
  const { db, migrateMs } = await createMigrated()
  const { db: floorDb } = await createMigrated()

  const stsPort = await freePort()
  const emulator = session.child(startChild('sts-emulator', ['--import', 'tsx', 'bench/support/emulator.ts'], { ...env, PORT: String(stsPort) }, join(logDir, 'sts-emulator.log'), config.root))
  const stsUrl = `http://127.0.0.1:${stsPort}`
  await waitReady(emulator, `${stsUrl}/_emulator/calls`, performance.now())
  const vendorKeys = await json<{ accessKeyId: string, secretAccessKey: string }>(`${stsUrl}/_emulator/users`, { body: { arn: VENDOR_ARN } })

  const adminToken = `dpt_bench-${randomBytes(24).toString('base64url')}`
  const aws = { vendorArn: VENDOR_ARN, stsUrl, keys: vendorKeys }
  say(`goal 4: ${config.coldStarts} cold starts of deputy`)
  const cold = await measureColdStarts({ root: config.root, logDir, starts: config.coldStarts, env: deputyEnv(env, config, db.url, adminToken, aws) })
  session.child(cold.deputy)
  say(`cold starts ${cold.runsMs.join(', ')} ms; idle RSS ${cold.idle.rssMiB} MiB`)

  const floorPort = await freePort()
  const floor = session.child(startChild('floor', ['--import', 'tsx', 'bench/floor-server.ts'], { ...env, DATABASE_URL: floorDb.url, DATABASE_POOL_SIZE: String(config.poolSize), PORT: String(floorPort) }, join(logDir, 'floor.log'), config.root))
  const floorUrl = `http://127.0.0.1:${floorPort}`
  await waitReady(floor, `${floorUrl}/readyz`, performance.now())

  say(`goal 1: mints at c=${config.mintConcurrency}, ${config.seconds} s each (after ${config.warmupSeconds} s of warm-up)`)
  // The floor does no authentication and has no customers route: its customer is a row.
  const [floorCustomer] = await floorDb.query<{ id: string }>("INSERT INTO customers (name) VALUES ('bench floor') RETURNING id")
  if (floorCustomer === undefined) throw new Error('could not create the floor\'s customer')
  const deputyCustomer = await createCustomer(cold.url, adminToken, 'bench deputy')
  const [floorRun, deputyRun] = await runMintPhase({
    targets: [
      { name: 'floor', url: floorUrl, pid: floor.pid, customerId: floorCustomer.id, db: floorDb },
      { name: 'deputy', url: cold.url, pid: cold.deputy.pid, customerId: deputyCustomer.id, db }
    ],
    token: adminToken,
    concurrency: config.mintConcurrency,
    seconds: config.seconds,
    warmupSeconds: config.warmupSeconds
  })
  if (floorRun === undefined || deputyRun === undefined) throw new Error('the mint phase returned no result')
  const afterMint = memoryOf(cold.deputy.pid)
  const floorAfterMint = memoryOf(floor.pid)
  await stopChild(floor)

  say(`goal 2: issuance, ${config.issueRequests} requests at c=1, then ${config.seconds} s at c=${config.issueConcurrency}`)
  const issuance = await runIssuancePhase({
    deputyUrl: cold.url,
    deputyPid: cold.deputy.pid,
    emulatorPid: emulator.pid,
    adminToken,
    stsUrl,
    vendorKeys,
    requests: config.issueRequests,
    concurrency: config.issueConcurrency,
    seconds: config.seconds,
    warmupSeconds: config.warmupSeconds,
    db
  })
  const afterIssuance = memoryOf(cold.deputy.pid)
  await session.drop(floorDb)

  say(`issue 18: issuance with reuse (CREDENTIAL_REUSE=on, a deputy of its own) against direct SDK calls at c=${config.issueConcurrency}, ${config.seconds} s each, alternated 3 times`)
  const reuse = await runReusePhase({
    root: config.root,
    logDir,
    env: deputyEnv(env, config, db.url, adminToken, aws),
    adminToken,
    stsUrl,
    vendorKeys,
    setup: issuance.setup,
    concurrency: config.issueConcurrency,
    seconds: config.seconds,
    db,
    say
  })

  const scaleOut = config.skipScaleOut
    ? undefined
    : await runScaleOut({ config, session, env, db, adminToken, deputy: { child: cold.deputy, url: cold.url }, aws, issuance: issuance.setup })
  // Goal 3 last, with nothing else running: its database is large, and only deputy on it is measured.
  await stopChild(cold.deputy)
  await stopChild(emulator)
  await session.drop(db)
  const audit = config.skipAudit ? undefined : await runAuditGoal({ config, session, env, adminToken })

  return {
    startedAt,
    loadBefore,
    durationS: 0,
    postgres,
    config,
    buildMs,
    migrateMs,
    coldStart: { runsMs: cold.runsMs, startServerMs: cold.startServerMs, slowestMs: cold.slowestMs, medianMs: cold.medianMs, idle: cold.idle },
    memory: { afterMint, afterIssuance, floorAfterMint },
    mint: { floor: floorRun, deputy: deputyRun },
    issuance,
    reuse,
    scaleOut,
    audit
  }
}

/** Why the run must not count: errors seen by the load generator or found in the database. */
function failures (r: BenchReport): string[] {
  const found: string[] = []
  const results = [r.mint.floor.result, r.mint.deputy.result, r.issuance.oneAtATime.direct, r.issuance.oneAtATime.deputy, r.issuance.concurrent.direct, r.issuance.concurrent.deputy]
  for (const result of results) {
    if (result.errors > 0) found.push(`${result.label}: ${result.errors} errors (${JSON.stringify(result.answers)}): ${result.errorSamples.join(' | ')}`)
  }
  for (const run of [r.mint.floor, r.mint.deputy]) {
    for (const problem of run.check.problems) found.push(`mint via ${run.target}, in SQL: ${problem}`)
  }
  for (const problem of r.issuance.check.problems) found.push(`issuance, in SQL: ${problem}`)
  for (const result of r.reuse.rounds.flatMap((round) => [round.direct, round.reuse])) {
    if (result.errors > 0) found.push(`${result.label}: ${result.errors} errors (${JSON.stringify(result.answers)}): ${result.errorSamples.join(' | ')}`)
  }
  if (r.scaleOut !== undefined) {
    for (const result of [r.scaleOut.mint.one, r.scaleOut.mint.two, ...(r.scaleOut.issuance === undefined ? [] : [r.scaleOut.issuance.two])]) {
      if (result.errors > 0) found.push(`${result.label}: ${result.errors} errors (${JSON.stringify(result.answers)}): ${result.errorSamples.join(' | ')}`)
    }
    for (const problem of r.scaleOut.mint.check.problems) found.push(`scale-out mints, in SQL: ${problem}`)
  }
  if (r.audit?.integrity?.ok === false) found.push(`goal 3: deputy's integrity check failed on the seeded trail (${r.audit.integrity.reason ?? '?'})`)
  for (const shape of r.audit?.queries.shapes ?? []) {
    if (shape.result.errors > 0) found.push(`${shape.result.label}: ${shape.result.errors} errors: ${shape.result.errorSamples.join(' | ')}`)
  }
  return found
}

let exitCode = 0
try {
  const report = await main()
  await session.cleanUp()
  report.durationS = (performance.now() - t0) / 1000
  printReport(report)
  const found = failures(report)
  if (found.length > 0) {
    exitCode = 1
    say(`FAILED: this run does not count, ${config.resultsFile ?? 'no results file'} left as it was:\n  ${found.join('\n  ')}`)
  } else if (config.resultsFile !== undefined) {
    writeResults(config.resultsFile, report)
    say(`wrote ${config.resultsFile}`)
  }
  say(`done in ${Math.round(report.durationS)} s`)
} catch (error) {
  exitCode = 1
  say(`FAILED: ${error instanceof Error ? error.stack ?? error.message : String(error)}`)
  say(`server logs: ${logDir}`)
  await session.cleanUp().catch((cleanupError: unknown) => say(`cleaning up failed too: ${String(cleanupError)}`))
}
process.exit(exitCode)
