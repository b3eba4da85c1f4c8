// The scale-out part of the report: its row of the goals table, and the capacity model worked
// out from the run's own numbers (CPU per mint in deputy and in PostgreSQL, round trips per
// operation, pgbench of a mint's statements).
import { cpus } from 'node:os'
import type { LoadResult } from './load.js'
import type { GoalRow } from './report.js'
import type { ScaleOutResult } from './scenarios/scale-out.js'

const cores = cpus().length
const ms = (value: number): string => (Number.isFinite(value) ? value.toFixed(2) : '?')
/** CPU milliseconds per operation from a CPU share (% of one core) and a rate (per second). */
const cpuMsPer = (percent: number | undefined, rps: number): number => (percent === undefined || rps === 0 ? Number.NaN : percent * 10 / rps)
const trips = (list: number[]): string => (new Set(list).size === 1 ? String(list[0]) : list.join(' / '))
const roundTrips = (list: number[]): string => `${trips(list)} round trip${list.every((n) => n === 1) ? '' : 's'}`

export function scaleOutRow (s: ScaleOutResult | undefined): GoalRow {
  const target = '1 vs 2 replicas; shared rate limits; PgBouncer; capacity model'
  if (s === undefined) return { goal: 'Scale-out', target, measured: 'skipped (BENCH_SKIP_SCALE_OUT)', verdict: 'not measured yet' }
  const { one, two } = s.mint
  const best = 'runs' in s.pgbench ? Math.max(...s.pgbench.runs.map((run) => run.tps)) : undefined
  return {
    goal: 'Scale-out',
    target,
    measured: `mints with 2 deputy processes ${two.rps}/s vs 1: ${one.rps}/s (**${(two.rps / Math.max(1, one.rps)).toFixed(2)}×**) on this machine; ` +
      `${roundTrips(s.capture.mint.roundTrips)} per mint, ${trips(s.capture.issuance.roundTrips)} per issuance; ` +
      (best === undefined ? 'pgbench failed (see below)' : `PostgreSQL alone runs a mint's statements at ${best}/s (pgbench)`) +
      '; capacity model below. Shared rate limits and PgBouncer: not measured by the benchmark',
    verdict: 'reported'
  }
}

