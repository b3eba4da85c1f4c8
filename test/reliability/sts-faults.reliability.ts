// STS misbehaving under steady load, one fault after another, injected through the emulator's
// /_emulator/faults route: a throttling storm, partial throttling, latency spikes past and below
// the call timeout, hung connections, 5xx. Every issuance and verification answers 2xx or 503
// sts_unavailable (problem+json, Retry-After) within STS_TIMEOUT_MS + STS_RETRY_BUDGET_MS (plus a
// margin for a loaded machine); none is stuck; no connection is marked failed, not by issuance,
// not by verification, not by the drift probes that run meanwhile; and once STS is well again,
// every request succeeds.
import pg from 'pg'
import t from 'tap'
import type { Fault } from '../../src/aws/sts-emulator/emulator.js'
import { RETRY_QUOTA } from '../../src/aws/sts-gateway.js'
import { createTestDatabase } from '../helpers/postgres.js'
import { answers, createHttpClient, latencies, startLoad, type Operation, type Sample } from './helpers/load.js'
import { sleep, startDeputy } from './helpers/processes.js'
import { ADMIN_TOKEN, api, buildScene, LOAD_ENV, startEmulator } from './helpers/scene.js'

const RATE = Number(process.env.RELIABILITY_STS_RATE ?? 20)
const PHASE_MS = Number(process.env.RELIABILITY_STS_PHASE_SECONDS ?? 8) * 1000
const STS_TIMEOUT_MS = 2000
const STS_RETRY_BUDGET_MS = 1500
/** The longest an issuance may take: a call may start until the budget is spent and last its timeout; plus a margin for a shared 2-core machine. */
const BOUND_MS = STS_TIMEOUT_MS + STS_RETRY_BUDGET_MS + 1500
/** A probe (verify) makes up to four such calls one after the other (with the external ID, GetCallerIdentity when that was allowed, without, with a wrong one). */
const PROBE_BOUND_MS = 4 * (STS_TIMEOUT_MS + STS_RETRY_BUDGET_MS) + 1500
/** Faults outlast their phase; they are cleared when it ends. */
const FAULT_MS = PHASE_MS + 60_000

interface Phase { name: string, faults: Fault[] }

const PHASES: Phase[] = [
  { name: 'no fault', faults: [] },
  { name: 'throttling storm (every AssumeRole)', faults: [{ kind: 'throttle', action: 'AssumeRole', durationMs: FAULT_MS }] },
  { name: 'partial throttling (half the calls)', faults: [{ kind: 'throttle', probability: 0.5, durationMs: FAULT_MS }] },
  { name: 'latency spikes (30 % at 3 s, past the timeout; 30 % at 800 ms)', faults: [{ kind: 'latency', latencyMs: 3000, probability: 0.3, durationMs: FAULT_MS }, { kind: 'latency', latencyMs: 800, probability: 0.43, durationMs: FAULT_MS }] },
  { name: 'hung connections (30 %)', faults: [{ kind: 'hang', probability: 0.3, durationMs: FAULT_MS }] },
  { name: 'hung connections (every call)', faults: [{ kind: 'hang', durationMs: FAULT_MS }] },
  { name: '5xx (InternalFailure and ServiceUnavailable, half the calls)', faults: [{ kind: 'server_error', probability: 0.25, durationMs: FAULT_MS }, { kind: 'unavailable', probability: 0.34, durationMs: FAULT_MS }] },
  { name: 'recovered', faults: [] }
]

