// The audit seal chain: the sealer seals only the contiguous committed prefix (a late commit is
// waited for, a rolled-back seq is passed once it can no longer commit), replicas take turns, and
// the integrity check names the first event altered, deleted or inserted behind deputy's back.
import { createHash, randomBytes } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import pg from 'pg'
import t, { type Test } from 'tap'
import { app as deputyApp, fastifyOptions } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { openDatabase, type Database } from '../../src/db/database.js'
import { createLogger } from '../../src/logger.js'
import { createAuditRecorder } from '../../src/modules/audit/audit.recorder.js'
import { createAuditIntegrity } from '../../src/modules/audit/integrity.js'
import { GENESIS_HASH, eventHash } from '../../src/modules/audit/seal-hash.js'
import { createSealRepository } from '../../src/modules/audit/seal.repository.js'
import { createAuditSealer } from '../../src/modules/audit/sealer.js'
import { canonicalJson } from '../../src/lib/canonical-json.js'
import { ADMIN_TOKEN, buildTestApp, buildTestAppOn, call, type TestApp } from '../helpers/app.js'
import { createApiClient, createCustomer } from '../helpers/fixtures.js'
import { createTestDatabase, withAdminClient } from '../helpers/postgres.js'
import { spawnDeputy } from '../helpers/process.js'

const NO_SEALER_LOOP = { AUDIT_SEAL_INTERVAL_MS: '0', LOG_LEVEL: 'warn' }
const recorder = createAuditRecorder()

async function record (database: Database, n: number, action = 'test.event', customerId: string | null = null): Promise<void> {
  for (let i = 0; i < n; i++) {
    await recorder.record(database.prisma, { action, outcome: 'success', actorClientId: null, request: null, customerId, details: { i, note: 'ünïcode ✓' } })
  }
}

async function client (t: Test, url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  t.teardown(() => c.end())
  return c
}

async function pendingInsert (c: pg.Client): Promise<bigint> {
  await c.query('BEGIN')
  const { rows } = await c.query<{ seq: string }>('INSERT INTO audit_events (action, outcome) VALUES (\'test.late\', \'success\') RETURNING seq')
  return BigInt(rows[0]?.seq ?? '0')
}

async function seals (database: Database): Promise<Array<{ fromSeq: bigint, throughSeq: bigint, eventCount: number, prevHash: string, hash: string }>> {
  return database.prisma.auditSeal.findMany({ orderBy: { id: 'asc' } })
}

async function eventSeqs (database: Database): Promise<bigint[]> {
  return (await database.prisma.auditEvent.findMany({ select: { seq: true }, orderBy: { seq: 'asc' } })).map((e) => e.seq)
}

/** A second deputy on the same database, as another replica would be. */
async function replica (t: Test, databaseUrl: string): Promise<FastifyInstance> {
  const config = loadConfig({ DATABASE_URL: databaseUrl, DATABASE_POOL_SIZE: '20', ...NO_SEALER_LOOP })
  const database = await openDatabase(config.database)
  const fastify = Fastify(fastifyOptions(config, createLogger(config)))
  await fastify.register(deputyApp, { config, database })
  await fastify.ready()
  t.teardown(async () => { await fastify.close(); await database.close() })
  return fastify
}

t.test('canonical JSON: RFC 8785 key order, escapes and numbers', async (t) => {
  t.equal(canonicalJson({ b: 1, a: [true, null, 'x'], '\u20ac': 0, '\r': -0, ö: 1.5, A: 1e21 }), '{"\\r":0,"A":1e+21,"a":[true,null,"x"],"b":1,"ö":1.5,"€":0}')
  t.equal(canonicalJson(Object.fromEntries([['\ufb33', 2], ['\ud83d\ude00', 1]])), '{"\ud83d\ude00":1,"\ufb33":2}', 'UTF-16 code units, not code points')
  t.throws(() => canonicalJson({ n: Number.NaN }))
})

