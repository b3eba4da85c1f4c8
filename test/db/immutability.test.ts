// What the database itself refuses, tried with raw SQL as an attacker with a connection would.
import { randomUUID } from 'node:crypto'
import pg from 'pg'
import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { awsAccount, createCustomer, mintExternalId } from '../helpers/fixtures.js'

t.test('database rules', async (t) => {
  const { app, databaseUrl } = await buildTestApp(t)
  const sql = new pg.Client({ connectionString: databaseUrl })
  await sql.connect()
  t.teardown(() => sql.end())
  const customer = await createCustomer(app)
  const other = await createCustomer(app)
  const account = awsAccount()
  const minted = await mintExternalId(app, customer.id, account)

  t.test('an external ID value, customer, account and creation time never change', async (t) => {
    for (const [column, value] of [['value', randomUUID()], ['customer_id', other.id], ['aws_account_id', '000000000000'], ['created_at', '2020-01-01T00:00:00Z'], ['id', randomUUID()]]) {
      await t.rejects(sql.query(`UPDATE external_ids SET ${column ?? ''} = $1 WHERE id = $2`, [value, minted.id]), /immutable/, column ?? '')
    }
    const row = await sql.query('SELECT value FROM external_ids WHERE id = $1', [minted.id])
    t.equal(row.rows[0].value, minted.externalId)
  })

  t.test('external IDs are never deleted or truncated', async (t) => {
    await t.rejects(sql.query('DELETE FROM external_ids WHERE id = $1', [minted.id]), /never deleted/)
    await t.rejects(sql.query('TRUNCATE external_ids CASCADE'), /append-only/)
  })

  t.test('status moves only active -> retired, once', async (t) => {
    const id = (await mintExternalId(app, customer.id, awsAccount())).id
    await t.rejects(sql.query("UPDATE external_ids SET status = 'active' WHERE id = $1", [id]), /only move once from active to retired/)
    await sql.query("UPDATE external_ids SET status = 'retired', retired_at = now(), retire_reason = 'test' WHERE id = $1", [id])
    await t.rejects(sql.query("UPDATE external_ids SET status = 'active', retired_at = NULL, retire_reason = NULL WHERE id = $1", [id]), /only move once/)
    await t.rejects(sql.query("UPDATE external_ids SET retire_reason = 'rewritten' WHERE id = $1", [id]), /only move once/)
  })

  t.test('one active ID per customer and account; values unique forever', async (t) => {
    await t.rejects(sql.query('INSERT INTO external_ids (customer_id, aws_account_id, value) VALUES ($1, $2, $3)', [customer.id, account, randomUUID()]), /external_ids_one_active_per_account/)
    await t.rejects(sql.query('INSERT INTO external_ids (customer_id, aws_account_id, value) VALUES ($1, $2, $3)', [other.id, awsAccount(), minted.externalId]), /external_ids_value_key/)
    const retired = await mintExternalId(app, other.id, awsAccount())
    await sql.query("UPDATE external_ids SET status = 'retired', retired_at = now() WHERE id = $1", [retired.id])
    await t.rejects(sql.query('INSERT INTO external_ids (customer_id, aws_account_id, value) VALUES ($1, $2, $3)', [other.id, retired.awsAccountId, retired.externalId]), /external_ids_value_key/, 'a retired value cannot be issued again')
  })

  t.test('values must be random v4 UUIDs and accounts 12 digits', async (t) => {
    await t.rejects(sql.query('INSERT INTO external_ids (customer_id, aws_account_id, value) VALUES ($1, $2, $3)', [customer.id, awsAccount(), '00000000-0000-1000-8000-000000000000']), /external_ids_value_v4_check/)
    await t.rejects(sql.query('INSERT INTO external_ids (customer_id, aws_account_id, value) VALUES ($1, $2, $3)', [customer.id, '1234', randomUUID()]), /external_ids_aws_account_id_check/)
  })

  t.test('the audit trail is append-only', async (t) => {
    await t.rejects(sql.query("UPDATE audit_events SET action = 'nothing.happened'"), /append-only: UPDATE refused/)
    await t.rejects(sql.query('DELETE FROM audit_events'), /append-only: DELETE refused/)
    await t.rejects(sql.query('TRUNCATE audit_events'), /append-only: TRUNCATE refused/)
    const count = await sql.query('SELECT count(*)::int AS n FROM audit_events')
    t.ok(count.rows[0].n > 0)
  })
})
