// What deputy really sends to PostgreSQL, read off the wire: a TCP proxy between deputy and the
// database that decodes the client's side of the protocol and keeps every statement with its
// parameters (Parse + Bind, or a simple Query) and counts round trips (each Sync or simple Query
// waits for the server's ReadyForQuery). Used only in the benchmark's capture phases, never in
// a measured one: EXPLAIN gets the exact SQL and values deputy used, and the capacity model the
// exact number of round trips per operation. pg_stat_statements would need the server's
// shared_preload_libraries, which a benchmark on a shared PostgreSQL cannot assume.
import { once } from 'node:events'
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net'

export interface CapturedStatement {
  sql: string
  /** Parameter values as sent: text format, or \x-hex for binary ones; null for NULL. */
  params: Array<string | null>
  /** The type OIDs the client declared in Parse (0: let the server infer). */
  paramTypes: number[]
}

export interface CaptureWindow {
  statements: CapturedStatement[]
  /** Syncs plus simple queries: the times the client waited for the server. */
  roundTrips: number
}

export interface SqlCapture {
  /** `databaseUrl` with the proxy's host and port. */
  url: string
  /** Everything captured since the previous take() (or the start), and starts afresh. */
  take (): CaptureWindow
  close (): Promise<void>
}

const SSL_REQUEST = 80877103
const GSS_REQUEST = 80877104

function cstring (buf: Buffer, at: number): [string, number] {
  const end = buf.indexOf(0, at)
  return [buf.toString('utf8', at, end), end + 1]
}

/** Decodes one client connection's messages as they stream past. */
function clientDecoder (record: (statement: CapturedStatement) => void, roundTrip: () => void) {
  let pending: Buffer = Buffer.alloc(0)
  let started = false
  const prepared = new Map<string, { sql: string, types: number[] }>()

  function message (type: string, body: Buffer): void {
    if (type === 'P') {
      const [name, afterName] = cstring(body, 0)
      const [sql, afterSql] = cstring(body, afterName)
      const count = body.readInt16BE(afterSql)
      const types = Array.from({ length: count }, (_, i) => body.readInt32BE(afterSql + 2 + i * 4))
      prepared.set(name, { sql, types })
    } else if (type === 'B') {
      const [, afterPortal] = cstring(body, 0)
      const [name, afterName] = cstring(body, afterPortal)
      let at = afterName
      const formatCount = body.readInt16BE(at)
      const formats = Array.from({ length: formatCount }, (_, i) => body.readInt16BE(at + 2 + i * 2))
      at += 2 + formatCount * 2
      const count = body.readInt16BE(at)
      at += 2
      const params: Array<string | null> = []
      for (let i = 0; i < count; i++) {
        const length = body.readInt32BE(at)
        at += 4
        if (length < 0) {
          params.push(null)
          continue
        }
        const binary = (formatCount === 1 ? formats[0] : formats[i]) === 1
        params.push(binary ? `\\x${body.toString('hex', at, at + length)}` : body.toString('utf8', at, at + length))
        at += length
      }
      const statement = prepared.get(name)
      record({ sql: statement?.sql ?? `(unknown prepared statement "${name}")`, params, paramTypes: statement?.types ?? [] })
    } else if (type === 'Q') {
      record({ sql: cstring(body, 0)[0], params: [], paramTypes: [] })
      roundTrip()
    } else if (type === 'S') {
      roundTrip()
    }
  }

  return (chunk: Buffer): void => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
    for (;;) {
      if (!started) {
        // Startup, SSL and GSS requests: a length and a code, no type byte.
        if (pending.length < 8) return
        const length = pending.readInt32BE(0)
        if (pending.length < length) return
        const code = pending.readInt32BE(4)
        pending = pending.subarray(length)
        if (code !== SSL_REQUEST && code !== GSS_REQUEST) started = true
        continue
      }
      if (pending.length < 5) return
      const length = pending.readInt32BE(1)
      if (pending.length < 1 + length) return
      message(String.fromCharCode(pending[0] as number), pending.subarray(5, 1 + length))
      pending = pending.subarray(1 + length)
    }
  }
}

export async function startSqlCapture (databaseUrl: string): Promise<SqlCapture> {
  const target = new URL(databaseUrl)
  let window: CaptureWindow = { statements: [], roundTrips: 0 }
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = createConnection({ host: target.hostname, port: Number(target.port || 5432) })
    sockets.add(client)
    sockets.add(upstream)
    const decode = clientDecoder((statement) => { window.statements.push(statement) }, () => { window.roundTrips++ })
    client.on('data', (chunk: Buffer) => {
      decode(chunk)
      upstream.write(chunk)
    })
    upstream.pipe(client)
    const end = (): void => {
      client.destroy()
      upstream.destroy()
      sockets.delete(client)
      sockets.delete(upstream)
    }
    client.on('close', end)
    upstream.on('close', end)
    client.on('error', end)
    upstream.on('error', end)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const url = new URL(databaseUrl)
  url.hostname = '127.0.0.1'
  url.port = String((server.address() as AddressInfo).port)
  return {
    url: url.toString(),
    take () {
      const taken = window
      window = { statements: [], roundTrips: 0 }
      return taken
    },
    async close () {
      for (const socket of sockets) socket.destroy()
      server.close()
      await once(server, 'close')
    }
  }
}
