// Applies prisma/migrations/<ts>_<name>/migration.sql in order and records each in
// _prisma_migrations exactly as Prisma Migrate does, so `prisma migrate deploy` on a connected
// machine agrees with what this runner applied. Safe when several replicas start at once: the
// work runs under the same advisory lock Prisma Migrate takes.
import { createHash, randomUUID } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { SqlSession } from './sql-session.js'

/** Prisma Migrate's advisory lock key (a hash of "prisma"). */
const PRISMA_MIGRATE_LOCK_KEY = 72707369

export const defaultMigrationsDir = fileURLToPath(new URL('../../prisma/migrations', import.meta.url))

export interface Migration {
  name: string
  sql: string
  checksum: string
}

export interface MigrationResult {
  applied: string[]
  alreadyApplied: string[]
}

export class MigrationError extends Error {
  override name = 'MigrationError'
}

export async function readMigrations (dir = defaultMigrationsDir): Promise<Migration[]> {
  const entries = await readdir(dir, { withFileTypes: true })
  const names = entries.filter((e) => e.isDirectory() && /^\d{14}_/.test(e.name)).map((e) => e.name).sort()
  return Promise.all(names.map(async (name) => {
    const sql = await readFile(join(dir, name, 'migration.sql'), 'utf8')
    return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') }
  }))
}

// Prisma Migrate's own DDL for its bookkeeping table.
const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`

interface AppliedRow extends Record<string, unknown> {
  migration_name: string
  checksum: string
  finished_at: Date | null
  rolled_back_at: Date | null
}

export async function migrate (session: SqlSession, migrations: Migration[]): Promise<MigrationResult> {
  await session.query('SELECT pg_advisory_lock($1)', [PRISMA_MIGRATE_LOCK_KEY])
  try {
    await session.exec(CREATE_MIGRATIONS_TABLE)
    const rows = await session.query<AppliedRow>(
      'SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL'
    )
    const applied = new Map(rows.map((row) => [row.migration_name, row]))
    const result: MigrationResult = { applied: [], alreadyApplied: [] }
    for (const migration of migrations) {
      const row = applied.get(migration.name)
      if (row === undefined) {
        await applyOne(session, migration)
        result.applied.push(migration.name)
        continue
      }
      if (row.finished_at === null) {
        throw new MigrationError(`migration ${migration.name} started earlier but never finished; inspect the database and mark it rolled back before retrying`)
      }
      if (row.checksum !== migration.checksum) {
        throw new MigrationError(`migration ${migration.name} was changed after it was applied (checksum ${row.checksum} in the database, ${migration.checksum} on disk); add a new migration instead`)
      }
      result.alreadyApplied.push(migration.name)
    }
    return result
  } finally {
    await session.query('SELECT pg_advisory_unlock($1)', [PRISMA_MIGRATE_LOCK_KEY])
  }
}

async function applyOne (session: SqlSession, migration: Migration): Promise<void> {
  const id = randomUUID()
  await session.exec('BEGIN')
  try {
    await session.query(
      'INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count) VALUES ($1, $2, $3, now(), 0)',
      [id, migration.checksum, migration.name]
    )
    await session.exec(migration.sql)
    await session.query(
      'UPDATE "_prisma_migrations" SET finished_at = clock_timestamp(), applied_steps_count = 1 WHERE id = $1',
      [id]
    )
    await session.exec('COMMIT')
  } catch (error) {
    await session.exec('ROLLBACK')
    throw new MigrationError(`migration ${migration.name} failed and was rolled back: ${(error as Error).message}`, { cause: error })
  }
}