t.test('a transaction holding a lower seq stops the sealer until it commits; then it is sealed in order', async (t) => {
  const { app, database, databaseUrl } = await buildTestApp(t, NO_SEALER_LOOP)
  await app.auditSealer.runOnce()
  const late = await client(t, databaseUrl)
  const lateSeq = await pendingInsert(late)
  await record(database, 3)
  const blocked = await app.auditSealer.runOnce()
  t.equal(blocked.waitingForSeq, lateSeq, 'stops at the uncommitted seq')
  t.equal(blocked.sealedThroughSeq, lateSeq - 1n, 'sealed up to the one before it')
  t.equal(blocked.lagEvents, 3, 'the three later events wait')
  t.same((await seals(database)).filter((s) => s.throughSeq >= lateSeq), [], 'nothing at or after it is sealed')
  t.equal((await app.auditSealer.runOnce()).waitingForSeq, lateSeq, 'still waiting while it is open')

  await late.query('COMMIT')
  const after = await app.auditSealer.runOnce()
  t.equal(after.sealed, 4, 'the late event and the three after it')
  t.equal(after.lagEvents, 0)
  const chain = await seals(database)
  t.same(chain.map((s) => s.throughSeq), await eventSeqs(database), 'one seal per event, in seq order, the late one included')
  t.ok(chain.some((s) => s.throughSeq === lateSeq && s.fromSeq === lateSeq - 1n), 'the late event sealed in its place')
  t.hasStrict(await createAuditIntegrity({ prisma: database.prisma, sealRepository: createSealRepository() }).check({ full: true }), { ok: true, firstInvalidSeq: null })
})

t.test('a rolled-back insert leaves a gap the sealer passes once no older transaction is open', async (t) => {
  const { app, database, databaseUrl } = await buildTestApp(t, NO_SEALER_LOOP)
  await app.auditSealer.runOnce()
  const older = await client(t, databaseUrl)
  await older.query('BEGIN')
  await older.query('SELECT 1')
  const rolledBack = await client(t, databaseUrl)
  const gapSeq = await pendingInsert(rolledBack)
  await rolledBack.query('ROLLBACK')
  await record(database, 2)
  const held = await app.auditSealer.runOnce()
  t.equal(held.waitingForSeq, gapSeq, 'a transaction older than the gap is open: the gap might still fill')
  await older.query('COMMIT')
  const passed = await app.auditSealer.runOnce()
  t.equal(passed.waitingForSeq, null)
  t.equal(passed.sealed, 2)
  const chain = await seals(database)
  const across = chain.find((s) => s.fromSeq < gapSeq && gapSeq < s.throughSeq)
  t.ok(across !== undefined, 'the seal after the gap records it (from_seq before it, through_seq after it)')
  t.equal(across?.eventCount, 1)
  for (let i = 1; i < chain.length; i++) t.equal(chain[i]?.fromSeq, chain[i - 1]?.throughSeq, `seal ${i} starts where seal ${i - 1} ends`)
  t.equal(chain[0]?.prevHash, GENESIS_HASH)
  t.hasStrict(await createAuditIntegrity({ prisma: database.prisma, sealRepository: createSealRepository() }).check({ full: true }), { ok: true })

  const metrics = await app.metrics.registry.metrics()
  t.match(metrics, /deputy_audit_sealer_lag_events 0/)
  t.match(metrics, /deputy_audit_sealer_lag_seconds 0/)
})

