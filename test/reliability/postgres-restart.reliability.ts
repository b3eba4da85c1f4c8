// PostgreSQL restarted in the middle of mixed load (mints, issuance, reads, audit queries), on a
// private cluster of this test's own: while it is down deputy answers 503 problem+json with
// Retry-After (never a 500, never a hang) and /readyz says so; deputy does not crash; within 5 s
// of PostgreSQL accepting connections again every request succeeds; afterwards, in SQL, every
// credential deputy returned has its credentials.issued event and every external ID it returned
// is one row, with its audit event, and no value twice.
import pg from 'pg'
import t from 'tap'
import { answers, createHttpClient, latencies, startLoad, type Sample } from './helpers/load.js'
import { mixedLoad } from './helpers/mix.js'
import { startPrivatePostgres } from './helpers/private-postgres.js'
import { httpStatus, sleep, startDeputy } from './helpers/processes.js'
import { ADMIN_TOKEN, buildScene, LOAD_ENV, startEmulator } from './helpers/scene.js'

const seconds = (name: string, fallback: number): number => Number(process.env[name] ?? fallback) * 1000
const RATE = Number(process.env.RELIABILITY_PG_RATE ?? 30)
const WARM_MS = seconds('RELIABILITY_PG_WARM_SECONDS', 5)
const DOWN_MS = seconds('RELIABILITY_PG_DOWN_SECONDS', 5)
const AFTER_MS = seconds('RELIABILITY_PG_AFTER_SECONDS', 15)
/** The bound the issue sets: every request succeeds again within this long of PostgreSQL's return. */
const RECOVERY_BOUND_MS = 5000

const ok = (s: Sample): boolean => s.status >= 200 && s.status < 300

