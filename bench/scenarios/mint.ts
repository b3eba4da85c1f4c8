// Goal 1 of issue 9: external-ID mints per second through deputy against the floor server, the
// same load generator at the same concurrency, one after the other in the same run. Each target
// mints for its own customer in its own freshly migrated database, one new AWS account per
// request; afterwards SQL checks that every 201 is one row with a unique value and its audit event.
import { checkMints, type BenchDatabase, type MintCheck } from '../database.js'
import { createHttpClient, expectStatus, runLoad, type LoadResult } from '../load.js'

export interface MintTarget {
  name: string
  url: string
  pid: number
  customerId: string
  /** The database it mints in, checked afterwards. */
  db: BenchDatabase
}

export interface MintRun {
  target: string
  result: LoadResult
  check: MintCheck
}

export async function runMintPhase (options: {
  targets: MintTarget[]
  token: string
  concurrency: number
  seconds: number
  warmupSeconds: number
}): Promise<MintRun[]> {
  const runs: MintRun[] = []
  for (const target of options.targets) {
    const client = createHttpClient(target.url, options.concurrency)
    const headers = { authorization: `Bearer ${options.token}`, 'content-type': 'application/json' }
    const path = `/v1/customers/${target.customerId}/external-ids`
    let account = 100_000_000_000
    const send = async () => expectStatus(await client.send('POST', path, headers, JSON.stringify({ awsAccountId: String(account++) })), 201)
    let answered201 = 0
    if (options.warmupSeconds > 0) {
      const warm = await runLoad({ label: `${target.name} warm-up`, concurrency: options.concurrency, durationMs: options.warmupSeconds * 1000, send })
      answered201 += warm.ok
      if (warm.errors > 0) throw new Error(`mint warm-up against ${target.name}: ${warm.errors} errors: ${warm.errorSamples.join(' | ')}`)
    }
    const result = await runLoad({ label: `mint via ${target.name}`, concurrency: options.concurrency, durationMs: options.seconds * 1000, send, serverPid: target.pid, databases: [target.db.name] })
    client.close()
    answered201 += result.answers['201'] ?? 0
    const check = await checkMints(target.db, target.customerId, answered201)
    runs.push({ target: target.name, result, check })
    process.stderr.write(`bench: mint via ${target.name}: ${result.rps} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms, ${result.errors} errors, CPU ${JSON.stringify(result.cpu)}; SQL: ${check.rows} rows, ${check.distinctValues} distinct values${check.problems.length > 0 ? `; PROBLEMS: ${check.problems.join('; ')}` : ''}\n`)
  }
  return runs
}