t.test('two deputy apps on one database seal concurrently: no double work, no gaps, chain intact', async (t) => {
  const first = await buildTestApp(t, NO_SEALER_LOOP)
  const second = await replica(t, first.databaseUrl)
  const { database } = first
  const runs: Array<Awaited<ReturnType<FastifyInstance['auditSealer']['runOnce']>>> = []
  const state = { writing: true }
  const writers = (async () => {
    for (let round = 0; round < 30; round++) {
      await Promise.all([
        record(database, 5),
        // A writer that rolls back: a permanent gap in seq.
        database.prisma.$transaction(async (tx) => {
          await recorder.record(tx, { action: 'test.rolled_back', outcome: 'success', actorClientId: null, request: null })
          throw new Error('roll back')
        }).catch(() => undefined)
      ])
    }
    state.writing = false
  })()
  const sealers = [first.app, second].map(async (instance) => {
    while (state.writing) {
      runs.push(...await Promise.all([instance.auditSealer.runOnce(), instance.auditSealer.runOnce()]))
    }
  })
  await Promise.all([writers, ...sealers])
  for (let i = 0; i < 5; i++) runs.push(await [first.app, second][i % 2]!.auditSealer.runOnce())

  const chain = await seals(database)
  const events = await eventSeqs(database)
  t.ok(runs.length > 20, `${runs.length} sealer runs`)
  t.ok(runs.some((r) => !r.locked), 'some runs found the other replica sealing and did nothing')
  t.equal(runs.reduce((sum, r) => sum + r.sealed, 0), chain.length, 'every seal written once: the runs\' counts add up to the chain')
  t.same(chain.map((s) => s.throughSeq), events, 'every committed event sealed, in order')
  for (let i = 1; i < chain.length; i++) {
    if (chain[i]?.fromSeq !== chain[i - 1]?.throughSeq || chain[i]?.prevHash !== chain[i - 1]?.hash) t.fail(`seal ${i} does not follow seal ${i - 1}`)
  }
  const report = await createAuditIntegrity({ prisma: database.prisma, sealRepository: createSealRepository() }).check({ full: true })
  t.hasStrict(report, { ok: true, checkedEvents: events.length, sealedThroughSeq: events.at(-1) })
})

t.test('a chain of a few hundred events verifies; sealer throughput', async (t) => {
  const { app, database } = await buildTestApp(t, NO_SEALER_LOOP)
  await database.prisma.auditEvent.createMany({ data: Array.from({ length: 2000 }, (_, i) => ({ action: 'test.bulk', outcome: 'success' as const, details: { i } })) })
  const started = performance.now()
  const run = await app.auditSealer.runOnce()
  const seconds = (performance.now() - started) / 1000
  t.ok(run.sealed >= 2000)
  t.comment(`sealed ${run.sealed} events in ${seconds.toFixed(2)} s: ${Math.round(run.sealed / seconds)} events/s`)
  const integrity = createAuditIntegrity({ prisma: database.prisma, sealRepository: createSealRepository() })
  const checkStarted = performance.now()
  const report = await integrity.check({ full: true })
  t.comment(`full check of ${report.checkedEvents} events in ${((performance.now() - checkStarted) / 1000).toFixed(2)} s`)
  t.hasStrict(report, { ok: true, checkedEvents: run.sealed, firstInvalidSeq: null, reason: null })
  await record(database, 3)
  await app.auditSealer.runOnce()
  t.hasStrict(await integrity.check(), { ok: true, checkedEvents: 3 }, 'the default check starts after the last seal it verified')
})

t.test('the sealer on PGlite (one connection, no other transactions)', async (t) => {
  const database = await openDatabase({ kind: 'pglite', dataDir: 'memory://' })
  t.teardown(() => database.close())
  await database.migrate()
  await record(database, 5)
  const sealRepository = createSealRepository()
  const sealer = createAuditSealer({ prisma: database.prisma, sealRepository })
  t.hasStrict(await sealer.runOnce(), { locked: true, sealed: 5, waitingForSeq: null })
  await database.prisma.$transaction(async (tx) => {
    await recorder.record(tx, { action: 'test.rolled_back', outcome: 'success', actorClientId: null, request: null })
    throw new Error('roll back')
  }).catch(() => undefined)
  await record(database, 2)
  t.hasStrict(await sealer.runOnce(), { sealed: 2, waitingForSeq: null }, 'the rolled-back seq is passed at once')
  t.hasStrict(await createAuditIntegrity({ prisma: database.prisma, sealRepository }).check({ full: true }), { ok: true, checkedEvents: 7 })
})

/** Runs SQL as a superuser who turned deputy's append-only triggers off. */
async function tamper (t: Test, test: TestApp, table: 'audit_events' | 'audit_seals', sql: string): Promise<void> {
  const c = await client(t, test.databaseUrl)
  await c.query(`ALTER TABLE ${table} DISABLE TRIGGER USER`)
  await c.query(sql)
  await c.query(`ALTER TABLE ${table} ENABLE TRIGGER USER`)
}

