// The benchmark's own PostgreSQL database: created empty beside the admin URL, migrated by
// deputy itself, checked in SQL after each phase, dropped at the end.
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { runToEnd } from './processes.js'

export interface BenchDatabase {
  name: string
  url: string
  /** Runs one query on a short-lived connection. */
  query<T extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<T[]>
  drop(): Promise<void>
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

export async function createBenchDatabase (adminUrl: string): Promise<BenchDatabase> {
  const name = `deputy_bench_${randomBytes(4).toString('hex')}`
  await withClient(adminUrl, (client) => client.query(`CREATE DATABASE "${name}"`))
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return {
    name,
    url: url.toString(),
    query: async <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []) => withClient(url.toString(), async (client) => (await client.query<T>(sql, params)).rows),
    drop: () => withClient(adminUrl, async (client) => { await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) })
  }
}

export async function postgresVersion (adminUrl: string): Promise<string> {
  return withClient(adminUrl, async (client) => {
    const { rows } = await client.query<{ version: string, sync: string }>("SELECT current_setting('server_version') AS version, current_setting('synchronous_commit') AS sync")
    return `PostgreSQL ${rows[0]?.version ?? '?'} (synchronous_commit = ${rows[0]?.sync ?? '?'})`
  })
}

export interface MintCheck {
  rows: number
  distinctValues: number
  distinctAccounts: number
  auditEvents: number
  withoutAudit: number
  /** What is wrong, empty when nothing is. */
  problems: string[]
}

/**
 * The mints a customer received, checked in SQL: as many rows as answers 201, no external ID
 * value twice (nor any account), and exactly one `external_id.minted` audit event per row.
 */
export async function checkMints (db: BenchDatabase, customerId: string, answered201: number): Promise<MintCheck> {
  const [row] = await db.query<{ rows: string, values: string, accounts: string, audits: string, orphans: string }>(`
    SELECT count(*) AS rows,
           count(DISTINCT e.value) AS values,
           count(DISTINCT e.aws_account_id) AS accounts,
           (SELECT count(*) FROM audit_events a WHERE a.customer_id = $1 AND a.action = 'external_id.minted') AS audits,
           count(*) FILTER (WHERE NOT EXISTS (
             SELECT 1 FROM audit_events a WHERE a.customer_id = $1 AND a.action = 'external_id.minted' AND a.resource_id = e.id::text)) AS orphans
      FROM external_ids e WHERE e.customer_id = $1`, [customerId])
  const check = {
    rows: Number(row?.rows),
    distinctValues: Number(row?.values),
    distinctAccounts: Number(row?.accounts),
    auditEvents: Number(row?.audits),
    withoutAudit: Number(row?.orphans),
    problems: [] as string[]
  }
  if (check.rows !== answered201) check.problems.push(`${check.rows} rows for ${answered201} answers 201`)
  if (check.distinctValues !== check.rows) check.problems.push(`${check.rows - check.distinctValues} duplicate external ID values`)
  if (check.distinctAccounts !== check.rows) check.problems.push(`${check.rows - check.distinctAccounts} accounts minted twice`)
  if (check.auditEvents !== check.rows) check.problems.push(`${check.auditEvents} external_id.minted events for ${check.rows} rows`)
  if (check.withoutAudit !== 0) check.problems.push(`${check.withoutAudit} external IDs without their audit event`)
  return check
}

export interface IssuanceCheck {
  issued: number
  distinctSessions: number
  refused: number
  problems: string[]
}

/** Every credential deputy returned has its `credentials.issued` event; none was refused. */
export async function checkIssuance (db: BenchDatabase, connectionId: string, answered201: number): Promise<IssuanceCheck> {
  const [row] = await db.query<{ issued: string, sessions: string, refused: string }>(`
    SELECT count(*) FILTER (WHERE action = 'credentials.issued') AS issued,
           count(DISTINCT details->>'sessionName') FILTER (WHERE action = 'credentials.issued') AS sessions,
           count(*) FILTER (WHERE action LIKE 'credentials.%' AND outcome <> 'success') AS refused
      FROM audit_events WHERE resource_id = $1`, [connectionId])
  const check = { issued: Number(row?.issued), distinctSessions: Number(row?.sessions), refused: Number(row?.refused), problems: [] as string[] }
  if (check.issued !== answered201) check.problems.push(`${check.issued} credentials.issued events for ${answered201} answers 201`)
  if (check.distinctSessions !== check.issued) check.problems.push(`${check.issued - check.distinctSessions} session names issued twice`)
  if (check.refused !== 0) check.problems.push(`${check.refused} credential requests refused or failed`)
  return check
}

/** A fresh bench database migrated by `deputy migrate` (dist/ must be built); the time it took. */
export async function createMigratedDatabase (options: { adminUrl: string, root: string, env: Record<string, string>, setupSql: string | undefined }): Promise<{ db: BenchDatabase, migrateMs: number }> {
  const db = await createBenchDatabase(options.adminUrl)
  try {
    const migrateMs = await runToEnd('deputy migrate', process.execPath, ['bin/deputy.js', 'migrate'], { ...options.env, DATABASE_URL: db.url, LOG_LEVEL: 'warn' }, options.root)
    if (options.setupSql !== undefined) await db.query(options.setupSql)
    return { db, migrateMs }
  } catch (error) {
    await db.drop()
    throw error
  }
}