export function renderScaleOutSection (s: ScaleOutResult, floor: LoadResult, config: { poolSize: number, mintConcurrency: number, seconds: number }, loadBefore: number): string {
  const { one, two } = s.mint
  const row = (label: string, result: LoadResult): string =>
    `| ${label} | ${result.concurrency} | ${result.requests} | ${result.rps} | ${ms(result.p50)} | ${ms(result.p99)} | ${result.errors} | ${result.cpu?.server ?? '?'} % | ${result.cpu?.postgres ?? '?'} % | ${result.cpu?.loadGenerator ?? '?'} % |`
  const deputyMs = cpuMsPer(one.cpu?.server, one.rps)
  const pgViaDeputyMs = cpuMsPer(one.cpu?.postgres, one.rps)
  const pgFloorMs = cpuMsPer(floor.cpu?.postgres, floor.rps)
  const runs = 'runs' in s.pgbench ? s.pgbench.runs : []
  const best = [...runs].sort((a, b) => b.tps - a.tps)[0]
  const pgBenchMs = best === undefined ? Number.NaN : cpuMsPer(best.cpu.postgres, best.tps)
  const perCore = (cpuMs: number): string => (Number.isFinite(cpuMs) && cpuMs > 0 ? String(Math.round(1000 / cpuMs)) : '?')
  const lines = [
    '### Scale-out and capacity',
    '',
    `Mints at c=${config.mintConcurrency} for ${config.seconds} s against one deputy process, then against two on the same database (a second \`deputy serve\`, the load generator alternating between them as a load balancer would), each with a pool of ${config.poolSize}; CPU in % of one core, deputy's column summing both processes.`,
    '',
    '| phase | concurrency | requests | req/s | p50 ms | p99 ms | errors | deputy CPU | PostgreSQL CPU | load generator CPU |',
    '|---|---|---|---|---|---|---|---|---|---|',
    row('mints, 1 deputy', one),
    row('mints, 2 deputies', two),
    ...(s.issuance === undefined ? [] : [row('issuance, 2 deputies', s.issuance.two)]),
    '',
    `Checked in SQL: ${s.mint.check.rows} external IDs minted across both phases, ${s.mint.check.distinctValues} distinct values, ${s.mint.check.auditEvents} \`external_id.minted\` events${s.mint.check.problems.length > 0 ? `; **${s.mint.check.problems.join('; ')}**` : ', nothing duplicated or unaudited'}.`,
    '',
    'Round trips to PostgreSQL per operation, counted off the wire (each Sync or simple query waits for the server), one operation at a time after a first one per token:',
    '',
    `- A mint: **${roundTrips(s.capture.mint.roundTrips)}**, ${s.capture.mint.statements.length} statement(s):`,
    ...s.capture.mint.statements.map((sql) => `  - \`${sql}\``),
    `- An issuance: **${roundTrips(s.capture.issuance.roundTrips)}**, ${s.capture.issuance.statements.length} statement(s) (plus the AssumeRole to STS):`,
    ...s.capture.issuance.statements.map((sql) => `  - \`${sql}\``),
    ''
  ]
  if ('error' in s.pgbench) {
    lines.push(`pgbench of a mint's statements did not run: ${s.pgbench.error.split('\n')[0] ?? ''}`, '')
  } else {
    lines.push(
      `pgbench replaying those mint statements (${s.pgbench.notes.join('; ')}), \`-M extended\`, no deputy in between:`,
      '',
      '| clients | seconds | transactions | tps | latency avg ms | failed | PostgreSQL CPU | pgbench CPU |',
      '|---|---|---|---|---|---|---|---|',
      ...runs.map((run) => `| ${run.clients} | ${run.seconds} | ${run.transactions} | **${run.tps}** | ${ms(run.latencyMs)} | ${run.failed} | ${run.cpu.postgres} % | ${run.cpu.server} % |`),
      '',
      '<details><summary>The pgbench script</summary>',
      '',
      '```sql',
      s.pgbench.script.trim(),
      '```',
      '',
      '</details>',
      ''
    )
  }
  lines.push(
    '#### Capacity model (from the numbers above)',
    '',
    `- **Per replica**: one deputy process minted ${one.rps}/s using ${ms(deputyMs)} ms of its own CPU per mint, so a replica with one core to itself tops out near ${perCore(deputyMs)} mints/s at today's code.`,
    `- **Database cost per mint**: ${ms(pgViaDeputyMs)} ms of PostgreSQL CPU per mint through deputy (${roundTrips(s.capture.mint.roundTrips)}), ${ms(pgBenchMs)} ms under pgbench with the same statements, against ${ms(pgFloorMs)} ms for the floor server's single statement.`,
    `- **Where the database saturates**: PostgreSQL ran deputy's mint statements at ${best?.tps ?? '?'}/s under pgbench, using ${best?.cpu.postgres ?? '?'} % CPU on a machine it shared with pgbench: about ${perCore(pgBenchMs)} mints/s per core it has to itself. ` +
      `A database host with N such cores saturates near N × ${perCore(pgBenchMs)} mints/s: one database core keeps up with about ${Number.isFinite(pgBenchMs) && Number.isFinite(deputyMs) && pgBenchMs > 0 ? (deputyMs / pgBenchMs).toFixed(1) : '?'} deputy replicas that each have a core.`,
    `- **On this machine**: two deputy processes gave ${(two.rps / Math.max(1, one.rps)).toFixed(2)}× one. Both replicas, PostgreSQL and the load generator share the same ${cores} cores (1-minute load average ${loadBefore.toFixed(2)} before the run), so a second process cannot add CPU here: the replicas used ${two.cpu?.server ?? '?'} % together (one alone: ${one.cpu?.server ?? '?'} %), PostgreSQL ${two.cpu?.postgres ?? '?'} % (${one.cpu?.postgres ?? '?'} %). What two replicas show here is that they share one database correctly (the SQL check above); replicas add throughput when each has cores of its own, up to the database's figure.`,
    ''
  )
  return lines.join('\n')
}