async function sealedApp (t: Test): Promise<TestApp & { seqs: bigint[] }> {
  const test = await buildTestApp(t, NO_SEALER_LOOP)
  await record(test.database, 10)
  await test.app.auditSealer.runOnce()
  return { ...test, seqs: await eventSeqs(test.database) }
}

t.test('tampering with real SQL is found, named by the first event that no longer matches', async (t) => {
  const integrityOf = (test: TestApp) => async () => (await call(test.app, 'GET', '/v1/audit-events/integrity?full=true', { token: ADMIN_TOKEN })).json<Record<string, unknown>>()

  t.test('an event altered', async (t) => {
    const test = await sealedApp(t)
    const target = test.seqs[6]!
    const check = integrityOf(test)
    t.hasStrict(await check(), { ok: true, firstInvalidSeq: null })
    await tamper(t, test, 'audit_events', `UPDATE audit_events SET details = '{"i": 99}' WHERE seq = ${target}`)
    t.hasStrict(await check(), { ok: false, firstInvalidSeq: target.toString(), reason: 'hash_mismatch' })
    t.hasStrict((await call(test.app, 'GET', '/v1/audit-events/integrity', { token: ADMIN_TOKEN })).json(), { ok: true }, 'the default check does not reread what it verified before')
  })

  t.test('an event deleted', async (t) => {
    const test = await sealedApp(t)
    const target = test.seqs[3]!
    await tamper(t, test, 'audit_events', `DELETE FROM audit_events WHERE seq = ${target}`)
    t.hasStrict(await integrityOf(test)(), { ok: false, firstInvalidSeq: target.toString(), reason: 'event_missing' })
  })

  t.test('an event inserted into a legitimate gap', async (t) => {
    const test = await buildTestApp(t, NO_SEALER_LOOP)
    await record(test.database, 3)
    const c = await client(t, test.databaseUrl)
    const gap = await pendingInsert(c)
    await c.query('ROLLBACK')
    await record(test.database, 3)
    await test.app.auditSealer.runOnce()
    t.hasStrict(await integrityOf(test)(), { ok: true }, 'a rolled-back seq is a legitimate gap')
    await tamper(t, test, 'audit_events', `INSERT INTO audit_events (seq, action, outcome) VALUES (${gap}, 'forged', 'success')`)
    t.hasStrict(await integrityOf(test)(), { ok: false, firstInvalidSeq: gap.toString(), reason: 'event_unexpected' })
  })

  t.test('a seal\'s hash or prev_hash altered', async (t) => {
    const test = await sealedApp(t)
    await tamper(t, test, 'audit_seals', `UPDATE audit_seals SET prev_hash = '${'f'.repeat(64)}' WHERE through_seq = ${test.seqs[5]}`)
    t.hasStrict(await integrityOf(test)(), { ok: false, firstInvalidSeq: test.seqs[5]!.toString(), reason: 'chain_broken' })
    const other = await sealedApp(t)
    await tamper(t, other, 'audit_seals', `UPDATE audit_seals SET hash = '${'e'.repeat(64)}' WHERE through_seq = ${other.seqs[2]}`)
    t.hasStrict(await integrityOf(other)(), { ok: false, firstInvalidSeq: other.seqs[2]!.toString() })
  })

  t.test('deputy audit verify: exit 0 on an intact chain, 1 with the seq on a broken one', async (t) => {
    const test = await sealedApp(t)
    const intact = spawnDeputy(['audit', 'verify', '--full'], { DATABASE_URL: test.databaseUrl })
    t.equal((await intact.exit).code, 0, intact.output())
    t.hasStrict(JSON.parse(intact.output()), { ok: true, checkedEvents: test.seqs.length })
    await tamper(t, test, 'audit_events', `UPDATE audit_events SET action = 'rewritten' WHERE seq = ${test.seqs[8]}`)
    const broken = spawnDeputy(['audit', 'verify'], { DATABASE_URL: test.databaseUrl })
    t.equal((await broken.exit).code, 1, broken.output())
    t.hasStrict(JSON.parse(broken.output()), { ok: false, firstInvalidSeq: test.seqs[8]!.toString(), reason: 'hash_mismatch' })
  })
})

