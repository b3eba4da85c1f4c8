// Builds deputy's database handle: Prisma Client over PostgreSQL (DATABASE_URL) or over the
// embedded PGlite in a data directory. Only this folder and repositories touch Prisma.
import { mkdir } from 'node:fs/promises'
import { PrismaPg } from '@prisma/adapter-pg'
import { PrismaClient } from '../generated/prisma/client.js'
import { defaultMigrationsDir, migrate, readMigrations, type MigrationResult } from './migrate.js'
import { openPgSession, pgliteSession, type SqlSession } from './sql-session.js'

export type { PrismaClient }

export type DatabaseTarget =
  | { kind: 'postgres', url: string, poolSize: number }
  | { kind: 'pglite', dataDir: string }

export interface Database {
  kind: DatabaseTarget['kind']
  prisma: PrismaClient
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
  return target.kind === 'postgres' ? openPostgres(target.url, target.poolSize, migrationsDir) : openPglite(target.dataDir, migrationsDir)
}

function openPostgres (url: string, poolSize: number, migrationsDir: string): Database {
  const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: url, max: poolSize }), transactionOptions: TRANSACTION_OPTIONS })
  return {
    kind: 'postgres',
    prisma,
    async ping () { await prisma.$queryRaw`SELECT 1` },
    async migrate () {
      const session = await openPgSession(url)
      try {
        return await migrate(session, await readMigrations(migrationsDir))
      } finally {
        await session.close()
      }
    },
    async close () { await prisma.$disconnect() }
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
    async ping () { await prisma.$queryRaw`SELECT 1` },
    async migrate () { return migrate(session, await readMigrations(migrationsDir)) },
    async close () {
      await prisma.$disconnect()
      await pglite.close()
    }
  }
}
