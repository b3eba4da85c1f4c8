// Single SQL statements for the hot paths (a mint, an issuance's read and its audit commit), where
// bench/RESULTS.md measured Prisma Client's per-query cost as most of deputy's own CPU. Each
// statement runs alone, in its own implicit transaction: one round trip, no connection held
// across awaits. Everything else goes through Prisma.
import type pg from 'pg'
import type { PrismaClient } from '../generated/prisma/client.js'

export interface SqlClient {
  /** Runs one parameterised statement ($1, $2, ... with explicit casts) and returns its rows. */
  query<Row extends Record<string, unknown>>(text: string, params: readonly unknown[]): Promise<Row[]>
}

/** Straight on the pg pool that Prisma's adapter also uses (PostgreSQL). */
export function poolSqlClient (pool: pg.Pool): SqlClient {
  return {
    async query<Row extends Record<string, unknown>>(text: string, params: readonly unknown[]) {
      const result = await pool.query<Row>(text, params as unknown[])
      return result.rows
    }
  }
}

/**
 * Through Prisma's raw queries: on the embedded PGlite, whose single connection Prisma's adapter
 * serialises (a query sent beside it could land inside someone else's transaction), and wherever
 * only a Prisma client is at hand (the CLI).
 */
export function prismaSqlClient (prisma: Pick<PrismaClient, '$queryRawUnsafe'>): SqlClient {
  return {
    async query<Row extends Record<string, unknown>>(text: string, params: readonly unknown[]) {
      return prisma.$queryRawUnsafe<Row[]>(text, ...params)
    }
  }
}