t.test('GET /v1/audit-events/integrity needs admin', async (t) => {
  const { app } = await buildTestApp(t, NO_SEALER_LOOP)
  const customer = await createCustomer(app)
  for (const [label, scopes, bound] of [['unbound audit:read', ['audit:read'], undefined], ['bound audit:read', ['audit:read'], customer.id]] as const) {
    const auditor = await createApiClient(app, [...scopes], bound)
    const res = await call(app, 'GET', '/v1/audit-events/integrity', { token: auditor.token })
    t.equal(res.statusCode, 403, label)
    t.equal(res.json<{ code: string }>().code, 'admin_required', label)
  }
  t.hasStrict((await call(app, 'GET', '/v1/audit-events/integrity', { token: ADMIN_TOKEN })).json(), { ok: true, sealedThroughSeq: null, checkedEvents: 0 })
})

t.test('GET /v1/audit-events/export: NDJSON in seq order across pages through the sealed horizon, each event with its seal', async (t) => {
  const { app, database } = await buildTestApp(t, NO_SEALER_LOOP)
  const acme = await createCustomer(app)
  const globex = await createCustomer(app)
  await database.prisma.auditEvent.createMany({ data: Array.from({ length: 1100 }, (_, i) => ({ action: 'test.bulk', outcome: 'success' as const, customerId: i % 3 === 0 ? acme.id : globex.id, details: { i } })) })
  await app.auditSealer.runOnce()
  await record(database, 4, 'test.unsealed', acme.id)
  const sealed = await database.prisma.auditEvent.count({ where: { action: { not: 'test.unsealed' } } })

  interface Line { event: { seq: string, customerId: string | null, action: string }, seal: { id: string, fromSeq: string, throughSeq: string, hash: string } | null }
  const exported = async (token: string, query = ''): Promise<Line[]> => {
    const res = await call(app, 'GET', `/v1/audit-events/export${query}`, { token })
    t.equal(res.statusCode, 200, res.body.slice(0, 200))
    t.match(res.headers['content-type'], /^application\/x-ndjson/)
    return res.body.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Line)
  }
  const all = await exported(ADMIN_TOKEN)
  t.equal(all.length, sealed, `every sealed event, across pages of 500 (${sealed})`)
  const seqs = all.map((l) => BigInt(l.event.seq))
  t.ok(seqs.every((s, i) => i === 0 || s > seqs[i - 1]!), 'strictly in seq order, no line twice')
  t.ok(all.every((l) => l.seal?.throughSeq === l.event.seq), 'every event carries its seal')
  t.same(all.filter((l) => l.event.action === 'test.unsealed'), [], 'events after the sealed horizon wait for a later export')
  await app.auditSealer.runOnce()
  const resumed = await exported(ADMIN_TOKEN, `?afterSeq=${all.at(-1)?.event.seq ?? '0'}`)
  t.same(resumed.map((l) => l.event.action), ['test.unsealed', 'test.unsealed', 'test.unsealed', 'test.unsealed'], 'once sealed, an export resumed after the last seq gets them')
  t.ok(resumed.every((l) => l.seal?.throughSeq === l.event.seq))

  const auditor = await createApiClient(app, ['audit:read'], acme.id)
  await app.auditSealer.runOnce()
  const own = await exported(auditor.token)
  t.equal(own.length, await database.prisma.auditEvent.count({ where: { customerId: acme.id } }), 'a bound client gets all of its customer\'s events')
  t.same(own.filter((l) => l.event.customerId !== acme.id), [], '...and nothing else')
  const other = await call(app, 'GET', `/v1/audit-events/export?customerId=${globex.id}`, { token: auditor.token })
  t.equal(other.statusCode, 404)
  t.same(await exported(ADMIN_TOKEN, '?since=2999-01-01T00:00:00Z'), [], 'nothing in range: an empty body')

  // The same filters as the list, so the console exports exactly what it shows.
  const listed = async (query: string): Promise<string[]> => {
    const seqs: string[] = []
    let cursor: string | null = null
    do {
      const res = await call(app, 'GET', `/v1/audit-events?limit=500&${query}${cursor === null ? '' : `&cursor=${cursor}`}`, { token: ADMIN_TOKEN })
      const page = res.json<{ items: Array<{ seq: string }>, nextCursor: string | null }>()
      seqs.push(...page.items.map((e) => e.seq))
      cursor = page.nextCursor
    } while (cursor !== null)
    return seqs.reverse()
  }
  await app.auditSealer.runOnce()
  const [someEvent] = all.filter((l) => l.event.action === 'test.bulk' && l.event.customerId === acme.id)
  for (const query of [`customerId=${acme.id}&action=test.bulk`, 'action=test.unsealed&outcome=success', 'outcome=denied', `resourceId=${someEvent?.event.seq ?? 'x'}`, `actorClientId=${auditor.id}`]) {
    const filtered = await exported(ADMIN_TOKEN, `?${query}`)
    t.same(filtered.map((l) => l.event.seq), await listed(query), `export and list agree on ${query}`)
  }
  t.equal((await exported(ADMIN_TOKEN, `?customerId=${acme.id}&action=test.bulk`)).length, 367, 'a third of the bulk events are acme\'s test.bulk')
  t.equal((await call(app, 'GET', '/v1/audit-events/export?outcome=maybe', { token: ADMIN_TOKEN })).statusCode, 400)
})

