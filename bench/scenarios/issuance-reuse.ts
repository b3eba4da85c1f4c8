// Issue 18: one STS call per session. A deputy with CREDENTIAL_REUSE=on on the bench database,
// issuing through POST /v1/connections/{id}/credentials at c=64 for SESSIONS distinct requests
// (purposes) round-robin, against the same AssumeRole sent straight with the SDK at the same
// concurrency, alternated ROUNDS times; the ratio is the median of the rounds (each round's is
// kept). The emulator's record counts the AssumeRole calls of each reuse round.
import { randomUUID } from 'node:crypto'
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts'
import { NodeHttpHandler } from '@smithy/node-http-handler'
import { issuanceSessionName, sourceIdentityFor } from '../../src/modules/connections/session-names.js'
import { json } from '../api.js'
import type { BenchDatabase } from '../database.js'
import { startDeputy } from '../deputy.js'
import { createHttpClient, expectStatus, runLoad, type LoadResult, type Outcome } from '../load.js'
import { stopChild } from '../processes.js'
import { CLIENT_NAME, ROLE_ARN } from './issuance.js'

/** Distinct sessions the requests ask for: one purpose each. */
export const SESSIONS = 8
const ROUNDS = 3

export interface ReuseRound {
  direct: LoadResult
  reuse: LoadResult
  /** reuse req/s over direct req/s in this round. */
  ratio: number
  assumeRoleCalls: number
}

export interface ReuseResult {
  concurrency: number
  sessions: number
  rounds: ReuseRound[]
  medianRatio: number
  /** AssumeRole calls per 1,000 reuse requests, the warm-up (where the sessions are made) and every round. */
  stsCallsPerThousand: number
  warmUp: { requests: number, assumeRoleCalls: number }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] ?? Number.NaN : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}

export async function runReusePhase (options: {
  root: string
  logDir: string
  env: Record<string, string>
  adminToken: string
  stsUrl: string
  vendorKeys: { accessKeyId: string, secretAccessKey: string }
  setup: { connectionId: string, customerId: string, externalId: string }
  concurrency: number
  seconds: number
  db: BenchDatabase
  say: (line: string) => void
}): Promise<ReuseResult> {
  const deputy = await startDeputy({ root: options.root, logDir: options.logDir, name: 'deputy-reuse', env: { ...options.env, CREDENTIAL_REUSE: 'on' } })
  const client = createHttpClient(deputy.url, options.concurrency)
  const sts = new STSClient({
    region: 'us-east-1',
    endpoint: options.stsUrl,
    credentials: options.vendorKeys,
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 5000, requestTimeout: 5000, throwOnRequestTimeout: true })
  })
  try {
    const worker = await json<{ token: string }>(`${deputy.url}/v1/api-clients`, { token: options.adminToken, body: { name: `${CLIENT_NAME}-reuse`, scopes: ['credentials:issue'] } })
    const headers = { authorization: `Bearer ${worker.token}`, 'content-type': 'application/json' }
    const path = `/v1/connections/${options.setup.connectionId}/credentials`
    const bodies = Array.from({ length: SESSIONS }, (_, i) => JSON.stringify({ purpose: `benchmark reuse ${i}` }))
    let next = 0
    const viaDeputy = async (): Promise<Outcome> => expectStatus(await client.send('POST', path, headers, bodies[next++ % SESSIONS] ?? ''), 201)
    const sourceIdentity = sourceIdentityFor(CLIENT_NAME)
    const direct = async (): Promise<Outcome> => {
      const out = await sts.send(new AssumeRoleCommand({ RoleArn: ROLE_ARN, RoleSessionName: issuanceSessionName(CLIENT_NAME, options.setup.customerId, randomUUID()), ExternalId: options.setup.externalId, DurationSeconds: 900, SourceIdentity: sourceIdentity }))
      return out.Credentials?.SessionToken === undefined ? { ok: false, answer: 'no credentials' } : { ok: true, answer: 'AssumeRole ok' }
    }
    const assumeRoles = async (): Promise<number> => (await json<Array<{ action: string }>>(`${options.stsUrl}/_emulator/calls`)).filter((c) => c.action === 'AssumeRole').length
    const clearCalls = async (): Promise<void> => { await json(`${options.stsUrl}/_emulator/calls`, { method: 'DELETE' }) }
    const report = (result: LoadResult): LoadResult => {
      options.say(`${result.label}: ${result.requests} requests, ${result.rps} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms, ${result.errors} errors`)
      return result
    }
    // One at a time first (the token is proven by its first success), which also makes the sessions.
    await clearCalls()
    const warmUp = report(await runLoad({ label: 'reuse warm-up via deputy, c=1', concurrency: 1, requests: 100, send: viaDeputy }))
    const warmUpCalls = await assumeRoles()
    const rounds: ReuseRound[] = []
    const databases = [options.db.name]
    for (let round = 1; round <= ROUNDS; round++) {
      const directRun = report(await runLoad({ label: `AssumeRole direct, c=${options.concurrency}, round ${round}`, concurrency: options.concurrency, durationMs: options.seconds * 1000, send: direct, databases }))
      await clearCalls()
      const reuseRun = report(await runLoad({ label: `issuance with reuse via deputy, c=${options.concurrency}, round ${round}`, concurrency: options.concurrency, durationMs: options.seconds * 1000, send: viaDeputy, serverPid: deputy.child.pid, databases }))
      const calls = await assumeRoles()
      await clearCalls()
      rounds.push({ direct: directRun, reuse: reuseRun, ratio: directRun.rps === 0 ? 0 : reuseRun.rps / directRun.rps, assumeRoleCalls: calls })
    }
    // The warm-up counts: it is where the sessions were made.
    const requests = warmUp.requests + rounds.reduce((n, r) => n + r.reuse.requests, 0)
    const calls = warmUpCalls + rounds.reduce((n, r) => n + r.assumeRoleCalls, 0)
    return {
      concurrency: options.concurrency,
      sessions: SESSIONS,
      rounds,
      medianRatio: median(rounds.map((r) => r.ratio)),
      stsCallsPerThousand: requests === 0 ? Number.NaN : calls / requests * 1000,
      warmUp: { requests: warmUp.requests, assumeRoleCalls: warmUpCalls }
    }
  } finally {
    client.close()
    sts.destroy()
    await stopChild(deputy.child)
  }
}
