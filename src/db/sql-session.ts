// A raw SQL session for what Prisma Client cannot do: running multi-statement migration files
// and taking advisory locks. Backed by one pg connection or by the PGlite instance itself.
import pg from 'pg'
import type { PGlite } from '@electric-sql/pglite'

export interface SqlSession {
  query<Row extends Record<string, unknown>>(sql: string, params?: unknown[]): Promise<Row[]>
  /** Runs a script of several statements (no parameters). */
  exec(sql: string): Promise<void>
  close(): Promise<void>
}

export async function openPgSession (connectionString: string): Promise<SqlSession> {
  const client = new pg.Client({ connectionString })
  await client.connect()
  return {
    async query (sql, params) {
      const result = await client.query(sql, params)
      return result.rows
    },
    async exec (sql) {
      await client.query(sql)
    },
    async close () {
      await client.end()
    }
  }
}

/** PGlite has one connection; the session borrows it and leaves closing to its owner. */
export function pgliteSession (pglite: PGlite): SqlSession {
  return {
    async query<Row extends Record<string, unknown>>(sql: string, params?: unknown[]) {
      const result = await pglite.query<Row>(sql, params)
      return result.rows
    },
    async exec (sql) {
      await pglite.exec(sql)
    },
    async close () {}
  }
}
