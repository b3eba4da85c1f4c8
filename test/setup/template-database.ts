// tap `before` script: builds the migrated template database once per run (if the current
// migrations have none yet) and drops test databases a crashed run left behind.
import { openPgSession } from '../../src/db/sql-session.js'
import { migrate, readMigrations } from '../../src/db/migrate.js'
import { databaseUrl, templateName, withAdminClient } from '../helpers/postgres.js'

const template = await templateName()
await withAdminClient(async (client) => {
  const leftovers = await client.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'deputy\\_test\\_%' OR (datname LIKE 'deputy\\_template\\_%' AND datname <> $1)", [template])
  for (const { datname } of leftovers.rows) {
    await client.query(`ALTER DATABASE "${datname}" WITH IS_TEMPLATE false`)
    await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`)
  }
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
})
