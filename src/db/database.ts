// Builds deputy's database handle: Prisma Client over PostgreSQL (DATABASE_URL) or over the
// embedded PGlite in a data directory. Only this folder and repositories touch Prisma.
import { mkdir } from 'node:fs/promises'
import type { PGlite } from '@electric-sql/pglite'
import { PrismaPg } from '@prisma/adapter-pg'
import pg from 'pg'
import { PrismaClient } from '../generated/prisma/client.js'
import { defaultMigrationsDir, migrate, readMigrations, type MigrationResult } from './migrate.js'
import { listenPglite, listenPostgres, type NotificationHandlers, type NotificationListener } from './notifications.js'
import { poolSqlClient, prismaSqlClient, type SqlClient } from './sql-client.js'
import { openPgSession, pgliteSession, type SqlSession } from './sql-session.js'

export type { PrismaClient, SqlClient }

export type DatabaseTarget =
  /** url: for queries, may be PgBouncer (transaction pooling); directUrl: PostgreSQL itself, for sessions. */
  | { kind: 'postgres', url: string, directUrl: string, poolSize: number }
  | { kind: 'pglite', dataDir: string }

export interface PoolStats {
  /** Connections checked out (a query or a transaction running on them). */
  inUse: number
  idle: number
  /** Requests queued for a connection (the pool is at DATABASE_POOL_SIZE). */
  waiting: number
}

export interface Database {
  kind: DatabaseTarget['kind']
  prisma: PrismaClient
  /** Single statements on the hot paths (see sql-client.ts). */
  sql: SqlClient
  /** The embedded instance (PGlite only): pg-boss (the webhook queue) talks to it directly. */
  pglite?: PGlite
  /** The PostgreSQL connection pool now; PGlite has one connection and no pool (undefined). */
  poolStats?: () => PoolStats
  /** Receives the notifications of `channel` (see notifications.ts) until closed. */
  listen(channel: string, handlers: NotificationHandlers): Promise<NotificationListener>
  /** Throws when the database cannot answer. */
  ping(): Promise<void>
  migrate(): Promise<MigrationResult>
  close(): Promise<void>
}

/**
 * Prisma's defaults (2 s to get a connection, 5 s for the whole transaction) turn a busy pool or
 * a loaded machine into 500s; deputy's transactions are short, but may queue behind a row lock
 * (issuance behind a revocation) or the probe-budget lock.
 */
const TRANSACTION_OPTIONS = { maxWait: 10_000, timeout: 15_000 }

export async function openDatabase (target: DatabaseTarget, migrationsDir = defaultMigrationsDir): Promise<Database> {
  return target.kind === 'postgres' ? openPostgres(target, migrationsDir) : openPglite(target.dataDir, migrationsDir)
}

export interface PgPool {
  pool: pg.Pool
  /** Ends the pool and resolves once every one of its connections is closed (at most 5 s). */
  end (): Promise<void>
}

/**
 * A PostgreSQL pool that closes for real. pg's pool.end() resolves as soon as it has asked each
 * connection to end, before their sockets close; a backend terminated in between (a test dropping
 * its database, a failover) then errors on a connection whose pool nobody listens to any more, an
 * uncaught exception. `onError`: an idle connection's error while the pool is open.
 */
export function openPgPool (config: pg.PoolConfig, onError: (error: Error) => void = () => {}): PgPool {
  const pool = new pg.Pool(config)
  const open = new Set<pg.PoolClient>()
  let closed: (() => void) | undefined
  pool.on('connect', (client) => { open.add(client) })
  pool.on('remove', (client) => {
    open.delete(client)
    if (open.size === 0) closed?.()
  })
  pool.on('error', (error) => { if (!pool.ending) onError(error) })
  return {
    pool,
    async end () {
      if (!pool.ending) await pool.end()
      if (open.size === 0) return
      await new Promise<void>((resolve) => {
        closed = resolve
        setTimeout(resolve, 5000).unref()
      })
    }
  }
}

function openPostgres ({ url, directUrl, poolSize }: Extract<DatabaseTarget, { kind: 'postgres' }>, migrationsDir: string): Database {
  // deputy makes the pool (the adapter would make the same one) so that metrics can read it.
  const { pool, end } = openPgPool({ connectionString: url, max: poolSize })
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool), transactionOptions: TRANSACTION_OPTIONS })
  return {
    kind: 'postgres',
    prisma,
    sql: poolSqlClient(pool),
    async listen (channel, handlers) { return listenPostgres(directUrl, channel, handlers) },
    poolStats: () => ({ inUse: pool.totalCount - pool.idleCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    async ping () { await prisma.$queryRaw`SELECT 1` },
    async migrate () {
      // The runner holds a session-level advisory lock: PostgreSQL itself, never a pooler.
      const session = await openPgSession(directUrl)
      try {
        return await migrate(session, await readMigrations(migrationsDir))
      } finally {
        await session.close()
      }
    },
    async close () {
      await prisma.$disconnect()
      await end()
    }
  }
}

async function openPglite (dataDir: string, migrationsDir: string): Promise<Database> {
  // Loaded only here so a Postgres deployment never pays for the WASM module.
  const [{ PGlite }, { PrismaPGlite }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('pglite-prisma-adapter')
  ])
  if (dataDir !== 'memory://') await mkdir(dataDir, { recursive: true })
  const pglite = await PGlite.create(dataDir)
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite), transactionOptions: TRANSACTION_OPTIONS })
  const session: SqlSession = pgliteSession(pglite)
  return {
    kind: 'pglite',
    prisma,
    sql: prismaSqlClient(prisma),
    async listen (channel, handlers) { return listenPglite(pglite, channel, handlers) },
    pglite,
    async ping () { await prisma.$queryRaw`SELECT 1` },
    async migrate () { return migrate(session, await readMigrations(migrationsDir)) },
    async close () {
      await prisma.$disconnect()
      await pglite.close()
    }
  }
}
