// Goal 3's data: an audit trail of millions of events (audit-events.ts) written straight into a
// freshly migrated bench database with COPY.
//
// Sealed consistently: the events are hashed exactly as deputy's sealer hashes them (the
// canonical JSON of the API's view, checked against src/modules/audit/seal-hash.ts on a sample
// of rows) and chained into seals of SEAL_SIZE events each (deputy's own sealer writes one event
// per seal; the integrity check accepts either). The sealed horizon is therefore the last
// seeded event: order=asc reads the whole trail, GET /v1/audit-events/integrity?full=true
// passes, and deputy's sealer, started afterwards, has only the events the benchmark itself
// causes to seal, so it takes nothing from the measurement.
//
// How: one transaction empties the table (it was empty: refused otherwise), drops its indexes
// and COPYs the rows FREEZE (frozen and all-visible, as autovacuum leaves a table of old
// events; no hint-bit writes or VACUUM during the measurement); the indexes are then built again
// from their own definitions, two at a time, and the result is checked to be the migrated
// schema exactly. ANALYZE last, as autovacuum would have.
import { createHash } from 'node:crypto'
import pg from 'pg'
import { canonicalJson } from '../../src/lib/canonical-json.js'
import { toAuditEventView } from '../../src/modules/audit/audit.service.js'
import { GENESIS_HASH, eventHash, sealHash } from '../../src/modules/audit/seal-hash.js'
import { copyFromStdin } from '../support/copy-in.js'
import { createEventGenerator, rowOf } from './audit-events.js'

/** Events per seeded seal. */
const SEAL_SIZE = 1000
/** Rows per COPY chunk: small enough that their strings die young (a third less generator CPU than 2,000). */
const CHUNK_ROWS = 250
/** Every this many events (and the first and last), the fast hash is checked against deputy's. */
const CHECK_EVERY = 49_999

export interface SeedOptions {
  url: string
  events: number
  customers: number
  months: number
  /** Progress lines. */
  say?: (message: string) => void
}

export interface SeededCustomer { id: string, events: number, connections: string[] }
export interface SeededConnection { id: string, customerId: string, events: number }

export interface SeededTrail {
  events: number
  /** Busiest first. */
  customers: SeededCustomer[]
  /** Busiest first. */
  connections: SeededConnection[]
  /** Events per action, most frequent first. */
  actions: Array<{ action: string, events: number }>
  from: Date
  to: Date
  seals: number
  sealedThroughSeq: bigint
  /** Where the time went, ms. */
  timings: { copy: number, indexes: number, analyze: number, total: number }
  tableMiB: number
  indexesMiB: number
  /** Event hashes checked against deputy's own eventHash(). */
  hashesChecked: number
}

// Every seeded string is ASCII (assertPlain, uuids, digits), whose latin1 and UTF-8 bytes are the
// same; latin1 skips the UTF-8 encoder. The sample check compares with deputy's eventHash().
const sha256 = (text: string): string => createHash('sha256').update(text, 'latin1').digest('hex')

interface IndexDef { name: string, def: string, constraintName: string | null, constraintDef: string | null }

async function indexesOf (client: pg.Client, table: string): Promise<IndexDef[]> {
  const { rows } = await client.query<{ name: string, def: string, constraint_name: string | null, constraint_def: string | null }>(`
    SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS def, con.conname AS constraint_name, pg_get_constraintdef(con.oid) AS constraint_def
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
     WHERE i.indrelid = $1::regclass ORDER BY c.relname`, [table])
  return rows.map((row) => ({ name: row.name, def: row.def, constraintName: row.constraint_name, constraintDef: row.constraint_def }))
}

