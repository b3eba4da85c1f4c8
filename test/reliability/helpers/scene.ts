// Setting the scene through public interfaces only: deputy's API and the STS emulator's admin
// routes. Customers, external IDs, roles that pass the probe, connections; and the emulator's
// faults, injected over HTTP as any test or tool outside deputy's process would.
import type { Test } from 'tap'
import { startStsEmulator } from '../../../src/aws/sts-emulator/server.js'
import type { Fault } from '../../../src/aws/sts-emulator/emulator.js'
import { roleArn, secureTrust, VENDOR_ARN } from '../../helpers/aws.js'

/** The bootstrap admin of every reliability deputy (DEPUTY_BOOTSTRAP_ADMIN_TOKEN). */
export const ADMIN_TOKEN = 'dpt_reliability-admin-token-000000000000000000'

export async function api<T> (baseUrl: string, method: string, path: string, body?: unknown, token = ADMIN_TOKEN): Promise<T> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(30_000)
  })
  const text = await res.text()
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`)
  return (text === '' ? undefined : JSON.parse(text)) as T
}

export interface Emulator {
  url: string
  /** What deputy needs to reach it as the vendor (plus test-friendly probe settings). */
  env: Record<string, string>
  inject: (fault: Fault) => Promise<void>
  clear: () => Promise<void>
  putRole: (arn: string, trustPolicy: object) => Promise<void>
}

/** The STS emulator, in this process, driven over its /_emulator routes. */
export async function startEmulator (t: Test): Promise<Emulator> {
  const running = await startStsEmulator()
  t.teardown(() => running.close())
  const admin = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(`${running.url}/_emulator/${path}`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
    if (!res.ok) throw new Error(`emulator ${method} ${path}: ${res.status} ${await res.text()}`)
    return res.json()
  }
  const keys = await admin('POST', 'users', { arn: VENDOR_ARN }) as { accessKeyId: string, secretAccessKey: string }
  return {
    url: running.url,
    env: {
      VENDOR_PRINCIPAL_ARN: VENDOR_ARN,
      AWS_ENDPOINT_URL_STS: running.url,
      AWS_ENDPOINT_URL_IAM: running.url,
      AWS_ACCESS_KEY_ID: keys.accessKeyId,
      AWS_SECRET_ACCESS_KEY: keys.secretAccessKey,
      AWS_REGION: 'us-east-1',
      PROBE_PROPAGATION_WINDOW_MS: '0',
      PROBE_COOLDOWN_MS: '0',
      PROBE_BUDGET_PER_CUSTOMER_PER_HOUR: '100000'
    },
    inject: async (fault) => { await admin('POST', 'faults', fault) },
    clear: async () => { await admin('DELETE', 'faults') },
    putRole: async (arn, trustPolicy) => { await admin('PUT', 'roles', { arn, trustPolicy }) }
  }
}

/** What every load test's deputy runs with: no rate limit in the way of the load, the drift scheduler off. */
export const LOAD_ENV = {
  DEPUTY_BOOTSTRAP_ADMIN_TOKEN: ADMIN_TOKEN,
  RATE_LIMIT_MAX: '1000000',
  LOG_LEVEL: 'warn',
  DRIFT_TICK_MS: '0'
}

export interface SceneCustomer {
  id: string
  connections: Array<{ id: string, account: string }>
}

let accountCounter = 0
/** A fresh 12-digit account id (distinct within this process). */
export const nextAccount = (): string => String(300_000_000_000 + process.pid * 10_000 + ++accountCounter)

/** `customers` customers with `connections` connected roles each (each probe passes against the emulator). */
export async function buildScene (deputyUrl: string, emulator: Emulator, customers: number, connections: number): Promise<SceneCustomer[]> {
  const scene: SceneCustomer[] = []
  for (let c = 0; c < customers; c++) {
    const customer = await api<{ id: string }>(deputyUrl, 'POST', '/v1/customers', { name: `Reliability ${c}` })
    const entry: SceneCustomer = { id: customer.id, connections: [] }
    for (let n = 0; n < connections; n++) {
      const account = nextAccount()
      const externalId = await api<{ id: string, externalId: string }>(deputyUrl, 'POST', `/v1/customers/${customer.id}/external-ids`, { awsAccountId: account })
      await emulator.putRole(roleArn(account), secureTrust(externalId.externalId))
      const connection = await api<{ id: string }>(deputyUrl, 'POST', `/v1/customers/${customer.id}/connections`, { externalIdId: externalId.id, roleArn: roleArn(account) })
      entry.connections.push({ id: connection.id, account })
    }
    scene.push(entry)
  }
  return scene
}
