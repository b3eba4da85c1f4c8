// The events of goal 3's trail, as months of a busy deployment would leave them: many customers
// of very different sizes (a Zipf-like spread), each with a few AWS connections; mostly
// credentials.issued by a fleet of vendor services, drift probes, refusals, the occasional mint,
// connection, revocation; evenly spread over the time span, seq in time order; the details deputy
// writes for each action. Each event comes as its COPY line and as the canonical JSON of its API
// view (what a seal hashes), built side by side from the same values, fast: five million of them
// are made for one run.
import { randomUUID } from 'node:crypto'
import { issuanceSessionName, sourceIdentityFor } from '../../src/modules/connections/session-names.js'
import { prng } from '../support/prng.js'

const SERVICES = ['inventory-scanner', 'cost-explorer-sync', 'guardduty-collector', 'backup-verifier', 'config-auditor', 'iam-analyzer', 'patch-orchestrator',
  'log-shipper', 'tag-enforcer', 'rightsizing-advisor', 'security-hub-sync', 'ebs-snapshotter', 'k8s-discovery', 'billing-exporter', 'dns-monitor',
  'cloudtrail-reader', 'lambda-profiler', 'rds-tuner', 's3-classifier', 'vpc-mapper', 'ecr-scanner', 'ssm-runner', 'quota-watcher', 'cert-renewer']
const PURPOSES = ['nightly inventory', 'hourly cost sync', 'finding collection', 'backup check', 'compliance scan', 'access review', 'patch window',
  'log export', 'tag policy', 'usage report', 'drift report', 'snapshot rotation']
const USER_AGENTS = ['vendor-worker/4.2.1 node/22.11.0', 'vendor-worker/4.3.0 node/22.12.0', 'python-requests/2.32.3', 'Go-http-client/1.1',
  'deputy-console/1.0 (Mozilla/5.0)', 'curl/8.5.0', 'aws-lambda-runtime/python3.12']
const DENY_REASONS = ['connection_not_active', 'duration_exceeds_cap', 'sts_throttled', 'role_access_denied', 'issuance_frozen']

/** Strings written into JSON and COPY without escaping: checked once, up front. */
function assertPlain (values: readonly string[]): void {
  for (const value of values) {
    if (!/^[\w .:/()=+,@-]+$/.test(value)) throw new Error(`audit seed: "${value}" would need escaping`)
  }
}

interface Client { id: string, name: string, sessionPrefix: string, sourceIdentity: string }
interface Connection { id: string, account: string, events: number }
interface Customer { id: string, prefix: string, connections: Connection[], events: number }

const TWO_DIGITS = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'))
const THREE_DIGITS = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'))

/**
 * Date.prototype.toISOString for instants that mostly fall on the same day as the previous one,
 * at a fraction of its cost (it is called twice per event; checked against it on the sample).
 */
function isoFormatter (): (ms: number) => string {
  let day = Number.NaN
  let prefix = ''
  return (ms) => {
    const d = Math.floor(ms / 86400_000)
    if (d !== day) {
      day = d
      prefix = new Date(d * 86400_000).toISOString().slice(0, 11)
    }
    let rest = ms - d * 86400_000
    const h = Math.floor(rest / 3600_000)
    rest -= h * 3600_000
    const m = Math.floor(rest / 60_000)
    rest -= m * 60_000
    const sec = Math.floor(rest / 1000)
    return `${prefix}${TWO_DIGITS[h]}:${TWO_DIGITS[m]}:${TWO_DIGITS[sec]}.${THREE_DIGITS[rest - sec * 1000]}Z`
  }
}

const q = (value: string | null): string => (value === null ? 'null' : `"${value}"`)
const copyField = (value: string | null): string => (value ?? '\\N')

/** One event: the COPY line, and the canonical JSON of its API view (what the seal hashes). */
export interface GeneratedEvent { line: string, canonical: string }

