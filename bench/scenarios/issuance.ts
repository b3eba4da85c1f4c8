// Goal 2 of issue 9: what deputy adds to an AssumeRole. The same call (role, external ID,
// duration, a session name and source identity shaped like deputy's) sent straight to the STS
// emulator with @aws-sdk/client-sts, and as POST /v1/connections/{id}/credentials through
// deputy, which makes it with the same SDK against the same emulator: one request at a time for
// the added latency, then `concurrency` at once for throughput.
import { randomUUID } from 'node:crypto'
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts'
import { NodeHttpHandler } from '@smithy/node-http-handler'
import { issuanceSessionName, sourceIdentityFor } from '../../src/modules/connections/session-names.js'
import { createCustomer, json } from '../api.js'
import { checkIssuance, type BenchDatabase, type IssuanceCheck } from '../database.js'
import { createHttpClient, expectStatus, runLoad, type LoadResult, type Outcome } from '../load.js'

export const VENDOR_ARN = 'arn:aws:iam::111111111111:user/deputy-bench'
export const CLIENT_NAME = 'bench-worker'
const ACCOUNT = '123456789012'
export const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/DeputyBench`

export interface IssuanceResult {
  oneAtATime: { direct: LoadResult, deputy: LoadResult }
  concurrent: { direct: LoadResult, deputy: LoadResult }
  check: IssuanceCheck
  /** What later phases need to issue on the same connection (and to call AssumeRole on its role directly). */
  setup: { connectionId: string, workerToken: string, customerId: string, externalId: string }
}

export async function runIssuancePhase (options: {
  deputyUrl: string
  deputyPid: number
  emulatorPid: number
  adminToken: string
  stsUrl: string
  vendorKeys: { accessKeyId: string, secretAccessKey: string }
  requests: number
  concurrency: number
  seconds: number
  warmupSeconds: number
  db: BenchDatabase
}): Promise<IssuanceResult> {
  const { deputyUrl, adminToken: token, stsUrl } = options
  // The customer's side, as onboarding asks for it: a role that trusts the vendor with the exact
  // external ID and lets it set a source identity.
  const customer = await createCustomer(deputyUrl, token, 'bench issuance')
  const externalId = await json<{ id: string, externalId: string }>(`${deputyUrl}/v1/customers/${customer.id}/external-ids`, { token, body: { awsAccountId: ACCOUNT } })
  await json(`${stsUrl}/_emulator/roles`, {
    method: 'PUT',
    body: {
      arn: ROLE_ARN,
      maxSessionDuration: 3600,
      trustPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: VENDOR_ARN }, Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'], Condition: { StringEquals: { 'sts:ExternalId': externalId.externalId } } }] }
    }
  })
  const connection = await json<{ id: string, status: string }>(`${deputyUrl}/v1/customers/${customer.id}/connections`, { token, body: { externalIdId: externalId.id, roleArn: ROLE_ARN } })
  if (connection.status !== 'active') throw new Error(`the bench connection is ${connection.status}, not active: the probe did not pass`)
  const worker = await json<{ token: string }>(`${deputyUrl}/v1/api-clients`, { token, body: { name: CLIENT_NAME, scopes: ['credentials:issue'] } })

  const deputyClient = createHttpClient(deputyUrl, options.concurrency)
  const deputyHeaders = { authorization: `Bearer ${worker.token}`, 'content-type': 'application/json' }
  const deputyPath = `/v1/connections/${connection.id}/credentials`
  const body = JSON.stringify({ purpose: 'benchmark' })
  const viaDeputy = async (): Promise<Outcome> => expectStatus(await deputyClient.send('POST', deputyPath, deputyHeaders, body), 201)

  // The SDK as deputy's STS gateway sets it up: one attempt per call, the same handler settings.
  const sts = new STSClient({
    region: 'us-east-1',
    endpoint: stsUrl,
    credentials: options.vendorKeys,
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 5000, requestTimeout: 5000, throwOnRequestTimeout: true })
  })
  const sourceIdentity = sourceIdentityFor(CLIENT_NAME)
  const direct = async (): Promise<Outcome> => {
    const out = await sts.send(new AssumeRoleCommand({
      RoleArn: ROLE_ARN,
      RoleSessionName: issuanceSessionName(CLIENT_NAME, customer.id, randomUUID()),
      ExternalId: externalId.externalId,
      DurationSeconds: 900,
      SourceIdentity: sourceIdentity
    }))
    return out.Credentials?.SessionToken === undefined ? { ok: false, answer: 'no credentials' } : { ok: true, answer: 'AssumeRole ok' }
  }

  // The emulator keeps a record of every call; emptied between phases so it stays small.
  const clearCalls = async (): Promise<void> => { await json(`${stsUrl}/_emulator/calls`, { method: 'DELETE' }) }
  let deputy201 = 0
  const counted = (result: LoadResult, path: 'deputy' | 'direct'): LoadResult => {
    if (path === 'deputy') deputy201 += result.answers['201'] ?? 0
    process.stderr.write(`bench: ${result.label}: ${result.requests} requests, ${result.rps} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms, ${result.errors} errors${result.cpu === undefined ? '' : `, CPU ${JSON.stringify(result.cpu)}`}\n`)
    if (result.errors > 0) process.stderr.write(`bench:   errors: ${result.errorSamples.join(' | ')}\n`)
    if (result.errors > 0 && result.label.includes('warm-up')) throw new Error(`${result.label}: ${result.errors} errors`)
    return result
  }

  try {
    // One request at a time first: a new token becomes "proven" for this address with its first
    // success, and until then concurrent attempts count against the auth-failure throttle
    // (AUTH_FAILURE_LIMIT_MAX), which answers 429 past it, as it should for unknown tokens.
    counted(await runLoad({ label: 'issuance warm-up via deputy, c=1', concurrency: 1, requests: 100, send: viaDeputy }), 'deputy')
    counted(await runLoad({ label: 'issuance warm-up direct, c=1', concurrency: 1, requests: 100, send: direct }), 'direct')
    if (options.warmupSeconds > 0) {
      counted(await runLoad({ label: 'issuance warm-up via deputy', concurrency: options.concurrency, durationMs: options.warmupSeconds * 1000, send: viaDeputy }), 'deputy')
      counted(await runLoad({ label: 'issuance warm-up direct', concurrency: options.concurrency, durationMs: options.warmupSeconds * 1000, send: direct }), 'direct')
      await clearCalls()
    }
    const [deputyPid, emulatorPid] = [options.deputyPid, options.emulatorPid]
    const databases = [options.db.name]
    const oneDirect = counted(await runLoad({ label: 'AssumeRole direct, c=1', concurrency: 1, requests: options.requests, send: direct, serverPid: emulatorPid, databases }), 'direct')
    const oneDeputy = counted(await runLoad({ label: 'issuance via deputy, c=1', concurrency: 1, requests: options.requests, send: viaDeputy, serverPid: deputyPid, databases }), 'deputy')
    await clearCalls()
    const manyDirect = counted(await runLoad({ label: `AssumeRole direct, c=${options.concurrency}`, concurrency: options.concurrency, durationMs: options.seconds * 1000, send: direct, serverPid: emulatorPid, databases }), 'direct')
    await clearCalls()
    const manyDeputy = counted(await runLoad({ label: `issuance via deputy, c=${options.concurrency}`, concurrency: options.concurrency, durationMs: options.seconds * 1000, send: viaDeputy, serverPid: deputyPid, databases }), 'deputy')
    await clearCalls()
    const check = await checkIssuance(options.db, connection.id, deputy201)
    return { oneAtATime: { direct: oneDirect, deputy: oneDeputy }, concurrent: { direct: manyDirect, deputy: manyDeputy }, check, setup: { connectionId: connection.id, workerToken: worker.token, customerId: customer.id, externalId: externalId.externalId } }
  } finally {
    deputyClient.close()
    sts.destroy()
  }
}
