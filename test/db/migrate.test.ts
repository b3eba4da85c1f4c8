// The migration runner: applies in order, records rows exactly as Prisma Migrate does, is safe
// to run from several replicas at once, and refuses edited or half-applied migrations.
import { createHash } from 'node:crypto'
import { cp, mkdtemp, appendFile, mkdir, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import t, { type Test } from 'tap'
import { defaultMigrationsDir, migrate, readMigrations } from '../../src/db/migrate.js'
import { openPgSession } from '../../src/db/sql-session.js'
import { databaseUrl, withAdminClient } from '../helpers/postgres.js'

async function emptyDatabase (t: Test): Promise<string> {
  const name = `deputy_test_${process.pid}_mig_${Math.random().toString(16).slice(2, 10)}`
  await withAdminClient((c) => c.query(`CREATE DATABASE "${name}"`))
  t.teardown(() => withAdminClient((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)))
  return databaseUrl(name)
}

t.test('applies every migration once and records it as Prisma does', async (t) => {
  const url = await emptyDatabase(t)
  const migrations = await readMigrations()
  t.ok(migrations.length >= 1)
  const session = await openPgSession(url)
  t.teardown(() => session.close())
  const first = await migrate(session, migrations)
  t.same(first.applied, migrations.map((m) => m.name))
  const second = await migrate(session, migrations)
  t.same(second, { applied: [], alreadyApplied: migrations.map((m) => m.name) })

  const rows = await session.query<{ id: string, checksum: string, migration_name: string, finished_at: Date | null, rolled_back_at: Date | null, applied_steps_count: number, logs: string | null }>(
    'SELECT * FROM _prisma_migrations ORDER BY started_at')
  t.equal(rows.length, migrations.length)
  for (const [i, row] of rows.entries()) {
    const migration = migrations[i]
    t.equal(row.migration_name, migration?.name)
    t.match(row.migration_name, /^\d{14}_[a-z0-9_]+$/)
    t.equal(row.checksum, createHash('sha256').update(migration?.sql ?? '').digest('hex'), 'checksum is the sha256 of the file, as Prisma computes it')
    t.match(row.id, /^[0-9a-f-]{36}$/)
    t.ok(row.finished_at)
    t.equal(row.rolled_back_at, null)
    t.equal(row.applied_steps_count, 1)
  }
  const columns = await session.query<{ column_name: string, data_type: string }>(
    "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position")
  t.same(columns.map((c) => c.column_name), ['id', 'checksum', 'finished_at', 'migration_name', 'logs', 'rolled_back_at', 'started_at', 'applied_steps_count'])
})

t.test('several replicas migrating at once apply each migration exactly once', async (t) => {
  const url = await emptyDatabase(t)
  const migrations = await readMigrations()
  const sessions = await Promise.all(Array.from({ length: 4 }, () => openPgSession(url)))
  t.teardown(() => Promise.all(sessions.map((s) => s.close())))
  const results = await Promise.all(sessions.map((s) => migrate(s, migrations)))
  t.equal(results.filter((r) => r.applied.length === migrations.length).length, 1, 'one replica applied')
  t.equal(results.filter((r) => r.applied.length === 0).length, 3, 'the others found it done')
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  t.teardown(() => client.end())
  const count = await client.query('SELECT count(*)::int AS n FROM _prisma_migrations')
  t.equal(count.rows[0].n, migrations.length)
})

t.test('an edited migration is refused; a failing one rolls back and records nothing', async (t) => {
  const url = await emptyDatabase(t)
  const dir = await mkdtemp(join(tmpdir(), 'deputy-migrations-'))
  await cp(defaultMigrationsDir, dir, { recursive: true })
  const session = await openPgSession(url)
  t.teardown(() => session.close())
  await migrate(session, await readMigrations(dir))

  const [first] = await readMigrations(dir)
  await appendFile(join(dir, first?.name ?? '', 'migration.sql'), '\n-- edited later\n')
  await t.rejects(migrate(session, await readMigrations(dir)), /was changed after it was applied/)

  const broken = join(tmpdir(), `deputy-broken-${Date.now()}`)
  await mkdir(join(broken, '20990101000000_broken'), { recursive: true })
  await writeFile(join(broken, '20990101000000_broken', 'migration.sql'), 'CREATE TABLE half_done (id int);\nSELECT no_such_function();\n')
  const url2 = await emptyDatabase(t)
  const session2 = await openPgSession(url2)
  t.teardown(() => session2.close())
  await t.rejects(migrate(session2, await readMigrations(broken)), /20990101000000_broken failed and was rolled back/)
  const tables = await session2.query<{ n: number }>("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name = 'half_done'")
  t.equal(tables[0]?.n, 0, 'the half-applied table is gone')
  const rows = await session2.query<{ n: number }>('SELECT count(*)::int AS n FROM _prisma_migrations')
  t.equal(rows[0]?.n, 0)
})

t.test('a migration Prisma left unfinished blocks the runner with a clear message', async (t) => {
  const url = await emptyDatabase(t)
  const session = await openPgSession(url)
  t.teardown(() => session.close())
  const migrations = await readMigrations()
  await migrate(session, [])
  await session.query("INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at) VALUES ('00000000-0000-0000-0000-000000000001', $1, $2, now())", [migrations[0]?.checksum, migrations[0]?.name])
  await t.rejects(migrate(session, migrations), /started earlier but never finished/)
})
