// Turns one run's measurements into the goals table of issue 9 (met / missed, with the ratio) and
// the per-phase table; prints them and rewrites the generated part of bench/RESULTS.md, keeping
// whatever was written by hand outside the markers.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, release, totalmem } from 'node:os'
import type { BenchConfig } from './config.js'
import type { MintCheck } from './database.js'
import type { LoadResult } from './load.js'
import type { Memory } from './processes.js'
import { auditGoalRows, renderAuditSection } from './report-audit.js'
import { renderScaleOutSection, scaleOutRow } from './report-scale.js'
import type { AuditGoalResult } from './scenarios/audit-goal.js'
import type { ColdStartResult } from './scenarios/cold-start.js'
import type { IssuanceResult } from './scenarios/issuance.js'
import type { ReuseResult } from './scenarios/issuance-reuse.js'
import type { MintRun } from './scenarios/mint.js'
import type { ScaleOutResult } from './scenarios/scale-out.js'

export interface BenchReport {
  startedAt: Date
  /** 1-minute load average just before the run: anything else busy on the machine shows here. */
  loadBefore: number
  durationS: number
  postgres: string
  config: BenchConfig
  buildMs: number | undefined
  migrateMs: number
  coldStart: Omit<ColdStartResult, 'deputy' | 'url'>
  memory: { afterMint: Memory, afterIssuance: Memory, floorAfterMint: Memory }
  mint: { floor: MintRun, deputy: MintRun }
  issuance: IssuanceResult
  /** Issue 18: issuance with CREDENTIAL_REUSE=on against direct SDK calls. */
  reuse: ReuseResult
  /** Undefined when skipped (BENCH_SKIP_SCALE_OUT, BENCH_SKIP_AUDIT). */
  scaleOut: ScaleOutResult | undefined
  audit: AuditGoalResult | undefined
}

export type Verdict = 'met' | 'missed' | 'reported' | 'not measured yet'

export interface GoalRow { goal: string, target: string, measured: string, verdict: Verdict }

const BEGIN = '<!-- bench:begin (written by `npm run bench`, bench/report.ts; edit outside these markers) -->'
const END = '<!-- bench:end -->'

const ms = (value: number): string => value.toFixed(2)
const ratio = (a: number, b: number): number => (b === 0 ? 0 : a / b)
const cleanMint = (check: MintCheck, result: LoadResult): boolean => result.errors === 0 && check.problems.length === 0

export function machine (): string {
  const cpu = cpus()
  const model = readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.+)$/m)?.[1] ?? cpu[0]?.model ?? 'unknown CPU'
  const os = existsSync('/etc/os-release') ? /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] : undefined
  return `${cpu.length} × ${model}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, ${os ?? 'Linux'} (kernel ${release()})`
}

