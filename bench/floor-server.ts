// The floor of goal 1 in issue 9: the least a server can do and still mint durably. Fastify and
// a `pg` pool, no authentication, no logging; one statement per mint (the customer check, the
// external ID and its audit event, in deputy's own tables, so the database triggers and indexes
// are deputy's), one commit. Same route and body as deputy's mint, so the same load drives both.
//   DATABASE_URL, DATABASE_POOL_SIZE (10), PORT, HOST (127.0.0.1)
import { randomUUID } from 'node:crypto'
import Fastify from 'fastify'
import pg from 'pg'

const MINT = `
  WITH customer AS (
    SELECT id FROM customers WHERE id = $1 AND status = 'active'
  ), minted AS (
    INSERT INTO external_ids (customer_id, aws_account_id, value)
    SELECT id, $2, $3 FROM customer
    RETURNING id, customer_id, aws_account_id, value, status, created_at
  ), audited AS (
    INSERT INTO audit_events (action, outcome, customer_id, resource_type, resource_id, request_id, source_ip, user_agent, details)
    SELECT 'external_id.minted', 'success', customer_id, 'external_id', id::text, $4, $5, $6,
           jsonb_build_object('awsAccountId', aws_account_id, 'externalId', value)
      FROM minted
  )
  SELECT id, customer_id, aws_account_id, value, status, created_at FROM minted`

interface MintedRow { id: string, customer_id: string, aws_account_id: string, value: string, status: string, created_at: Date }

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.DATABASE_POOL_SIZE ?? 10) })
const app = Fastify({ logger: false })

app.get('/readyz', async () => {
  await pool.query('SELECT 1')
  return { status: 'ok' }
})

app.post<{ Params: { customerId: string }, Body: { awsAccountId: string } }>('/v1/customers/:customerId/external-ids', {
  schema: {
    params: { type: 'object', properties: { customerId: { type: 'string', format: 'uuid' } }, required: ['customerId'] },
    body: { type: 'object', properties: { awsAccountId: { type: 'string', pattern: '^[0-9]{12}$' } }, required: ['awsAccountId'], additionalProperties: false }
  }
}, async (request, reply) => {
  try {
    const { rows } = await pool.query<MintedRow>(MINT, [request.params.customerId, request.body.awsAccountId, randomUUID(), request.id, request.ip, request.headers['user-agent'] ?? null])
    const row = rows[0]
    if (row === undefined) return await reply.code(404).send({ code: 'not_found' })
    return await reply.code(201).send({ id: row.id, customerId: row.customer_id, awsAccountId: row.aws_account_id, externalId: row.value, status: row.status, createdAt: row.created_at.toISOString() })
  } catch (error) {
    if ((error as { code?: string }).code === '23505') return await reply.code(409).send({ code: 'external_id_exists' })
    throw error
  }
})

await app.listen({ port: Number(process.env.PORT ?? 0), host: process.env.HOST ?? '127.0.0.1' })
process.stdout.write(`floor server listening on ${JSON.stringify(app.server.address())}\n`)
process.on('SIGTERM', () => {
  app.close().then(() => pool.end()).then(() => process.exit(0), () => process.exit(1))
})