/** A session of the superuser on `url` (another role than the sealer's), ended with `close`. */
async function otherRoleSession (url: string): Promise<{ c: pg.Client, close: () => Promise<void> }> {
  const c = new pg.Client({ connectionString: url })
  c.on('error', () => {})
  await c.connect()
  const { rows } = await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
  const pid = rows[0]?.pid
  return {
    c,
    // Until its backend has left pg_stat_activity (a disconnect is asynchronous on the server).
    close: async () => {
      await c.end()
      await withAdminClient(async (admin) => {
        while ((await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount !== 0) await new Promise((resolve) => setTimeout(resolve, 20))
      })
    }
  }
}

t.test('a role that cannot see other roles\' transactions seals conservatively, and /readyz and the integrity report say so', async (t) => {
  const databaseUrl = await createTestDatabase(t)
  // A real non-superuser role, without pg_read_all_stats: it sees other roles' sessions in
  // pg_stat_activity only as "<insufficient privilege>" with a null xact_start.
  const role = `deputy_sealer_${randomBytes(5).toString('hex')}`
  const database = new URL(databaseUrl).pathname.slice(1)
  await withAdminClient((c) => c.query(`CREATE ROLE ${role} LOGIN`))
  t.teardown(async () => {
    await withAdminClient(async (c) => {
      await c.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`)
      await c.query(`DROP ROLE IF EXISTS ${role}`)
    })
  })
  const setup = await otherRoleSession(databaseUrl)
  await setup.c.query(`GRANT CONNECT ON DATABASE "${database}" TO ${role}; GRANT USAGE ON SCHEMA public TO ${role};
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}; GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO ${role}`)
  await setup.close()
  const limitedUrl = new URL(databaseUrl)
  limitedUrl.username = role
  const { app, database: db } = await buildTestAppOn(t, limitedUrl.toString(), NO_SEALER_LOOP)

  t.same((await call(app, 'GET', '/readyz')).json(), { status: 'ok', auditSealing: 'conservative' }, '/readyz says sealing is conservative')
  t.equal((await call(app, 'GET', '/v1/audit-events/integrity', { token: ADMIN_TOKEN })).json().sealing, 'conservative', 'and so does the integrity report')

  await app.auditSealer.runOnce()
  // Another role's transaction holds a lower seq; the sealer cannot see when it began.
  const late = await otherRoleSession(databaseUrl)
  const lateSeq = await pendingInsert(late.c)
  await record(db, 2)
  const held = await app.auditSealer.runOnce()
  t.equal(held.waitingForSeq, lateSeq, 'a session it cannot see might still commit that seq: no gap is passed')
  t.equal(held.sealedThroughSeq, lateSeq - 1n)
  await late.c.query('COMMIT')
  t.equal((await app.auditSealer.runOnce()).sealed, 3, 'the late event sealed in its place, then the two after it')
  await late.close()

  // A rolled-back seq: passed once no session it cannot see is connected any more.
  const rolledBack = await otherRoleSession(databaseUrl)
  const gapSeq = await pendingInsert(rolledBack.c)
  await rolledBack.c.query('ROLLBACK')
  await record(db, 1)
  t.equal((await app.auditSealer.runOnce()).waitingForSeq, gapSeq, 'waits while that session (now idle, unseen) is connected')
  await rolledBack.close()
  const passed = await app.auditSealer.runOnce()
  t.equal(passed.waitingForSeq, null, 'passed once it is gone')
  t.equal(passed.sealed, 1)
  const report = await createAuditIntegrity({ prisma: db.prisma, sealRepository: createSealRepository() }).check({ full: true })
  t.hasStrict(report, { ok: true, firstInvalidSeq: null, sealing: 'conservative' })

  // With pg_read_all_stats the same role seals exactly (checked once per process).
  await withAdminClient((c) => c.query(`GRANT pg_read_all_stats TO ${role}`))
  const exact = await buildTestAppOn(t, limitedUrl.toString(), NO_SEALER_LOOP)
  t.same((await call(exact.app, 'GET', '/readyz')).json(), { status: 'ok' }, 'nothing to say with pg_read_all_stats')
  t.equal((await call(exact.app, 'GET', '/v1/audit-events/integrity', { token: ADMIN_TOKEN })).json().sealing, 'exact')
})

t.test('event hash: a fixed known-answer vector over every column (the format existing seals were made with)', async (t) => {
  const row = {
    seq: 42n,
    id: '7d444840-9dc0-41d1-b245-5ffdce74fad2',
    occurredAt: new Date('2026-12-06T04:30:00.123Z'),
    actorClientId: '0b6e5b1c-3f7a-4c55-9d1e-2a8f4b7c6d5e',
    action: 'credentials.issued',
    outcome: 'success' as const,
    customerId: '5f0c3a2e-8b1d-4e6f-a7c9-1d2e3f4a5b6c',
    resourceType: 'connection',
    resourceId: 'c1a2b3c4-d5e6-47f8-9a0b-1c2d3e4f5a6b',
    requestId: 'req-1',
    sourceIp: '203.0.113.7',
    userAgent: 'deputy-test/1',
    details: { accessKeyId: 'ASIAEXAMPLE', ttlSeconds: 900, note: 'ünïcode ✓' }
  }
  // Written by hand: RFC 8785 order, seq as a string, occurredAt with milliseconds.
  const canonical = '{"action":"credentials.issued","actorClientId":"0b6e5b1c-3f7a-4c55-9d1e-2a8f4b7c6d5e","customerId":"5f0c3a2e-8b1d-4e6f-a7c9-1d2e3f4a5b6c",' +
    '"details":{"accessKeyId":"ASIAEXAMPLE","note":"ünïcode ✓","ttlSeconds":900},"id":"7d444840-9dc0-41d1-b245-5ffdce74fad2","occurredAt":"2026-12-06T04:30:00.123Z",' +
    '"outcome":"success","requestId":"req-1","resourceId":"c1a2b3c4-d5e6-47f8-9a0b-1c2d3e4f5a6b","resourceType":"connection","seq":"42","sourceIp":"203.0.113.7","userAgent":"deputy-test/1"}'
  const KNOWN = 'c3795de7406cc73ec63b85a5012f01076252f9fdb22fc4761b55b6352b2e34c8'
  t.equal(createHash('sha256').update(canonical, 'utf8').digest('hex'), KNOWN, 'the vector is SHA-256 of that canonical JSON')
  t.equal(eventHash(row), KNOWN, 'eventHash gives it: seals already written still verify')
  for (const key of Object.keys(row) as Array<keyof typeof row>) {
    const changed = { ...row, [key]: key === 'seq' ? 43n : key === 'occurredAt' ? new Date('2026-12-06T04:30:00.124Z') : key === 'details' ? { ...row.details, ttlSeconds: 901 } : key === 'outcome' ? 'denied' : `${String(row[key])}x` }
    t.not(eventHash(changed as typeof row), KNOWN, `${key} is hashed`)
    const nulled = { ...row, [key]: null }
    if (!['seq', 'id', 'occurredAt', 'action', 'outcome', 'details'].includes(key)) t.not(eventHash(nulled as typeof row), KNOWN, `${key} null is not ${key} absent`)
  }
})

t.test('tampering with each column of a sealed event in turn is found, named by its seq', async (t) => {
  const test = await buildTestApp(t, NO_SEALER_LOOP)
  const [a, b] = [await createCustomer(test.app, { name: 'Tamper A' }), await createCustomer(test.app, { name: 'Tamper B' })]
  const actor = await createApiClient(test.app, ['audit:read'])
  const actorB = await createApiClient(test.app, ['audit:read'])
  // One event per column, every column filled.
  const c = await client(t, test.databaseUrl)
  const { rows: columns } = await c.query<{ name: string }>("SELECT column_name AS name FROM information_schema.columns WHERE table_name = 'audit_events' ORDER BY ordinal_position")
  for (let i = 0; i < columns.length + 1; i++) {
    const request = { requestId: `req-${i}`, sourceIp: '203.0.113.7', userAgent: 'tamper-test/1' }
    await recorder.record(test.database.prisma, { action: 'test.event', outcome: 'success', actorClientId: actor.id, customerId: a.id, resourceType: 'customer', resourceId: a.id, request, details: { i } })
  }
  await test.app.auditSealer.runOnce()
  const seqs = (await eventSeqs(test.database)).slice(-(columns.length + 1))
  // How to change each column; a column added to audit_events without an entry here fails the
  // test, so a new column cannot be left out of the hash unnoticed.
  const TAMPER: Record<string, string> = {
    seq: 'seq = seq + 1000000',
    id: 'id = gen_random_uuid()',
    occurred_at: "occurred_at = occurred_at + interval '1 millisecond'",
    actor_client_id: `actor_client_id = '${actorB.id}'`,
    action: "action = 'test.rewritten'",
    outcome: "outcome = 'denied'",
    customer_id: `customer_id = '${b.id}'`,
    resource_type: "resource_type = 'connection'",
    resource_id: `resource_id = '${b.id}'`,
    request_id: "request_id = 'req-forged'",
    source_ip: "source_ip = '198.51.100.1'",
    user_agent: "user_agent = 'forged/1'",
    details: 'details = details || \'{"forged": true}\''
  }
  t.same(columns.map((col) => col.name).filter((name) => TAMPER[name] === undefined), [], 'every column of audit_events has a tampering case')
  const integrity = createAuditIntegrity({ prisma: test.database.prisma, sealRepository: createSealRepository() })
  await c.query('CREATE TEMP TABLE original AS SELECT * FROM audit_events')
  for (const [i, { name }] of columns.entries()) {
    const seq = seqs[i]!
    await c.query('ALTER TABLE audit_events DISABLE TRIGGER USER')
    await c.query(`UPDATE audit_events SET ${TAMPER[name] ?? ''} WHERE seq = ${seq}`)
    const report = await integrity.check({ full: true })
    t.equal(report.ok, false, `${name} changed: found`)
    t.equal(report.firstInvalidSeq, seq, `${name} changed: named by seq ${seq}`)
    // Put the event back as it was, and the chain verifies again.
    await c.query(`DELETE FROM audit_events WHERE seq = ${seq} OR id = (SELECT id FROM original WHERE seq = ${seq}) OR id NOT IN (SELECT id FROM original)`)
    await c.query(`INSERT INTO audit_events SELECT * FROM original WHERE seq = ${seq}`)
    await c.query('ALTER TABLE audit_events ENABLE TRIGGER USER')
    t.equal((await integrity.check({ full: true })).ok, true, `${name} restored: intact`)
  }
})
