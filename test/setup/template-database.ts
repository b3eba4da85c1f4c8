// tap `before` script: builds the migrated template database once per run (if the current
// migrations have none yet) and drops test databases that a crashed run left behind. Several
// runs may share one PostgreSQL (developers run suites side by side), so it builds under an
// advisory lock and drops only databases whose creating process is gone.
import { openPgSession } from '../../src/db/sql-session.js'
import { migrate, readMigrations } from '../../src/db/migrate.js'
import { databaseUrl, isLeftover, templateName, withAdminClient } from '../helpers/postgres.js'

const BUILD_LOCK = 0x64657075 // "depu"

const template = await templateName()
await withAdminClient(async (client) => {
  const tests = await client.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'deputy\\_test\\_%'")
  for (const { datname } of tests.rows) {
    if (isLeftover(datname)) await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`)
  }
  await client.query('SELECT pg_advisory_lock($1)', [BUILD_LOCK])
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [template])
    if (exists.rowCount === 1) return
    const building = `${template}_building`
    await client.query(`DROP DATABASE IF EXISTS "${building}" WITH (FORCE)`)
    await client.query(`CREATE DATABASE "${building}"`)
    const session = await openPgSession(databaseUrl(building))
    try {
      await migrate(session, await readMigrations())
    } finally {
      await session.close()
    }
    await client.query(`ALTER DATABASE "${building}" RENAME TO "${template}"`)
    await client.query(`ALTER DATABASE "${template}" WITH IS_TEMPLATE true`)
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [BUILD_LOCK])
  }
})