for (const mode of (process.env.RELIABILITY_PG_MODES ?? 'fast,immediate').split(',') as Array<'fast' | 'immediate'>) {
  t.test(`PostgreSQL stopped (${mode === 'fast' ? 'fast shutdown' : 'crash: immediate shutdown'}) and started again under mixed load`, async (t) => {
    const cluster = await startPrivatePostgres(t)
    await withClient(cluster.url(), (c) => c.query('CREATE DATABASE deputy'))
    const emulator = await startEmulator(t)
    const deputy = await startDeputy(t, { ...LOAD_ENV, ...emulator.env, DATABASE_URL: cluster.url('deputy'), MIGRATE_ON_START: 'true', LOG_LEVEL: 'warn' }, `pg-${mode}`)
    const scene = await buildScene(deputy.url, emulator, 4, 2)

    const mix = mixedLoad(scene, { mint: 3, issue: 3, read: 2, audit: 1 })
    const client = createHttpClient(deputy.url, ADMIN_TOKEN)
    t.teardown(() => client.close())
    const load = startLoad({ client, operations: mix.operations, rate: RATE, durationMs: WARM_MS + DOWN_MS + AFTER_MS })
    const now = (): number => performance.now() - load.startedAt

    // /readyz as a load balancer would poll it, all along.
    const readiness: Array<{ at: number, status: number }> = []
    const polling = new AbortController()
    const poller = (async () => {
      while (!polling.signal.aborted) {
        const at = now()
        readiness.push({ at, status: await httpStatus(`${deputy.url}/readyz`, 2000) })
        await sleep(100)
      }
    })()

    await sleep(WARM_MS)
    const stopAt = now()
    await cluster.stop(mode)
    const downAt = now()
    await sleep(DOWN_MS)
    await cluster.start()
    const backAt = now()
    const samples = await load.done
    polling.abort()
    await poller

    const fmt = (ms: number): string => `${(ms / 1000).toFixed(2)} s`
    t.comment(`rate ${RATE}/s; PostgreSQL stopping at ${fmt(stopAt)}, down at ${fmt(downAt)}, accepting again at ${fmt(backAt)}`)
    t.comment(`answers: ${JSON.stringify(answers(samples))}`)

    t.equal(deputy.ended(), undefined, 'deputy is still running')
    t.equal(await httpStatus(`${deputy.url}/healthz`), 200, 'and alive')

    const failures = samples.filter((s) => !ok(s))
    t.same(failures.filter((s) => s.status === 0).map((s) => `${s.op}: ${s.error ?? ''}`), [], 'every request got an answer (no hang, no dropped connection)')
    t.same(failures.filter((s) => s.status >= 500 && s.status !== 503).map((s) => `${s.op}: ${s.status} ${s.code ?? ''}`), [], 'no 5xx other than 503')
    const unavailable = failures.filter((s) => s.status === 503)
    t.ok(unavailable.length > 0, `requests during the outage were refused with 503 (${unavailable.length})`)
    t.same(unavailable.filter((s) => !(s.contentType?.startsWith('application/problem+json') === true && Number(s.retryAfter) > 0)).map((s) => `${s.op} ${s.code ?? ''} ${s.contentType ?? ''} retry-after=${s.retryAfter ?? ''}`), [], 'every 503 is problem+json with Retry-After')
    t.comment(`503 codes: ${JSON.stringify(answers(unavailable))}`)
    t.same(failures.filter((s) => s.status > 0 && s.status < 500).map((s) => `${s.op}: ${s.status} ${s.code ?? ''}`), [], 'no 4xx: the outage is never blamed on the caller')

    // Recovery: the last request that failed after PostgreSQL came back.
    const failedAfterBack = failures.filter((s) => s.dueAt + s.latencyMs > backAt)
    const lastFailedDue = failedAfterBack.reduce((last, s) => Math.max(last, s.dueAt), backAt)
    const recoveryMs = lastFailedDue - backAt
    const firstReadyAfter = readiness.find((r) => r.at > backAt && r.status === 200)
    const firstOkAfter = samples.filter((s) => ok(s) && s.dueAt >= backAt).reduce((first, s) => Math.min(first, s.dueAt + s.latencyMs), Number.POSITIVE_INFINITY) - backAt
    t.comment(`recovery: ${failedAfterBack.length} requests failed after PostgreSQL accepted connections again (the last one due ${Math.max(0, recoveryMs).toFixed(0)} ms after); the first success was answered ${firstOkAfter.toFixed(0)} ms after; /readyz 200 again ${firstReadyAfter === undefined ? 'never' : `${(firstReadyAfter.at - backAt).toFixed(0)} ms`} after (polled every 100 ms)`)
    t.ok(recoveryMs <= RECOVERY_BOUND_MS, `every request due more than ${RECOVERY_BOUND_MS} ms after PostgreSQL's return succeeded (last failure due at +${recoveryMs.toFixed(0)} ms)`)
    const after = samples.filter((s) => s.dueAt > backAt + RECOVERY_BOUND_MS)
    t.ok(after.length > 0 && after.every(ok), `${after.length} requests after recovery, all 2xx`)

    t.ok(readiness.some((r) => r.at > downAt && r.at < backAt && r.status === 503), '/readyz answered 503 while PostgreSQL was down')
    t.ok(firstReadyAfter !== undefined && firstReadyAfter.at - backAt <= RECOVERY_BOUND_MS, '/readyz answers 200 again within 5 s')
    t.ok(readiness.filter((r) => r.at < stopAt).every((r) => r.status === 200), '/readyz was 200 before the outage')

    for (const phase of [['before', 0, stopAt], ['outage', stopAt, backAt], ['after', backAt, Number.POSITIVE_INFINITY]] as const) {
      const inPhase = samples.filter((s) => s.dueAt >= phase[1] && s.dueAt < phase[2])
      t.comment(`${phase[0]}: ${JSON.stringify(latencies(inPhase))} ms; ${JSON.stringify(answers(inPhase))}`)
    }

    // The database's own account of what deputy answered.
    const db = await withClient(cluster.url('deputy'), async (c) => {
      const issuedIds = mix.issued.map((i) => i.auditEventId)
      const events = await c.query<{ id: string, key: string | null, resource: string | null }>("SELECT id::text, details->>'accessKeyId' AS key, resource_id AS resource FROM audit_events WHERE action = 'credentials.issued' AND id = ANY($1::uuid[])", [issuedIds])
      const mintedIds = mix.minted.map((m) => m.id)
      const rows = await c.query<{ id: string, value: string, audited: boolean }>("SELECT e.id::text, e.value::text, EXISTS (SELECT 1 FROM audit_events a WHERE a.action = 'external_id.minted' AND a.resource_id = e.id::text) AS audited FROM external_ids e WHERE e.id = ANY($1::uuid[])", [mintedIds])
      const duplicates = await c.query('SELECT value, count(*) FROM external_ids GROUP BY value HAVING count(*) > 1')
      const activeTwice = await c.query("SELECT customer_id, aws_account_id, count(*) FROM external_ids WHERE status = 'active' AND predecessor_id IS NULL GROUP BY 1, 2 HAVING count(*) > 1")
      return { events: events.rows, rows: rows.rows, duplicates: duplicates.rowCount, activeTwice: activeTwice.rowCount }
    })
    const byId = new Map(db.events.map((e) => [e.id, e]))
    const unaudited = mix.issued.filter((i) => byId.get(i.auditEventId)?.key !== i.accessKeyId || byId.get(i.auditEventId)?.resource !== i.connectionId)
    t.comment(`SQL: ${mix.issued.length} credentials returned, ${db.events.length} matching credentials.issued events; ${mix.minted.length} external IDs returned, ${db.rows.length} rows`)
    t.same(unaudited, [], 'every credential returned has its credentials.issued event (same access key, same connection)')
    t.equal(db.rows.length, mix.minted.length, 'every external ID returned is a row')
    t.same(db.rows.filter((r) => !r.audited).map((r) => r.id), [], 'each with its external_id.minted event')
    const values = new Map(mix.minted.map((m) => [m.id, m.externalId]))
    t.same(db.rows.filter((r) => values.get(r.id) !== r.value).map((r) => r.id), [], 'with the value deputy returned')
    t.equal(new Set(mix.minted.map((m) => m.externalId)).size, mix.minted.length, 'no value returned twice')
    t.equal(db.duplicates, 0, 'no external ID value twice in the table')
    t.equal(db.activeTwice, 0, 'no account with two active external IDs')
    t.ok(mix.issued.length > 0 && mix.minted.length > 0, 'credentials and external IDs were returned')
    t.notMatch(deputy.log(), /"level":60/, 'no fatal log line')
  })
}

async function withClient<T> (url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await run(client)
  } finally {
    await client.end()
  }
}
