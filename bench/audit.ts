// `npm run bench:audit`: goal 3 alone (audit queries over a COPY-seeded trail, with EXPLAIN),
// for working on the audit queries and their indexes without the whole run. Prints the goal's
// rows and section; bench/RESULTS.md is written only by `npm run bench`, so this writes a file
// only when BENCH_RESULTS_FILE names one. Knobs: bench/config.ts (BENCH_AUDIT_EVENTS and friends).
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadBenchConfig } from './config.js'
import { postgresVersion } from './database.js'
import { baseEnv, runToEnd } from './processes.js'
import { auditGoalRows, renderAuditSection } from './report-audit.js'
import { machine } from './report.js'
import { runAuditGoal } from './scenarios/audit-goal.js'
import { createBenchSession } from './session.js'

const config = loadBenchConfig({ ...process.env, BENCH_RESULTS_FILE: process.env.BENCH_RESULTS_FILE ?? 'none' })
const session = createBenchSession()
const startedAt = new Date()
let exitCode = 0
try {
  session.say(`logs of the servers under ${session.logDir}`)
  const env = baseEnv()
  if (!config.skipBuild) {
    session.say('building deputy (tsc -p tsconfig.build.json)')
    await runToEnd('build', process.execPath, [join(config.root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], env, config.root)
  }
  const postgres = await postgresVersion(config.adminUrl)
  const result = await runAuditGoal({ config, session, env, adminToken: `dpt_bench-${randomBytes(24).toString('base64url')}` })
  const rows = auditGoalRows(result, config)
  const text = [
    `Measured ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC by \`npm run bench:audit\` on ${machine()}; Node ${process.version}; ${postgres}.`,
    ...(config.setupSql === undefined ? [] : ['', `**Not the schema as migrated**: BENCH_SETUP_SQL ran after the migrations: \`${config.setupSql}\`.`]),
    '',
    '| goal | target | measured | verdict |',
    '|---|---|---|---|',
    ...rows.map((g) => `| ${g.goal} | ${g.target} | ${g.measured} | ${g.verdict} |`),
    '',
    renderAuditSection(result)
  ].join('\n')
  process.stdout.write(`${text}\n`)
  const problems = [
    ...result.queries.shapes.filter((shape) => shape.result.errors > 0).map((shape) => `${shape.result.label}: ${shape.result.errors} errors: ${shape.result.errorSamples.join(' | ')}`),
    ...(result.integrity?.ok === false ? [`deputy's integrity check failed on the seeded trail (${result.integrity.reason ?? '?'})`] : [])
  ]
  if (problems.length > 0) {
    exitCode = 1
    session.say(`FAILED: ${problems.join('\n  ')}`)
  }
  if (config.resultsFile !== undefined) {
    writeFileSync(config.resultsFile, `${text}\n`)
    session.say(`wrote ${config.resultsFile}`)
  }
} catch (error) {
  exitCode = 1
  session.say(`FAILED: ${error instanceof Error ? error.stack ?? error.message : String(error)}`)
  session.say(`server logs: ${session.logDir}`)
}
await session.cleanUp().catch((error: unknown) => {
  exitCode = 1
  session.say(`cleaning up failed: ${String(error)}`)
})
process.exit(exitCode)
