// COPY ... FROM STDIN over a pg.Client, for seeding benchmark data at PostgreSQL's bulk-load
// speed. pg has no COPY API of its own (pg-copy-streams does it, but is not a dependency); it
// does run any "submittable" query object, handing it the connection and the server's replies,
// which is all COPY needs: send the statement, stream CopyData once the server asks, CopyDone.
import { EventEmitter, once } from 'node:events'
import type { Writable } from 'node:stream'
import type pg from 'pg'

/** The part of pg's Connection a COPY uses (pg's own methods, as pg-copy-streams uses them). */
interface CopyConnection {
  stream: Writable
  query (text: string): void
  sendCopyFromChunk (chunk: Buffer): void
  endCopyFrom (): void
  sendCopyFail (message: string): void
}

class CopyFromStdin extends EventEmitter implements pg.Submittable {
  private rowCount = 0
  private failure: Error | undefined
  readonly done: Promise<number>
  private settle!: { resolve: (rows: number) => void, reject: (error: Error) => void }

  constructor (readonly text: string, private readonly source: AsyncIterable<Buffer | string> | Iterable<Buffer | string>) {
    super()
    this.done = new Promise((resolve, reject) => { this.settle = { resolve, reject } })
  }

  submit (connection: pg.Connection): void {
    connection.query(this.text)
  }

  // pg's typings leave out the COPY methods its Connection has: CopyConnection names them.
  handleCopyInResponse (connection: CopyConnection): void {
    this.pump(connection).catch((error: unknown) => {
      this.failure = error instanceof Error ? error : new Error(String(error))
      connection.sendCopyFail(this.failure.message)
    })
  }

  private async pump (connection: CopyConnection): Promise<void> {
    for await (const chunk of this.source) {
      connection.sendCopyFromChunk(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
      // The socket's buffer is the only backpressure: wait for it rather than fill memory.
      if (connection.stream.writableNeedDrain) await once(connection.stream, 'drain')
    }
    connection.endCopyFrom()
  }

  handleCommandComplete (message: { text?: string }): void {
    this.rowCount = Number(/^COPY (\d+)/.exec(message.text ?? '')?.[1] ?? Number.NaN)
  }

  handleError (error: Error): void {
    this.failure ??= error
  }

  handleReadyForQuery (): void {
    if (this.failure !== undefined) this.settle.reject(this.failure)
    else this.settle.resolve(this.rowCount)
  }

  // Messages a COPY FROM does not get; pg's client may still call these on any active query.
  handleRowDescription (): void {}
  handleDataRow (): void {}
  handleEmptyQuery (): void {}
  handlePortalSuspended (): void {}
  handleCopyData (): void {}
}

/**
 * Runs `copySql` (a `COPY ... FROM STDIN` statement) and streams `source` to it: text in COPY's
 * text format. Resolves with the number of rows copied; an error in `source` aborts the COPY.
 */
export async function copyFromStdin (client: pg.Client, copySql: string, source: AsyncIterable<Buffer | string> | Iterable<Buffer | string>): Promise<number> {
  const copy = new CopyFromStdin(copySql, source)
  client.query(copy)
  return copy.done
}
