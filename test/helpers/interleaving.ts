// Real interleavings in PostgreSQL for race tests: a second connection (another replica, or a
// DBA), a trigger that holds a transaction open inside an audit insert (for a while, or until
// released), and a wait until it does.
import pg from 'pg'
import type { Test } from 'tap'

export function interleavingOn (databaseUrl: string) {
  async function sql (text: string, values: unknown[] = []): Promise<pg.QueryResult> {
    const client = new pg.Client({ connectionString: databaseUrl })
    await client.connect()
    try {
      return await client.query(text, values)
    } finally {
      await client.end()
    }
  }

  return {
    sql,
    /**
     * Waits until some statement of this test's database sleeps in pg_sleep (a trigger holding its
     * transaction open); other test files running beside it sleep in their own databases.
     */
    async sleeping (): Promise<boolean> {
      for (let i = 0; i < 200; i++) {
        const { rows } = await sql("SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND datname = current_database()")
        if ((rows[0] as { n: number }).n > 0) return true
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      return false
    },
    /** Makes the insert of every `action` audit event sleep inside its transaction, for test `t`. */
    async slowAudit (t: Test, action: string, seconds = 0.6): Promise<void> {
      const name = `slow_${action.replace(/\W/g, '_')}`
      await sql(`CREATE OR REPLACE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(${seconds}); RETURN NEW; END $$;
        CREATE TRIGGER ${name} BEFORE INSERT ON audit_events FOR EACH ROW WHEN (NEW.action = '${action}') EXECUTE FUNCTION ${name}();`)
      t.teardown(() => sql(`DROP TRIGGER IF EXISTS ${name} ON audit_events`))
    },
    /**
     * Makes the insert of every `action` audit event wait inside its transaction, its seq already
     * taken, until the returned release() is called: a late commit on cue, for test `t`.
     */
    async holdAudit (t: Test, action: string): Promise<() => Promise<void>> {
      const name = `hold_${action.replace(/\W/g, '_')}`
      const holder = new pg.Client({ connectionString: databaseUrl })
      await holder.connect()
      await holder.query('SELECT pg_advisory_lock(hashtext($1))', [name])
      await sql(`CREATE OR REPLACE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_xact_lock_shared(hashtext('${name}')); RETURN NEW; END $$;
        CREATE TRIGGER ${name} BEFORE INSERT ON audit_events FOR EACH ROW WHEN (NEW.action = '${action}') EXECUTE FUNCTION ${name}();`)
      let released = false
      const release = async (): Promise<void> => {
        if (released) return
        released = true
        await holder.query('SELECT pg_advisory_unlock(hashtext($1))', [name])
        await holder.end()
      }
      t.teardown(async () => { await release(); await sql(`DROP TRIGGER IF EXISTS ${name} ON audit_events`) })
      return release
    },
    /** Waits until some statement in this database waits for an advisory lock (an insert held by holdAudit). */
    async held (): Promise<boolean> {
      for (let i = 0; i < 500; i++) {
        const { rows } = await sql("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'")
        if ((rows[0] as { n: number }).n > 0) return true
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      return false
    }
  }
}
