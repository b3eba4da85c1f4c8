// `npm run bench`: the measurements of issue 9 in one run on one machine. Builds deputy, makes a
// fresh PostgreSQL database and migrates it with `deputy migrate`, starts the STS emulator, then
//   goal 4: cold starts of `node bin/deputy.js serve` to /readyz 200 (the last one stays up),
//   goal 1: mints through deputy and through the floor server at the same concurrency,
//   goal 2: issuance through deputy against the same AssumeRole sent straight with the SDK,
// checks the database after each load phase, prints the tables, rewrites bench/RESULTS.md, and
// stops everything and drops the database. Exits 1 when any phase saw an error or a duplicate.
// Knobs: bench/config.ts (BENCH_SECONDS and friends).
import { randomBytes } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createCustomer, json } from './api.js'
import { loadBenchConfig } from './config.js'
import { createBenchDatabase, postgresVersion, type BenchDatabase } from './database.js'
import { baseEnv, freePort, memoryOf, runToEnd, startChild, stopChild, waitReady, type Child } from './processes.js'
import { printReport, writeResults, type BenchReport } from './report.js'
import { measureColdStarts } from './scenarios/cold-start.js'
import { runIssuancePhase, VENDOR_ARN } from './scenarios/issuance.js'
import { runMintPhase } from './scenarios/mint.js'

const config = loadBenchConfig()
const startedAt = new Date()
const loadBefore = loadavg()[0] ?? 0
const t0 = performance.now()
const logDir = mkdtempSync(join(tmpdir(), 'deputy-bench-'))
const children: Child[] = []
const databases: BenchDatabase[] = []
const say = (message: string): void => { process.stderr.write(`bench: ${message}\n`) }

async function cleanUp (): Promise<void> {
  await Promise.all(children.map((child) => stopChild(child)))
  for (const db of databases.splice(0)) {
    await db.drop()
    say(`dropped database ${db.name}`)
  }
}

// Ctrl-C: stop the servers and drop the database before leaving.
process.once('SIGINT', () => {
  say('interrupted; cleaning up')
  cleanUp().finally(() => process.exit(130))
})

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
  const createMigrated = async (): Promise<{ db: BenchDatabase, migrateMs: number }> => {
    const db = await createBenchDatabase(config.adminUrl)
    databases.push(db)
    say(`created database ${db.name}`)
    const migrateMs = await runToEnd('deputy migrate', process.execPath, ['bin/deputy.js', 'migrate'], { ...env, DATABASE_URL: db.url, LOG_LEVEL: 'warn' }, config.root)
    if (config.setupSql !== undefined) await db.query(config.setupSql)
    return { db, migrateMs }
  }
  const { db, migrateMs } = await createMigrated()
  const { db: floorDb } = await createMigrated()

  const stsPort = await freePort()
  const emulator = startChild('sts-emulator', ['--import', 'tsx', 'bench/support/emulator.ts'], { ...env, PORT: String(stsPort) }, join(logDir, 'sts-emulator.log'), config.root)
  children.push(emulator)
  const stsUrl = `http://127.0.0.1:${stsPort}`
  await waitReady(emulator, `${stsUrl}/_emulator/calls`, performance.now())
  const vendorKeys = await json<{ accessKeyId: string, secretAccessKey: string }>(`${stsUrl}/_emulator/users`, { body: { arn: VENDOR_ARN } })

  const adminToken = `dpt_bench-${randomBytes(24).toString('base64url')}`
  say(`goal 4: ${config.coldStarts} cold starts of deputy`)
  const cold = await measureColdStarts({
    root: config.root,
    logDir,
    starts: config.coldStarts,
    env: {
      ...env,
      DATABASE_URL: db.url,
      DATABASE_POOL_SIZE: String(config.poolSize),
      LOG_LEVEL: config.deputyLogLevel,
      DEPUTY_BOOTSTRAP_ADMIN_TOKEN: adminToken,
      RATE_LIMIT_MAX: '1000000',
      VENDOR_PRINCIPAL_ARN: VENDOR_ARN,
      AWS_ENDPOINT_URL_STS: stsUrl,
      AWS_ACCESS_KEY_ID: vendorKeys.accessKeyId,
      AWS_SECRET_ACCESS_KEY: vendorKeys.secretAccessKey,
      AWS_REGION: 'us-east-1'
    }
  })
  children.push(cold.deputy)
  say(`cold starts ${cold.runsMs.join(', ')} ms; idle RSS ${cold.idle.rssMiB} MiB`)

  const floorPort = await freePort()
  const floor = startChild('floor', ['--import', 'tsx', 'bench/floor-server.ts'], { ...env, DATABASE_URL: floorDb.url, DATABASE_POOL_SIZE: String(config.poolSize), PORT: String(floorPort) }, join(logDir, 'floor.log'), config.root)
  children.push(floor)
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
    issuance
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
  return found
}

let exitCode = 0
try {
  const report = await main()
  await cleanUp()
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
  await cleanUp().catch((cleanupError: unknown) => say(`cleaning up failed too: ${String(cleanupError)}`))
}
process.exit(exitCode)
