// Real PostgreSQL for tests: one template database migrated once per run (named after the
// migrations' checksum, so a changed migration builds a new one), and one fresh clone per test.
import { createHash, randomBytes } from 'node:crypto'
import pg from 'pg'
import type { Test } from 'tap'
import { readMigrations } from '../../src/db/migrate.js'

export const ADMIN_URL = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'

export function databaseUrl (name: string): string {
  const url = new URL(ADMIN_URL)
  url.pathname = `/${name}`
  return url.toString()
}

export async function templateName (): Promise<string> {
  const migrations = await readMigrations()
  const digest = createHash('sha256').update(migrations.map((m) => `${m.name}:${m.checksum}`).join('\n')).digest('hex')
  return `deputy_template_${digest.slice(0, 16)}`
}

export async function withAdminClient<T> (run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL })
  await client.connect()
  try {
    return await run(client)
  } finally {
    await client.end()
  }
}

/** True for a test database whose creating process has exited (its name carries the pid). */
export function isLeftover (datname: string): boolean {
  const pid = Number(/^deputy_test_(\d+)_/.exec(datname)?.[1])
  if (!Number.isInteger(pid) || pid <= 0) return true
  try {
    process.kill(pid, 0)
    return false
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH'
  }
}

/** A fresh, migrated database for one test file, dropped when the test ends. */
export async function createTestDatabase (t: Test): Promise<string> {
  const template = await templateName()
  const name = `deputy_test_${process.pid}_${randomBytes(6).toString('hex')}`
  await withAdminClient((client) => client.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`))
  t.teardown(async () => {
    await withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`))
  })
  return databaseUrl(name)
}