t.test('STS faults under load: bounded, 503 with Retry-After, no connection failed', async (t) => {
  const databaseUrl = await createTestDatabase(t)
  const emulator = await startEmulator(t)
  const deputy = await startDeputy(t, {
    ...LOAD_ENV,
    ...emulator.env,
    DATABASE_URL: databaseUrl,
    STS_TIMEOUT_MS: String(STS_TIMEOUT_MS),
    STS_RETRY_BUDGET_MS: String(STS_RETRY_BUDGET_MS),
    // Drift probes run meanwhile (each connection once a minute): an unanswered probe must change nothing.
    DRIFT_INTERVAL_SECONDS: '60',
    DRIFT_TICK_MS: '1000',
    DRIFT_STS_CALLS_PER_MINUTE: '100000'
  }, 'sts')
  const scene = await buildScene(deputy.url, emulator, 4, 3)
  const connections = scene.flatMap((c) => c.connections)
  // Verifications on half of them; the other half is left to the drift scheduler (a verification
  // moves a connection's next drift probe a full interval away).
  const verified = connections.slice(0, connections.length / 2)
  const operations: Operation[] = [
    { name: 'issue', weight: 8, next: (i) => ({ method: 'POST', path: `/v1/connections/${connections[i % connections.length]?.id ?? ''}/credentials`, body: { purpose: `sts faults ${i}` } }) },
    { name: 'verify', weight: 1, next: (i) => ({ method: 'POST', path: `/v1/connections/${verified[i % verified.length]?.id ?? ''}/verify` }) },
    { name: 'read', weight: 1, next: (i) => ({ method: 'GET', path: `/v1/connections/${connections[i % connections.length]?.id ?? ''}` }) }
  ]
  const client = createHttpClient(deputy.url, ADMIN_TOKEN)
  t.teardown(() => client.close())
  t.comment(`rate ${RATE}/s (issue 8 : verify 1 : read 1), ${PHASE_MS / 1000} s per phase, STS_TIMEOUT_MS ${STS_TIMEOUT_MS}, STS_RETRY_BUDGET_MS ${STS_RETRY_BUDGET_MS}; bounds ${BOUND_MS} ms (issuance), ${PROBE_BOUND_MS} ms (verify)`)

  const all: Sample[] = []
  for (const phase of PHASES) {
    await fetch(`${emulator.url}/_emulator/calls`, { method: 'DELETE' })
    for (const fault of phase.faults) await emulator.inject(fault)
    const load = startLoad({ client, operations, rate: RATE, durationMs: PHASE_MS })
    const samples = await load.done
    await emulator.clear()
    const calls = await (await fetch(`${emulator.url}/_emulator/calls`)).json() as Array<{ action: string, outcome: string, errorCode?: string }>
    all.push(...samples)
    const issues = samples.filter((s) => s.op === 'issue')
    const assumeRoles = calls.filter((c) => c.action === 'AssumeRole').length
    t.comment(`${phase.name}: ${JSON.stringify(answers(samples))}; issue latency ${JSON.stringify(latencies(issues))} ms; verify ${JSON.stringify(latencies(samples.filter((s) => s.op === 'verify')))} ms; STS calls ${calls.length} (${JSON.stringify(countBy(calls.map((c) => c.errorCode ?? c.outcome)))}), ${(assumeRoles / Math.max(1, samples.length - samples.filter((s) => s.op === 'read').length)).toFixed(2)} AssumeRole per issuance or verification`)

    t.test(phase.name, async (t) => {
      t.same(samples.filter((s) => s.status === 0).map((s) => `${s.op}: ${s.error ?? ''}`), [], 'every request answered')
      // Two verifications of one connection that overlap: the first to finish is recorded and the
      // older probe is refused with 409 connection_changed ("retry"), whatever STS does.
      const answerable = (s: Sample): boolean => s.status === 200 || s.status === 201 || (s.status === 503 && s.code === 'sts_unavailable') || (s.op === 'verify' && s.status === 409 && s.code === 'connection_changed')
      t.same(samples.filter((s) => !answerable(s)).map((s) => `${s.op}: ${s.status} ${s.code ?? ''}`), [], 'each answer is a success or 503 sts_unavailable')
      t.same(samples.filter((s) => s.status === 503 && !(s.contentType?.startsWith('application/problem+json') === true && Number(s.retryAfter) > 0)).length, 0, 'every 503 is problem+json with Retry-After')
      const slow = samples.filter((s) => s.latencyMs > (s.op === 'verify' ? PROBE_BOUND_MS : BOUND_MS))
      t.same(slow.map((s) => `${s.op}: ${Math.round(s.latencyMs)} ms`), [], `every issuance and read within ${BOUND_MS} ms (max ${latencies(samples.filter((s) => s.op !== 'verify')).max} ms), every verification within ${PROBE_BOUND_MS} ms (max ${latencies(samples.filter((s) => s.op === 'verify')).max} ms)`)
      if (phase.faults.length === 0) t.same(samples.filter((s) => s.status !== 200 && s.status !== 201 && !(s.op === 'verify' && s.code === 'connection_changed')).map((s) => `${s.op}: ${s.status} ${s.code ?? ''}`), [], 'without a fault, every request succeeds')
      if (phase.name.startsWith('throttling storm')) {
        t.ok(issues.every((s) => s.status === 503), 'a storm refuses every issuance')
        // The retry quota (src/aws/sts-gateway.ts): about a hundred retries, then one attempt per
        // call; without it every call retried for its whole budget (5.2 calls per request measured).
        const verifications = samples.filter((s) => s.op === 'verify').length
        const allowed = issues.length + 3 * verifications + RETRY_QUOTA.capacity / RETRY_QUOTA.retryCost
        t.ok(assumeRoles <= allowed * 1.1, `deputy does not multiply its calls to a throttling STS: ${assumeRoles} AssumeRole calls for ${issues.length} issuances and ${verifications} verifications (one each, three per probe, and the quota's ${RETRY_QUOTA.capacity / RETRY_QUOTA.retryCost} retries: ${allowed})`)
      }
    })
    await sleep(500)
  }

  const statuses = await Promise.all(connections.map(async (c) => (await api<{ status: string }>(deputy.url, 'GET', `/v1/connections/${c.id}`)).status))
  t.same(statuses, connections.map(() => 'active'), 'every connection is still active')
  const client2 = new pg.Client({ connectionString: databaseUrl })
  await client2.connect()
  try {
    const changed = await client2.query("SELECT count(*)::int AS n FROM audit_events WHERE action = 'connection.status_changed'")
    const probes = await client2.query<{ phase: string, outcome: string, n: number }>("SELECT details->>'phase' AS phase, details->>'outcome' AS outcome, count(*)::int AS n FROM audit_events WHERE action = 'connection.probed' GROUP BY 1, 2 ORDER BY 1, 2")
    const denied = await client2.query<{ reason: string, n: number }>("SELECT details->>'reason' AS reason, count(*)::int AS n FROM audit_events WHERE action = 'credentials.denied' GROUP BY 1 ORDER BY 1")
    t.comment(`probes recorded: ${JSON.stringify(probes.rows)}; issuance refusals audited: ${JSON.stringify(denied.rows)}`)
    t.equal(changed.rows[0].n, 0, 'no connection.status_changed event')
    t.ok(probes.rows.some((r) => r.phase === 'drift'), 'drift probes ran during the faults')
    const refused = all.filter((s) => s.op === 'issue' && s.status === 503).length
    t.equal(denied.rows.reduce((sum, r) => sum + (r.reason.startsWith('sts_') ? r.n : 0), 0), refused, 'every refused issuance is audited as credentials.denied (sts_throttled or sts_unavailable)')
  } finally {
    await client2.end()
  }
  t.equal(deputy.ended(), undefined, 'deputy is still running')
})

function countBy (values: string[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1
  return counts
}
