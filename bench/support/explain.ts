// EXPLAIN (ANALYZE, BUFFERS) of a statement captured off the wire (bench/support/sql-capture.ts),
// with the values deputy bound to it. PREPARE with the types deputy declared (or inferred, as the
// server inferred them for deputy), then EXECUTE: the first executions of a prepared statement
// are planned for their actual values, as deputy's unnamed statements always are.
import pg from 'pg'
import type { CapturedStatement } from './sql-capture.js'

const literal = (value: string | null): string => (value === null ? 'NULL' : `'${value.replaceAll("'", "''")}'`)

export async function explainAnalyze (databaseUrl: string, statement: CapturedStatement): Promise<string> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    let types = ''
    if (statement.paramTypes.some((oid) => oid !== 0)) {
      const names = await Promise.all(statement.paramTypes.map(async (oid) =>
        oid === 0 ? 'unknown' : (await client.query<{ name: string }>('SELECT format_type($1::oid, NULL) AS name', [oid])).rows[0]?.name ?? 'unknown'))
      types = ` (${names.join(', ')})`
    }
    await client.query(`PREPARE bench_explain${types} AS ${statement.sql}`)
    const args = statement.params.length === 0 ? '' : `(${statement.params.map(literal).join(', ')})`
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_explain${args}`)
    return rows.map((row) => row['QUERY PLAN']).join('\n')
  } finally {
    await client.end()
  }
}

/** The statement with its values written in place of $1, $2, ...: for reading, not for running. */
export function withValues (statement: CapturedStatement): string {
  const lines = statement.sql.replace(/\$(\d+)/g, (whole, n: string) => {
    const value = statement.params[Number(n) - 1]
    return value === undefined ? whole : literal(value)
  }).replace(/^\s*\n/, '').trimEnd().split('\n')
  // Without the indentation the statement had in deputy's source.
  const indent = Math.min(...lines.filter((line) => line.trim() !== '').map((line) => /^ */.exec(line)?.[0].length ?? 0))
  return lines.map((line) => line.slice(indent)).join('\n')
}
