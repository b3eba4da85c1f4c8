// Goal 3's part of the report: its rows of the goals table, and its own section (the seeded
// trail, latency per query shape, page 1 against page 1,000, and EXPLAIN of the SQL deputy ran).
import type { BenchConfig } from './config.js'
import type { GoalRow } from './report.js'
import type { AuditGoalResult } from './scenarios/audit-goal.js'

/** The goal's size: fewer events measure the harness, not the goal. */
export const GOAL_EVENTS = 5_000_000
const P95_TARGET_MS = 20
/** Page 1,000 counts as "as fast" with a p50 within 20 % of page 1's, or 2 ms (noise on a shared machine). */
const DEPTH_TOLERANCE = 0.2
const DEPTH_SLACK_MS = 2

const ms = (value: number): string => value.toFixed(2)
const count = (n: number): string => n.toLocaleString('en-US')

export const deepAsFast = (first: number, deep: number): boolean => deep <= Math.max(first * (1 + DEPTH_TOLERANCE), first + DEPTH_SLACK_MS)

export function auditGoalRows (a: AuditGoalResult | undefined, config: BenchConfig): GoalRow[] {
  if (a === undefined) {
    return [{ goal: '3. Audit queries over 5 million events', target: 'p95 ≤ 20 ms; page 1,000 as fast as page 1; EXPLAIN', measured: 'skipped (BENCH_SKIP_AUDIT)', verdict: 'not measured yet' }]
  }
  const full = a.trail.events >= GOAL_EVENTS
  const sized = (verdict: boolean): GoalRow['verdict'] => (full ? (verdict ? 'met' : 'missed') : 'reported')
  const shapes = a.queries.shapes
  const worst = [...shapes].sort((x, y) => y.result.p95 - x.result.p95)[0]
  const over = shapes.filter((s) => s.result.p95 > P95_TARGET_MS || s.result.errors > 0)
  const errors = shapes.reduce((sum, s) => sum + s.result.errors, 0)
  const slowDeep = a.queries.depth.filter((d) => !deepAsFast(d.first.p50, d.deep.p50))
  const shallow = a.queries.depth.filter((d) => d.page < config.auditPages)
  return [
    {
      goal: `3. Audit queries over ${count(a.trail.events)} events, p95`,
      target: `p95 ≤ ${P95_TARGET_MS} ms for each operator query${full ? '' : ` (the goal is over ${count(GOAL_EVENTS)}: BENCH_AUDIT_EVENTS=${a.trail.events})`}`,
      measured: `worst p95 **${ms(worst?.result.p95 ?? Number.NaN)} ms** (${worst?.key ?? '?'}) of ${shapes.length} query shapes, ${a.queries.shapes[0]?.result.requests ?? 0} requests each; ${errors} errors${over.length > 0 ? `; over the target: ${over.map((s) => `${s.key} ${ms(s.result.p95)} ms`).join(', ')}` : ''}`,
      verdict: sized(over.length === 0)
    },
    {
      goal: '3. Page 1,000 as fast as page 1',
      target: `page ${count(config.auditPages)} p50 within ${DEPTH_TOLERANCE * 100} % (or ${DEPTH_SLACK_MS} ms) of page 1, keyset cursors followed`,
      measured: a.queries.depth.map((d) => `${d.key}: ${ms(d.first.p50)} → ${ms(d.deep.p50)} ms (page ${count(d.page)})`).join('; ') + (shallow.length > 0 ? `; fewer pages than ${config.auditPages} exist for ${shallow.map((d) => d.key).join(', ')}` : ''),
      verdict: sized(slowDeep.length === 0 && shallow.length === 0)
    }
  ]
}

