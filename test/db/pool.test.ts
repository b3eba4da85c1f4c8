// deputy's PostgreSQL pools close for real. pg's pool.end() resolves before its connections'
// sockets have closed; a backend terminated in between (a test dropping its database right after,
// a failover) then errors on a connection whose pool nobody listens to any more, an uncaught
// exception (webhooks.test.ts used to fail at teardown with 57P01 this way).
import type pg from 'pg'
import t from 'tap'
import { openPgPool } from '../../src/db/database.js'
import { createTestDatabase, withAdminClient } from '../helpers/postgres.js'

t.test('a pool ends once every connection is closed, and an error on a closing connection goes nowhere', async (t) => {
  const url = await createTestDatabase(t)
  const name = `deputy-pool-test-${process.pid}`
  const errors: Error[] = []
  const { pool, end } = openPgPool({ connectionString: url, max: 4, application_name: name }, (error) => { errors.push(error) })
  const clients: pg.PoolClient[] = []
  pool.on('connect', (client) => { clients.push(client) })
  await Promise.all([1, 2, 3, 4].map(async () => pool.query('SELECT pg_sleep(0.05)')))
  t.equal(clients.length, 4, 'four connections open')
  const ending = end()
  // What DROP DATABASE … WITH (FORCE) sends a connection that is still closing. On a bare pg.Pool
  // this emit throws: the pool re-emits the error and nobody listens.
  for (const client of clients) client.emit('error', Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))
  await ending
  t.same(errors, [], 'not reported: the pool is closing')
  for (let i = 0; i < 50; i++) {
    const { rows } = await withAdminClient((client) => client.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [name]))
    if (rows[0]?.n === 0) break
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  t.same((await withAdminClient((client) => client.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [name]))).rows, [{ n: 0 }], 'no connection left')
  await end()
  t.pass('ending twice is fine')
})