/** Events 0, 1, 2, ... of a trail of `events` events over `months` months, the same every run. */
export function createEventGenerator (options: { events: number, customers: number, months: number }) {
  const rng = prng(20261128)
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rng() * items.length)] as T
  assertPlain([...SERVICES, ...PURPOSES, ...USER_AGENTS, ...DENY_REASONS])

  const clients: Client[] = SERVICES.map((name) => {
    // deputy's own naming of sessions and source identities, prefix taken from a real name.
    const sample = issuanceSessionName(name, '00000000-0000-4000-8000-000000000000', '00000000-0000-4000-8000-000000000000')
    return { id: randomUUID(), name, sessionPrefix: sample.slice(0, sample.length - 46), sourceIdentity: sourceIdentityFor(name) }
  })
  const admin = { id: randomUUID(), name: 'ops-admin' }
  const ips = Array.from({ length: 64 }, (_, i) => `10.20.${i >> 4}.${(i * 37) % 250 + 2}`)

  // Customer i's share of the events falls off as 1/(i+1)^0.9: a few large customers, a long tail.
  const customers: Customer[] = []
  const cumulative = new Float64Array(options.customers)
  let total = 0
  for (let i = 0; i < options.customers; i++) {
    const id = randomUUID()
    const connections = Array.from({ length: 1 + Math.floor(rng() * 3) + (i < 20 ? 8 : 0) }, () => ({
      id: randomUUID(),
      account: String(100_000_000_000 + Math.floor(rng() * 899_999_999_999)),
      events: 0
    }))
    customers.push({ id, prefix: id.slice(0, 8), connections, events: 0 })
    total += 1 / (i + 1) ** 0.9
    cumulative[i] = total
  }
  const pickCustomer = (): Customer => {
    const x = rng() * total
    let lo = 0
    let hi = cumulative.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((cumulative[mid] as number) < x) lo = mid + 1
      else hi = mid
    }
    return customers[lo] as Customer
  }

  const to = Date.now() - 3600_000
  const from = to - options.months * 30 * 86400_000
  const step = (to - from) / options.events
  const actionCounts = new Map<string, number>()
  const occurredIso = isoFormatter()
  const expirationIso = isoFormatter()

  /** Event number i (seq i + 1). */
  function event (i: number): GeneratedEvent {
    const seq = i + 1
    const at = Math.floor(from + (i + rng()) * step)
    const occurredAt = occurredIso(at)
    const id = randomUUID()
    const customer = pickCustomer()
    const connection = pick(customer.connections)
    const r = rng()
    let action: string
    let outcome = 'success'
    let actor: string | null = null
    let resourceType: string | null = 'connection'
    let resourceId: string | null = connection.id
    let customerId: string | null = customer.id
    let details: string
    const client = pick(clients)
    if (r < 0.80) {
      action = 'credentials.issued'
      actor = client.id
      const duration = rng() < 0.7 ? 900 : 3600
      const sessionName = `${client.sessionPrefix}.${customer.prefix}.${id}`
      const key = `ASIA${Math.floor(rng() * 2 ** 32).toString(16).toUpperCase().padStart(8, '0')}${Math.floor(rng() * 2 ** 32).toString(16).toUpperCase().padStart(8, '0')}`
      const clientRequestId = rng() < 0.3 ? randomUUID() : null
      details = `{"accessKeyId":"${key}","assumedRoleArn":"arn:aws:sts::${connection.account}:assumed-role/DeputyAccess/${sessionName}","clientRequestId":${q(clientRequestId)},"durationSeconds":${duration},"expiration":"${expirationIso(at + duration * 1000)}","purpose":"${pick(PURPOSES)}","sessionName":"${sessionName}","sourceIdentity":"${client.sourceIdentity}","stsRequestId":"${randomUUID()}"}`
    } else if (r < 0.83) {
      action = 'credentials.denied'
      outcome = 'denied'
      actor = client.id
      details = `{"purpose":"${pick(PURPOSES)}","reason":"${pick(DENY_REASONS)}"}`
    } else if (r < 0.955) {
      action = 'connection.probed'
      outcome = rng() < 0.98 ? 'success' : 'failure'
      details = `{"outcome":"${outcome === 'success' ? 'pass' : 'fail'}","probeId":"${randomUUID()}","trigger":"drift"}`
    } else if (r < 0.957) {
      action = 'connection.status_changed'
      details = '{"from":"active","reason":"drift_probe_failed","to":"failed"}'
    } else if (r < 0.972) {
      action = 'auth.failed'
      outcome = 'denied'
      customerId = null
      resourceType = null
      resourceId = null
      details = '{"reason":"unknown_token"}'
    } else if (r < 0.977) {
      action = 'access.denied'
      outcome = 'denied'
      actor = client.id
      details = '{"reason":"scope_missing","scope":"connections:write"}'
    } else if (r < 0.987) {
      action = 'external_id.minted'
      actor = admin.id
      resourceType = 'external_id'
      resourceId = randomUUID()
      details = `{"awsAccountId":"${connection.account}","externalId":"${randomUUID()}"}`
    } else if (r < 0.995) {
      action = 'connection.created'
      actor = admin.id
      details = `{"awsAccountId":"${connection.account}","roleArn":"arn:aws:iam::${connection.account}:role/DeputyAccess"}`
    } else if (r < 0.998) {
      action = 'connection.revoked'
      actor = admin.id
      details = '{"reason":"customer offboarding an account"}'
    } else if (r < 0.9995) {
      action = 'customer.created'
      actor = admin.id
      resourceType = 'customer'
      resourceId = customer.id
      details = '{}'
    } else {
      action = 'api_client.created'
      actor = admin.id
      resourceType = 'api_client'
      resourceId = client.id
      details = `{"name":"${client.name}","scopes":["credentials:issue"]}`
    }
    if (customerId !== null) customer.events++
    if (resourceId === connection.id) connection.events++
    actionCounts.set(action, (actionCounts.get(action) ?? 0) + 1)
    const requestId = actor === null && action === 'connection.probed' ? null : randomUUID()
    const sourceIp = requestId === null ? null : pick(ips)
    const userAgent = requestId === null ? null : pick(USER_AGENTS)
    const line = `${seq}\t${id}\t${occurredAt}\t${copyField(actor)}\t${action}\t${outcome}\t${copyField(customerId)}\t${copyField(resourceType)}\t${copyField(resourceId)}\t${copyField(requestId)}\t${copyField(sourceIp)}\t${copyField(userAgent)}\t${details}\n`
    // Keys in RFC 8785 order, as canonicalJson(toAuditEventView(row)) writes them.
    const canonical = `{"action":"${action}","actorClientId":${q(actor)},"customerId":${q(customerId)},"details":${details},"id":"${id}","occurredAt":"${occurredAt}","outcome":"${outcome}","requestId":${q(requestId)},"resourceId":${q(resourceId)},"resourceType":${q(resourceType)},"seq":"${seq}","sourceIp":${q(sourceIp)},"userAgent":${q(userAgent)}}`
    return { line, canonical }
  }

  return { event, customers, from: new Date(from), to: new Date(to), actionCounts }
}

/** The row deputy would read back for a COPY line, to hash it with deputy's own code. */
export function rowOf (line: string) {
  const [seq, id, occurredAt, actor, action, outcome, customerId, resourceType, resourceId, requestId, sourceIp, userAgent, details] = line.replace(/\n$/, '').split('\t')
  const nullable = (value: string | undefined): string | null => (value === '\\N' || value === undefined ? null : value)
  return {
    seq: BigInt(seq ?? '0'),
    id: id ?? '',
    occurredAt: new Date(occurredAt ?? ''),
    actorClientId: nullable(actor),
    action: action ?? '',
    outcome: (outcome ?? 'success') as 'success',
    customerId: nullable(customerId),
    resourceType: nullable(resourceType),
    resourceId: nullable(resourceId),
    requestId: nullable(requestId),
    sourceIp: nullable(sourceIp),
    userAgent: nullable(userAgent),
    details: JSON.parse(details ?? '{}') as Record<string, string>
  }
}