export function renderAuditSection (a: AuditGoalResult, heading = '### Goal 3: audit queries'): string {
  const t = a.trail
  // PostgreSQL's own time for a request: the EXPLAIN ANALYZE execution times of its statements.
  const executionMs = (key: string): string => {
    const plans = a.explained.find((request) => request.key === key)?.statements.map((statement) => /Execution Time: ([\d.]+) ms/.exec(statement.plan)?.[1])
    return plans === undefined || plans.length === 0 ? '–' : ms(plans.reduce((sum, time) => sum + Number(time ?? Number.NaN), 0))
  }
  const perRequest = (percent: number | undefined, rps: number): string => (percent === undefined || rps === 0 ? '?' : ms(percent * 10 / rps))
  const shapeRows = a.queries.shapes.map((s) =>
    `| ${s.title} | \`${s.example}\` | ${s.result.requests} | ${ms(s.result.p50)} | **${ms(s.result.p95)}** | ${ms(s.result.p99)} | ${ms(s.result.max)} | ${s.result.errors} | ${s.emptyAnswers} | ${perRequest(s.result.cpu?.server, s.result.rps)} | ${perRequest(s.result.cpu?.postgres, s.result.rps)} | ${executionMs(s.key)} / ${s.slowest.path === s.example ? executionMs(s.key) : executionMs(`${s.key}-slowest`)} (${ms(s.slowest.ms)}) |`)
  const depthRows = a.queries.depth.map((d) =>
    `| ${d.title} | ${count(d.page)} | ${d.walk === undefined ? 'built from SQL' : `followed (p50 ${ms(d.walk.p50)}, max ${ms(d.walk.max)} ms a page)`} | ${ms(d.first.p50)} / ${ms(d.first.p95)} | ${ms(d.deep.p50)} / ${ms(d.deep.p95)} | ${deepAsFast(d.first.p50, d.deep.p50) ? 'yes' : '**no**'} |`)
  const explains = a.explained.flatMap((request) => [
    `#### ${request.title}`,
    '',
    `\`GET ${request.path}\`: ${request.statements.length} statement(s) on the audit tables, ${request.roundTrips} round trips in all.`,
    '',
    ...request.statements.flatMap((statement) => [
      '```sql',
      statement.withValues,
      '```',
      '',
      '```text',
      statement.plan,
      '```',
      ''
    ])
  ])
  return [
    heading,
    '',
    `- Seeded with COPY (bench/scenarios/audit-seed.ts): **${count(t.events)} events** from ${t.from.toISOString().slice(0, 10)} to ${t.to.toISOString().slice(0, 10)}, ` +
      `${count(t.customerCount)} customers (busiest ${count(t.busiestCustomer)} events, median ${count(t.medianCustomer)}), ${count(t.connectionCount)} connections; ` +
      `actions: ${t.actions.map((x) => `${x.action} ${count(x.events)}`).join(', ')}.`,
    `- Sealed as deputy seals: ${count(t.seals)} seals chaining every event, the events hashed as deputy's sealer hashes them (${t.hashesChecked} of them checked against its \`eventHash()\`), so the sealed horizon is the last event and deputy's sealer had nothing to do during the measurement. ` +
      (a.integrity === undefined
        ? 'deputy\'s own integrity check (`GET /v1/audit-events/integrity?full=true`) is run on trails of up to 100,000 events only (it rehashes every event).'
        : `deputy's own integrity check (\`GET /v1/audit-events/integrity?full=true\`): ${a.integrity.ok ? `**ok**, ${count(a.integrity.checkedEvents)} events rehashed` : `**failed** (${a.integrity.reason ?? '?'})`}.`),
    `- Seeding took ${(t.timings.total / 1000).toFixed(1)} s: COPY (FREEZE, indexes dropped) ${(t.timings.copy / 1000).toFixed(1)} s, the migrated indexes rebuilt ${(t.timings.indexes / 1000).toFixed(1)} s, ANALYZE ${(t.timings.analyze / 1000).toFixed(1)} s. Table ${count(t.tableMiB)} MiB, its indexes ${count(t.indexesMiB)} MiB. deputy's RSS after the queries: ${a.memory.rssMiB} MiB.`,
    '',
    'Each query shape: one request at a time through deputy\'s HTTP API (admin token, default page of 50), every request with other values (customers in proportion to their activity, 7-day windows anywhere in the span). CPU per request: the process\'s CPU time over the phase divided by its requests. The last column is PostgreSQL\'s execution time for the first measured request and for the slowest one, from their EXPLAIN ANALYZE below (run after the measurement): when the slowest request took far longer than its SQL, the time went elsewhere.',
    '',
    '| query | first measured request | requests | p50 ms | p95 ms | p99 ms | max ms | errors | empty pages | deputy CPU ms / request | PostgreSQL CPU ms / request | EXPLAIN ANALYZE ms: first / slowest request (its latency) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...shapeRows,
    '',
    `Page depth: page 1 and the deep page of the same query, timed alternately ${a.queries.depth[0]?.first.requests ?? 0} times each. One deep page is reached by following \`nextCursor\` from page 1; the others' cursors are built from the seq SQL finds at that depth with deputy's own encoding, checked against the followed one.`,
    '',
    '| query | deep page | its cursor | page 1 p50 / p95 ms | deep page p50 / p95 ms | as fast |',
    '|---|---|---|---|---|---|',
    ...depthRows,
    '',
    'The SQL deputy sent for each (read off the wire between deputy and PostgreSQL, bench/support/sql-capture.ts), run again with the same values under `EXPLAIN (ANALYZE, BUFFERS)` after the measurement:',
    '',
    ...explains
  ].join('\n')
}