const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`

async function connect (url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  return client
}

export async function seedAuditTrail (options: SeedOptions): Promise<SeededTrail> {
  const say = options.say ?? (() => {})
  const started = performance.now()
  const generator = createEventGenerator(options)
  const client = await connect(options.url)
  const seals: string[] = []
  let hashesChecked = 0
  try {
    const indexes = await indexesOf(client, 'audit_events')
    // Customers, so the events' customer ids are customers deputy knows.
    await copyFromStdin(client, 'COPY customers (id, name, created_at) FROM STDIN', [
      generator.customers.map((c, i) => `${c.id}\tbench customer ${i + 1}\t${generator.from.toISOString()}\n`).join('')
    ])

    await client.query('BEGIN')
    await client.query('LOCK TABLE audit_events IN ACCESS EXCLUSIVE MODE')
    const [{ count } = { count: '0' }] = (await client.query<{ count: string }>('SELECT count(*) AS count FROM audit_events')).rows
    if (count !== '0') throw new Error(`audit seed: audit_events already holds ${count} events; the seed writes only into an empty trail`)
    // TRUNCATE in this transaction is what lets COPY FREEZE the rows; the trigger that forbids
    // it is off only inside the transaction, and the table is empty (checked under the lock).
    await client.query('ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_truncate')
    await client.query('TRUNCATE audit_events')
    await client.query('ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_truncate')
    for (const index of indexes) {
      await client.query(index.constraintName === null ? `DROP INDEX ${quoteIdent(index.name)}` : `ALTER TABLE audit_events DROP CONSTRAINT ${quoteIdent(index.constraintName)}`)
    }
    let prevHash = GENESIS_HASH
    let sealFrom = 0
    let eventHashes: string[] = []
    const sealedAtOf = (line: string): string => new Date(new Date(line.split('\t', 3)[2] ?? '').getTime() + 5000).toISOString()
    async function * rows (): AsyncGenerator<string> {
      for (let i = 0; i < options.events;) {
        const end = Math.min(options.events, i + CHUNK_ROWS)
        const lines: string[] = []
        for (; i < end; i++) {
          const { line, canonical } = generator.event(i)
          const hash = sha256(canonical)
          if (i === 0 || i === options.events - 1 || i % CHECK_EVERY === 0) {
            const row = rowOf(line)
            const expiration = row.details.expiration
            if (canonicalJson(toAuditEventView(row)) !== canonical || eventHash(row) !== hash || (expiration !== undefined && new Date(expiration).toISOString() !== expiration)) {
              throw new Error(`audit seed: event ${i + 1} hashes differently from deputy's eventHash(); the seed's canonical JSON is out of date:\n${canonical}\n${canonicalJson(toAuditEventView(row))}`)
            }
            hashesChecked++
          }
          lines.push(line)
          eventHashes.push(hash)
          if (eventHashes.length === SEAL_SIZE || i === options.events - 1) {
            const through = i + 1
            const hashOfSeal = sealHash({ prevHash, fromSeq: BigInt(sealFrom), throughSeq: BigInt(through), eventHashes })
            seals.push(`${seals.length + 1}\t${sealFrom}\t${through}\t${eventHashes.length}\t${prevHash}\t${hashOfSeal}\t${sealedAtOf(line)}\n`)
            prevHash = hashOfSeal
            sealFrom = through
            eventHashes = []
          }
        }
        yield lines.join('')
        if (i % 500_000 === 0 && i < options.events) say(`audit seed: ${i.toLocaleString('en-US')} events copied (${Math.round((performance.now() - started) / 1000)} s)`)
      }
    }
    const copied = await copyFromStdin(client, 'COPY audit_events (seq, id, occurred_at, actor_client_id, action, outcome, customer_id, resource_type, resource_id, request_id, source_ip, user_agent, details) FROM STDIN WITH (FREEZE)', rows())
    if (copied !== options.events) throw new Error(`audit seed: COPY wrote ${copied} events, not ${options.events}`)
    await copyFromStdin(client, 'COPY audit_seals (id, from_seq, through_seq, event_count, prev_hash, hash, sealed_at) FROM STDIN', [seals.join('')])
    await client.query("SELECT setval(pg_get_serial_sequence('audit_events', 'seq'), $1)", [options.events])
    await client.query("SELECT setval(pg_get_serial_sequence('audit_seals', 'id'), $1)", [seals.length])
    await client.query('COMMIT')
    const copyMs = performance.now() - started

    say(`audit seed: ${options.events.toLocaleString('en-US')} events and ${seals.length} seals copied in ${Math.round(copyMs / 1000)} s; building ${indexes.length} indexes`)
    await rebuildIndexes(options.url, indexes)
    const after = await indexesOf(client, 'audit_events')
    if (JSON.stringify(after) !== JSON.stringify(indexes)) throw new Error(`audit seed: the indexes rebuilt differ from the migrated ones:\n${JSON.stringify(indexes)}\n${JSON.stringify(after)}`)
    const indexMs = performance.now() - started - copyMs

    await client.query('ANALYZE audit_events')
    await client.query('ANALYZE customers')
    await client.query('ANALYZE audit_seals')
    const analyzeMs = performance.now() - started - copyMs - indexMs
    const [sizes] = (await client.query<{ table: string, indexes: string }>("SELECT pg_table_size('audit_events') AS table, pg_indexes_size('audit_events') AS indexes")).rows
    const customers = generator.customers
      .map((c) => ({ id: c.id, events: c.events, connections: c.connections.map((conn) => conn.id) }))
      .sort((a, b) => b.events - a.events)
    const connections = generator.customers
      .flatMap((c) => c.connections.map((conn) => ({ id: conn.id, customerId: c.id, events: conn.events })))
      .sort((a, b) => b.events - a.events)
    const actions = [...generator.actionCounts].map(([action, events]) => ({ action, events })).sort((a, b) => b.events - a.events)
    return {
      events: options.events,
      customers,
      connections,
      actions,
      from: generator.from,
      to: generator.to,
      seals: seals.length,
      sealedThroughSeq: BigInt(options.events),
      timings: { copy: Math.round(copyMs), indexes: Math.round(indexMs), analyze: Math.round(analyzeMs), total: Math.round(performance.now() - started) },
      tableMiB: Math.round(Number(sizes?.table) / 2 ** 20),
      indexesMiB: Math.round(Number(sizes?.indexes) / 2 ** 20),
      hashesChecked
    }
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    throw error
  } finally {
    await client.end()
  }
}

/**
 * Builds the indexes again from their definitions on two connections at once (the machine has
 * two cores), with memory enough for each sort to stay in RAM.
 */
async function rebuildIndexes (url: string, indexes: IndexDef[]): Promise<void> {
  const queue = [...indexes]
  const worker = async (): Promise<void> => {
    const client = await connect(url)
    try {
      await client.query("SET maintenance_work_mem = '512MB'")
      await client.query('SET max_parallel_maintenance_workers = 0')
      for (let index = queue.shift(); index !== undefined; index = queue.shift()) {
        await client.query(index.constraintName === null ? index.def : `ALTER TABLE audit_events ADD CONSTRAINT ${quoteIdent(index.constraintName)} ${index.constraintDef ?? ''}`)
      }
    } finally {
      await client.end()
    }
  }
  await Promise.all([worker(), worker()])
}