export function goals (r: BenchReport): GoalRow[] {
  const { floor, deputy } = r.mint
  const mintRatio = ratio(deputy.result.rps, floor.result.rps)
  const one = r.issuance.oneAtATime
  const many = r.issuance.concurrent
  const addedP50 = one.deputy.p50 - one.direct.p50
  const addedP99 = one.deputy.p99 - one.direct.p99
  const issueRatio = ratio(many.deputy.rps, many.direct.rps)
  const mintErrors = deputy.result.errors + floor.result.errors
  const mintProblems = [...deputy.check.problems, ...floor.check.problems]
  const c = r.config
  return [
    {
      goal: '1. Mint throughput vs the floor',
      target: `≥ 0.6× the floor, c=${c.mintConcurrency}`,
      measured: `${deputy.result.rps}/s vs ${floor.result.rps}/s: **${mintRatio.toFixed(2)}×**`,
      verdict: mintRatio >= 0.6 ? 'met' : 'missed'
    },
    {
      goal: '1. Mints: errors and duplicates',
      target: '0 errors, 0 duplicates (SQL)',
      measured: `${mintErrors} errors; ${deputy.check.rows} + ${floor.check.rows} rows, ${deputy.check.distinctValues} + ${floor.check.distinctValues} distinct values, every row audited${mintProblems.length > 0 ? `; ${mintProblems.join('; ')}` : ''}`,
      verdict: cleanMint(deputy.check, deputy.result) && cleanMint(floor.check, floor.result) ? 'met' : 'missed'
    },
    {
      goal: '2. Issuance latency added, c=1, p50',
      target: '≤ +2 ms over direct SDK',
      measured: `**+${ms(addedP50)} ms** (${ms(one.deputy.p50)} vs ${ms(one.direct.p50)} ms)`,
      verdict: addedP50 <= 2 ? 'met' : 'missed'
    },
    {
      goal: '2. Issuance latency added, c=1, p99',
      target: '≤ +10 ms over direct SDK',
      measured: `**+${ms(addedP99)} ms** (${ms(one.deputy.p99)} vs ${ms(one.direct.p99)} ms)`,
      verdict: addedP99 <= 10 ? 'met' : 'missed'
    },
    {
      goal: `2. Issuance throughput, c=${c.issueConcurrency}`,
      target: '≥ 0.6× direct SDK',
      measured: `${many.deputy.rps}/s vs ${many.direct.rps}/s: **${issueRatio.toFixed(2)}×**`,
      verdict: issueRatio >= 0.6 ? 'met' : 'missed'
    },
    {
      goal: `Issue 18: issuance with reuse, c=${r.reuse.concurrency}`,
      target: '≥ 2× direct SDK (a hand-out needs no STS call)',
      measured: `median of ${r.reuse.rounds.length} alternated rounds **${r.reuse.medianRatio.toFixed(2)}×** (${r.reuse.rounds.map((round) => `${round.reuse.rps}/s vs ${round.direct.rps}/s = ${round.ratio.toFixed(2)}×`).join('; ')}); ${r.reuse.sessions} distinct sessions`,
      verdict: r.reuse.medianRatio >= 2 ? 'met' : 'missed'
    },
    {
      goal: 'Issue 18: STS calls per 1,000 requests with reuse',
      target: `≤ the distinct sessions (${r.reuse.sessions})`,
      measured: `**${r.reuse.stsCallsPerThousand.toFixed(2)}** (${r.reuse.warmUp.assumeRoleCalls} AssumeRole in the ${r.reuse.warmUp.requests}-request warm-up, ${r.reuse.rounds.map((round) => round.assumeRoleCalls).join(' + ')} in the rounds, over ${r.reuse.warmUp.requests + r.reuse.rounds.reduce((n, round) => n + round.reuse.requests, 0)} requests)`,
      verdict: r.reuse.stsCallsPerThousand <= r.reuse.sessions ? 'met' : 'missed'
    },
    ...auditGoalRows(r.audit, c),
    {
      goal: '4. Cold start to ready',
      target: '≤ 1 s, migrated PostgreSQL',
      measured: `slowest **${r.coldStart.slowestMs} ms** of ${r.coldStart.runsMs.length} (${r.coldStart.runsMs.join(', ')} ms; of which deputy's own startServer ${r.coldStart.startServerMs.map((v) => Number.isNaN(v) ? '?' : String(v)).join(', ')} ms, the rest Node and module loading)`,
      verdict: r.coldStart.slowestMs <= 1000 ? 'met' : 'missed'
    },
    {
      goal: '4. Memory (RSS)',
      target: 'idle and under load (no target)',
      measured: `idle ${r.coldStart.idle.rssMiB} MiB; after mints ${r.memory.afterMint.rssMiB} MiB; after issuance ${r.memory.afterIssuance.rssMiB} MiB; peak ${r.memory.afterIssuance.peakMiB} MiB`,
      verdict: 'reported'
    },
    scaleOutRow(r.scaleOut),
    {
      goal: 'Reliability',
      target: 'PostgreSQL restart, STS faults, soak, overload (`npm run test:reliability`)',
      measured: 'a test suite of its own, not part of this run: `npm run test:reliability` (README, "Reliability")',
      verdict: 'reported'
    }
  ]
}

function phaseRows (r: BenchReport): string[] {
  const cpu = (result: LoadResult): string => result.cpu === undefined ? '| | |' : `| ${result.cpu.server} % | ${result.cpu.postgres} % | ${result.cpu.loadGenerator} % |`
  const row = (phase: string, path: string, result: LoadResult): string =>
    `| ${phase} | ${path} | ${result.concurrency} | ${result.requests} | ${result.rps} | ${ms(result.p50)} | ${ms(result.p90)} | ${ms(result.p99)} | ${ms(result.max)} | ${result.errors} ${cpu(result)}`
  const { floor, deputy } = r.mint
  const one = r.issuance.oneAtATime
  const many = r.issuance.concurrent
  return [
    '| phase | path | concurrency | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | errors | server CPU | PostgreSQL CPU | load generator CPU |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    row(`mint, ${r.config.seconds} s`, 'floor server (Fastify + pg, one statement)', floor.result),
    row(`mint, ${r.config.seconds} s`, 'deputy', deputy.result),
    row(`issuance, ${r.config.issueRequests} requests`, 'SDK → emulator', one.direct),
    row(`issuance, ${r.config.issueRequests} requests`, 'deputy → SDK → emulator', one.deputy),
    row(`issuance, ${r.config.seconds} s`, 'SDK → emulator', many.direct),
    row(`issuance, ${r.config.seconds} s`, 'deputy → SDK → emulator', many.deputy),
    ...r.reuse.rounds.flatMap((round, i) => [
      row(`reuse round ${i + 1}, ${r.config.seconds} s`, 'SDK → emulator', round.direct),
      row(`reuse round ${i + 1}, ${r.config.seconds} s`, `deputy, CREDENTIAL_REUSE=on, ${r.reuse.sessions} sessions`, round.reuse)
    ])
  ]
}

