// What one benchmark run holds and must give back: the servers it started and the databases it
// made, stopped and dropped at the end (or on Ctrl-C), and where their logs go.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BenchDatabase } from './database.js'
import { stopChild, type Child } from './processes.js'

export interface BenchSession {
  logDir: string
  say (message: string): void
  /** Keeps `child` to stop at the end; returns it. */
  child (child: Child): Child
  /** Keeps `db` to drop at the end; returns it. */
  database (db: BenchDatabase): BenchDatabase
  /** Drops `db` now (it is no longer needed, and it is large). */
  drop (db: BenchDatabase): Promise<void>
  cleanUp (): Promise<void>
}

export function createBenchSession (): BenchSession {
  const logDir = mkdtempSync(join(tmpdir(), 'deputy-bench-'))
  const children: Child[] = []
  const databases: BenchDatabase[] = []
  const say = (message: string): void => { process.stderr.write(`bench: ${message}\n`) }
  const session: BenchSession = {
    logDir,
    say,
    child (child) {
      children.push(child)
      return child
    },
    database (db) {
      databases.push(db)
      say(`created database ${db.name}`)
      return db
    },
    async drop (db) {
      const i = databases.indexOf(db)
      if (i >= 0) databases.splice(i, 1)
      await db.drop()
      say(`dropped database ${db.name}`)
    },
    async cleanUp () {
      await Promise.all(children.splice(0).map((child) => stopChild(child)))
      for (const db of [...databases]) await session.drop(db)
    }
  }
  // Ctrl-C: stop the servers and drop the databases before leaving.
  process.once('SIGINT', () => {
    say('interrupted; cleaning up')
    session.cleanUp().finally(() => process.exit(130))
  })
  return session
}
