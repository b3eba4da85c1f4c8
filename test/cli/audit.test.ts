// deputy audit query and deputy audit export: the API's filters as flags, the API's answers on
// stdout (the real command in a child process), and a usage error (exit 2) for a bad flag.
import { readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { main } from '../../src/cli/main.js'
import { ADMIN_TOKEN, buildTestApp, call } from '../helpers/app.js'
import { awsAccount, createCustomer, mintExternalId } from '../helpers/fixtures.js'
import { spawnDeputy } from '../helpers/process.js'

t.test('deputy audit query and export', async (t) => {
  const { app, databaseUrl } = await buildTestApp(t, { AUDIT_SEAL_INTERVAL_MS: '0', LOG_LEVEL: 'warn' })
  const acme = await createCustomer(app)
  const globex = await createCustomer(app)
  for (let i = 0; i < 3; i++) await mintExternalId(app, acme.id, awsAccount())
  await mintExternalId(app, globex.id, awsAccount())
  await app.auditSealer.runOnce()
  const api = async (url: string): Promise<string> => {
    const res = await call(app, 'GET', url, { token: ADMIN_TOKEN })
    t.equal(res.statusCode, 200, `GET ${url}`)
    return res.body
  }
  const env = { DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' }
  const run = async (args: string[]): Promise<{ code: number | null, output: string }> => {
    const deputy = spawnDeputy(args, env)
    const { code } = await deputy.exit
    return { code, output: deputy.output() }
  }
  // Processes cost seconds on these machines: the three real ones run at once.
  const [query, exported, bogus] = await Promise.all([
    run(['audit', 'query', '--customer-id', acme.id, '--action', 'external_id.minted', '--limit', '2']),
    run(['audit', 'export', '--customer-id', acme.id]),
    run(['audit', 'query', '--bogus', 'x'])
  ])

  t.test('query: one page of the API\'s answer for the same filters', async (t) => {
    t.equal(query.code, 0, query.output)
    const page = JSON.parse(query.output) as { items: Array<{ action: string, customerId: string }>, nextCursor: string | null }
    t.equal(page.items.length, 2)
    t.ok(page.items.every((e) => e.action === 'external_id.minted' && e.customerId === acme.id), 'only the matching events')
    t.not(page.nextCursor, null, 'a third one is on the next page')
    t.same(page, JSON.parse(await api(`/v1/audit-events?customerId=${acme.id}&action=external_id.minted&limit=2`)))
  })

  t.test('export: the same NDJSON as the API\'s export', async (t) => {
    t.equal(exported.code, 0, exported.output)
    const lines = exported.output.split('\n').filter((l) => l !== '')
    t.equal(lines.length, 4, 'acme\'s customer.created and three external_id.minted')
    for (const line of lines) t.match(JSON.parse(line), { event: { customerId: acme.id }, seal: { hash: /^[0-9a-f]{64}$/ } })
    t.equal(exported.output, await api(`/v1/audit-events/export?customerId=${acme.id}`), 'byte for byte')
  })

  t.test('in this process: --order asc, --cursor, --after-seq and --output FILE', async (t) => {
    Object.assign(process.env, env)
    t.teardown(() => { for (const key of Object.keys(env)) Reflect.deleteProperty(process.env, key) })
    const stdout = async (args: string[]): Promise<{ code: number, text: string }> => {
      let text = ''
      const write = process.stdout.write.bind(process.stdout)
      process.stdout.write = ((chunk: string | Uint8Array) => { text += chunk.toString(); return true }) as typeof process.stdout.write
      try {
        return { code: await main(args), text }
      } finally {
        process.stdout.write = write
      }
    }
    const first = await stdout(['audit', 'query', '--order', 'asc', '--limit', '3'])
    t.equal(first.code, 0)
    const page = JSON.parse(first.text) as { items: Array<{ seq: string }>, nextCursor: string }
    t.same(page, JSON.parse(await api('/v1/audit-events?order=asc&limit=3')))
    const second = await stdout(['audit', 'query', '--order', 'asc', '--limit', '3', '--cursor', page.nextCursor])
    t.same(JSON.parse(second.text), JSON.parse(await api(`/v1/audit-events?order=asc&limit=3&cursor=${page.nextCursor}`)))

    const file = join(tmpdir(), `deputy-audit-export-${process.pid}.ndjson`)
    t.teardown(() => rm(file, { force: true }))
    const after = page.items.at(-1)?.seq ?? '0'
    t.equal(await main(['audit', 'export', '--after-seq', after, '--output', file]), 0)
    t.equal(await readFile(file, 'utf8'), await api(`/v1/audit-events/export?afterSeq=${after}`))
    const piped = await stdout(['audit', 'export', '--since', '2000-01-01T00:00:00Z'])
    t.equal(piped.text, await api('/v1/audit-events/export?since=2000-01-01T00:00:00Z'), 'stdout')
  })

  t.test('a bad flag is a usage error: exit 2 and a message', async (t) => {
    t.equal(bogus.code, 2, bogus.output)
    t.match(bogus.output, /Unknown option '--bogus'/)
    t.match(bogus.output, /audit query \[filters\]/, 'with the usage')
    const stderr = async (args: string[]): Promise<{ code: number, text: string }> => {
      let text = ''
      const write = process.stderr.write.bind(process.stderr)
      process.stderr.write = ((chunk: string | Uint8Array) => { text += chunk.toString(); return true }) as typeof process.stderr.write
      try {
        return { code: await main(args), text }
      } finally {
        process.stderr.write = write
      }
    }
    for (const [args, message] of [
      [['audit', 'query', '--outcome', 'maybe'], /--outcome must be one of success, failure, denied/],
      [['audit', 'query', '--since', 'yesterday'], /--since must match format "date-time"/],
      [['audit', 'query', '--customer-id', 'acme'], /--customer-id must match format "uuid"/],
      [['audit', 'query', '--limit', '501'], /--limit must be <= 500/],
      [['audit', 'query', '--order', 'sideways', '--limit', '0'], /--order must be one of desc, asc; --limit must be >= 1/],
      [['audit', 'query', '--cursor', 'not-a-cursor'], /invalid_cursor/],
      [['audit', 'query', '--since'], /argument missing/],
      [['audit', 'query', 'acme'], /Unexpected argument 'acme'/],
      [['audit', 'export', '--action', 'x'], /Unknown option '--action'/],
      [['audit', 'export', '--after-seq=-1'], /--after-seq must match pattern/],
      [['audit', 'export', '--after-seq', '9223372036854775808'], /afterSeq is larger than any seq/],
      [['audit', 'inspect'], /audit takes verify \[--full\], query \[flags\] or export \[flags\]/]
    ] as Array<[string[], RegExp]>) {
      const { code, text } = await stderr(args)
      t.equal(code, 2, args.join(' '))
      t.match(text, message, args.join(' '))
    }
  })
})