export function renderGenerated (r: BenchReport): string {
  const c = r.config
  const rows = goals(r).map((g) => `| ${g.goal} | ${g.target} | ${g.measured} | ${g.verdict === 'met' ? '**met**' : g.verdict === 'missed' ? '**missed**' : g.verdict} |`)
  const { floor, deputy } = r.mint
  return [
    `Measured ${r.startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC by \`npm run bench\` (${Math.round(r.durationS)} s in all).`,
    '',
    `- Machine: ${machine()}. Load generator, deputy, the floor server, the STS emulator and PostgreSQL all share it (loopback).`,
    `- Node ${process.version}; ${r.postgres}, default settings. 1-minute load average before the run: ${r.loadBefore.toFixed(2)}.`,
    `- Settings: BENCH_SECONDS=${c.seconds} per phase after ${c.warmupSeconds} s of warm-up, mints at c=${c.mintConcurrency}, issuance ${c.issueRequests} requests at c=1 and c=${c.issueConcurrency}, ${c.coldStarts} cold starts; database pool ${c.poolSize} for deputy and the floor alike; deputy at LOG_LEVEL=${c.deputyLogLevel}, compiled (\`node bin/deputy.js serve\`).` +
      ` Goal 3: BENCH_AUDIT_EVENTS=${c.auditEvents} over ${c.auditCustomers} customers, ${c.auditRequests} requests per query shape, page ${c.auditPages} against page 1 (${c.auditRepeats} times each).` +
      ` Scale-out: 1 and 2 deputy processes${c.scaleIssuance ? ', issuance across both too' : ''}.`,
    ...(c.setupSql === undefined ? [] : [`- **Not the schema as migrated**: BENCH_SETUP_SQL ran after the migrations: \`${c.setupSql}\`.`]),
    `- Fresh databases \`deputy_bench_*\` (deputy's, and the floor's) migrated by \`deputy migrate\` in ${Math.round(r.migrateMs)} ms${r.buildMs === undefined ? '' : `; \`tsc -p tsconfig.build.json\` took ${(r.buildMs / 1000).toFixed(1)} s`}.`,
    '',
    '### Goals of issue 9',
    '',
    '| goal | target | measured | verdict |',
    '|---|---|---|---|',
    ...rows,
    '',
    '### Phases',
    '',
    ...phaseRows(r),
    '',
    'Latencies are measured by the load generator (request sent to answer read). CPU is user +',
    'system time during the measured phase in % of one core (the machine has ' + String(cpus().length * 100) + ' %): the server',
    'under test (the STS emulator for direct SDK calls; deputy\'s own STS calls land on the emulator',
    'too, which is not counted in its column), PostgreSQL (the backends of the bench\'s own databases and',
    'the server\'s shared processes; other databases\' backends on a shared server are left out), and the',
    'load generator.',
    '',
    '### Checked in SQL after the load',
    '',
    `- deputy's mints: ${deputy.check.rows} rows, ${deputy.check.distinctValues} distinct values, ${deputy.check.auditEvents} \`external_id.minted\` events, ${deputy.check.withoutAudit} rows without one.`,
    `- The floor's mints: ${floor.check.rows} rows, ${floor.check.distinctValues} distinct values, ${floor.check.auditEvents} \`external_id.minted\` events, ${floor.check.withoutAudit} rows without one.`,
    `- Issuance: ${r.issuance.check.issued} \`credentials.issued\` events for as many answers 201, ${r.issuance.check.distinctSessions} distinct session names, ${r.issuance.check.refused} refusals.`,
    `- Memory of the floor server after its mints: ${r.memory.floorAfterMint.rssMiB} MiB RSS.`,
    ...(r.scaleOut === undefined ? [] : ['', renderScaleOutSection(r.scaleOut, r.mint.floor.result, c, r.loadBefore)]),
    ...(r.audit === undefined ? [] : ['', renderAuditSection(r.audit)])
  ].join('\n')
}

export function printReport (r: BenchReport): void {
  const lines = goals(r).map((g) => `  ${g.verdict.padEnd(16)} ${g.goal}: ${g.measured.replaceAll('**', '')} (target ${g.target})`)
  process.stdout.write(`\n${phaseRows(r).join('\n')}\n\nGoals of issue 9 (${machine()}):\n${lines.join('\n')}\n\n`)
}

/** Replaces the generated block of `file` (or writes the file) and keeps the rest. */
export function writeResults (file: string, r: BenchReport): void {
  const block = `${BEGIN}\n${renderGenerated(r)}\n${END}`
  const existing = existsSync(file) ? readFileSync(file, 'utf8') : ''
  const start = existing.indexOf('<!-- bench:begin')
  const end = existing.indexOf(END)
  const text = start >= 0 && end > start
    ? `${existing.slice(0, start)}${block}${existing.slice(end + END.length)}`
    : `# Benchmark results\n\n${block}\n`
  writeFileSync(file, text)
}
