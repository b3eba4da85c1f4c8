// deputy's configuration: read once from the environment, validated, and passed down as one
// typed object. Tests build it with loadConfig({...}) instead of touching process.env.
import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { resolve } from 'node:path'
import type { DatabaseTarget } from './db/database.js'
import { NOTIFIED_EVENTS, type NotifiedEvent } from './modules/webhooks/events.js'
import { RETRY_SCHEDULE_LIMIT_SECONDS, worstCaseRetrySeconds } from './modules/webhooks/queues.js'
import { createWebhookSigner, SECRET_BYTES, type WebhookSigner } from './modules/webhooks/signature.js'
import { MANAGED_POLICY_ARN, NO_PERMISSIONS, parsePermissionSet, PermissionSetError, type PermissionSet } from './modules/onboarding/permission-set.js'
import { parseS3TemplateUrl } from './modules/onboarding/quick-create.js'
import { parseSessionTags, SessionTagsError, type SessionTagTemplate } from './modules/credentials/session-tags.js'

export interface RateLimitConfig {
  /** Requests allowed per proven token (or per address, for every other request) in each window. */
  max: number
  windowMs: number
  /** Failed authentications allowed per address in each auth-failure window; then 429 auth_throttled. */
  authFailureMax: number
  authFailureWindowMs: number
  /** REDIS_URL set: both limits are shared by every replica through this Redis; unset: in memory. */
  redis: SharedLimitsRedis | undefined
}

/** Where replicas share their rate-limit and auth-throttle counters. */
export interface SharedLimitsRedis {
  /** redis:// or rediss:// (may carry a password: never logged or echoed). */
  url: string
  /** Prefix of every key deputy writes, so several deployments (or test runs) can share a Redis. */
  keyPrefix: string
}

/**
 * Which peers may set the client address through X-Forwarded-For: none (false), the last `n` hops
 * (a number), or the listed proxy addresses and CIDRs (strings). Never "every hop".
 */
export type TrustProxy = false | number | string[]

export interface AwsConfig {
  /** The vendor's IAM role or user that customers' trust policies name. */
  vendorPrincipalArn: string
  region: string
  /** Timeout of each STS call. */
  stsTimeoutMs: number
  /** How long issuance keeps retrying throttling and STS faults before answering 503. */
  stsRetryBudgetMs: number
  /** How long the probe retries a refused first call while a new role propagates in IAM. */
  probePropagationWindowMs: number
  /** Upper bound of a credential's lifetime (900-3600 s). */
  credentialsMaxDurationSeconds: number
  /** Set SourceIdentity on sessions (needs sts:SetSourceIdentity in the customer's trust policy). */
  sourceIdentity: boolean
  /** SESSION_TAGS: tags on every session (needs sts:TagSession in the customer's trust policy); empty: none. */
  sessionTags: SessionTagTemplate[]
  /** CREDENTIAL_REUSE: hand out a session deputy already holds for an identical request instead of a new AssumeRole. */
  credentialReuse: boolean
  /**
   * A role in the vendor's own account that always trusts deputy. When a customer's role refuses
   * issuance, deputy assumes this role to tell a customer-side change from a fault of its own
   * identity. Unset: another active connection serves as the control.
   */
  controlRoleArn: string | undefined
  /** Least time between two probes of one connection (verify). */
  probeCooldownMs: number
  /** Probes (registrations and verifications) one customer may trigger per hour. */
  probeBudgetPerCustomerPerHour: number
}

/**
 * The sandbox: the whole flow on a laptop, with AWS emulated in-process (src/modules/sandbox/).
 * Only on the embedded database without VENDOR_PRINCIPAL_ARN; see sandboxConfig.
 */
export interface SandboxConfig {
  /** The emulated vendor identity deputy runs as (in the emulated vendor account). */
  vendorPrincipalArn: string
  /** The emulated customer account the banner suggests; every 12-digit account is emulated. */
  customerAwsAccountId: string
  /** deputy's STS settings against the emulator (the STS_*, PROBE_* and credential variables apply). */
  aws: AwsConfig
}

/** One webhook receiver (WEBHOOK_ENDPOINTS). */
export interface WebhookEndpoint {
  /** Names the endpoint's queue, logs and metrics; the URL is never logged (it may hold a token). */
  name: string
  url: string
  /** Signs with the endpoint's whsec_ secret, which is kept in the signer's closure only. */
  signer: WebhookSigner
  /** The notified events this endpoint receives (default: all of them). */
  events: readonly NotifiedEvent[]
}

export interface WebhooksConfig {
  /** Empty: no webhooks, and nothing of the delivery queue runs. */
  endpoints: WebhookEndpoint[]
  /** Attempts per delivery, the first included, before it is dead-lettered. */
  maxAttempts: number
  /** Base of the exponential backoff between attempts. */
  retryDelaySeconds: number
  /** Cap on one wait between two attempts. */
  retryDelayMaxSeconds: number
  /** Timeout of one attempt. */
  timeoutMs: number
  /** How often each replica looks for deliveries that are due. */
  pollIntervalMs: number
  /** Pause between two runs of the relay (sealed notified audit events -> delivery queues). */
  relayIntervalMs: number
}

export interface Config {
  port: number
  host: string
  database: DatabaseTarget
  migrateOnStart: boolean
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  bootstrapAdminToken: string | undefined
  rateLimit: RateLimitConfig
  /** Which reverse proxies may set the audited, rate-limited client address (X-Forwarded-For). */
  trustProxy: TrustProxy
  /** Undefined when deputy runs without AWS: connection and credential routes answer 503. */
  aws: AwsConfig | undefined
  /** Set in the sandbox (the embedded default): deputy runs against an in-process STS emulator. */
  sandbox: SandboxConfig | undefined
  /** Pause between two runs of the audit sealer; 0 turns this replica's sealer off. */
  auditSealIntervalMs: number
  /**
   * How long a resolved API token may be served from this process's cache (revocations reach
   * every replica at once through LISTEN/NOTIFY; this is the bound if notifications were lost
   * unnoticed); 0 turns the cache off.
   */
  apiTokenCacheMaxAgeMs: number
  drift: DriftConfig
  overload: OverloadConfig
  webhooks: WebhooksConfig
  onboarding: OnboardingConfig
}

/** The onboarding kit: the role customers deploy (GET /v1/external-ids/{id}/onboarding). */
export interface OnboardingConfig {
  /** What the role grants; NO_PERMISSIONS when ONBOARDING_PERMISSIONS_FILE is unset. */
  permissions: PermissionSet
  /** The file the permissions came from (resolved), if any. */
  permissionsFile: string | undefined
  roleName: string
  maxSessionDuration: number
  permissionsBoundaryArn: string | undefined
  /** The generic template the vendor published in S3; unset: no quick-create link. */
  templateUrl: string | undefined
  /** The console region of quick-create links. */
  region: string
  /** What the vendor should know about this configuration; logged at start and sent with each kit. */
  warnings: string[]
}

/**
 * Load shedding (src/plugins/under-pressure.ts): past any limit, new requests are refused with
 * 503 overloaded and Retry-After (past a sampled one, until a sample is under it again). 0 turns
 * a limit off.
 */
export interface OverloadConfig {
  /** Requests answered at once (health and metrics aside) past which new ones are shed. */
  maxInFlight: number
  /** Mean event-loop delay over a sample past which requests are shed; 0: off. */
  maxEventLoopDelayMs: number
  /** Event-loop utilization (0-1) over a sample past which requests are shed; 0: off. */
  maxEventLoopUtilization: number
  maxHeapUsedBytes: number
  maxRssBytes: number
  /** How often the process measures itself (the length of a sample). */
  sampleIntervalMs: number
  /** Retry-After of a shed request. */
  retryAfterSeconds: number
}

/** Drift detection: the scheduler that re-runs the confused-deputy probe on every connection. */
export interface DriftConfig {
  /** How often each active, insecure or failed connection is re-probed. */
  intervalMs: number
  /** STS calls per minute drift probes may make, over every replica together (4 per probe). */
  stsCallsPerMinute: number
  /** Pause between two scheduler runs on this replica; 0 turns this replica's scheduler off. */
  tickMs: number
}

export class ConfigError extends Error {
  override name = 'ConfigError'
  constructor (readonly variable: string, message: string) {
    super(`${variable}: ${message}`)
  }
}

type Env = Record<string, string | undefined>

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

function integer (env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got "${raw}"`)
  const value = Number(raw)
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`)
  return value
}

function boolean (env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  if (raw === 'true' || raw === '1') return true
  if (raw === 'false' || raw === '0') return false
  throw new ConfigError(name, `must be true or false, got "${raw}"`)
}

function oneOf<T extends string> (env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  if ((allowed as readonly string[]).includes(raw)) return raw as T
  throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got "${raw}"`)
}

function databaseTarget (env: Env): DatabaseTarget {
  const url = env.DATABASE_URL
  if (url === undefined || url === '') {
    return { kind: 'pglite', dataDir: resolve(env.DEPUTY_DATA_DIR ?? '.data') }
  }
  return { kind: 'postgres', url: postgresUrl('DATABASE_URL', url), directUrl: directUrl(env, url), poolSize: integer(env, 'DATABASE_POOL_SIZE', 10, 1, 200) }
}

function postgresUrl (name: string, url: string): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new ConfigError(name, 'is not a URL (expected postgresql://user@host:port/database)')
  }
  if (parsed.protocol !== 'postgresql:' && parsed.protocol !== 'postgres:') {
    throw new ConfigError(name, `must start with postgresql://, got ${parsed.protocol}//`)
  }
  return url
}

/**
 * DATABASE_DIRECT_URL: a connection straight to PostgreSQL, for what needs a session of its own
 * (the migration runner's lock, LISTEN); DATABASE_URL may then point at PgBouncer in transaction
 * pooling mode. Unset: DATABASE_URL serves both.
 */
function directUrl (env: Env, url: string): string {
  const direct = env.DATABASE_DIRECT_URL
  return direct === undefined || direct === '' ? url : postgresUrl('DATABASE_DIRECT_URL', direct)
}

/** REDIS_URL and REDIS_KEY_PREFIX. Messages never repeat the URL: it may hold a password. */
function sharedLimitsRedis (env: Env): SharedLimitsRedis | undefined {
  const url = env.REDIS_URL
  const prefix = env.REDIS_KEY_PREFIX
  if (url === undefined || url === '') {
    if (prefix !== undefined && prefix !== '') throw new ConfigError('REDIS_KEY_PREFIX', 'is set but REDIS_URL is not: without REDIS_URL the limits are per replica, not shared; set REDIS_URL or unset REDIS_KEY_PREFIX')
    return undefined
  }
  let parsed: URL | undefined
  try {
    parsed = new URL(url)
  } catch {}
  if (parsed === undefined || (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') || parsed.hostname === '') {
    throw new ConfigError('REDIS_URL', 'must be a redis:// or rediss:// URL with a host (redis://[:password@]host:port[/db]); the value is not shown, it may hold a password')
  }
  const keyPrefix = prefix === undefined || prefix === '' ? 'deputy:' : prefix
  if (!/^[A-Za-z0-9_.:{}-]{1,64}$/.test(keyPrefix)) {
    throw new ConfigError('REDIS_KEY_PREFIX', `must be 1-64 letters, digits and _.:{}- (got "${keyPrefix.slice(0, 80)}")`)
  }
  return { url, keyPrefix }
}

function bootstrapToken (env: Env): string | undefined {
  const token = env.DEPUTY_BOOTSTRAP_ADMIN_TOKEN
  if (token === undefined || token === '') return undefined
  // Whoever holds this token is an administrator: refuse anything guessable.
  if (token.length < 32 || /\s/.test(token)) {
    throw new ConfigError('DEPUTY_BOOTSTRAP_ADMIN_TOKEN', 'must be at least 32 characters without spaces (try `deputy api-clients create` output or `openssl rand -base64 32`)')
  }
  return token
}

// proxy-addr's named ranges, accepted by Fastify's trustProxy.
const NAMED_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal'])
const EVERY_HOP = 'would trust every hop, so the leftmost X-Forwarded-For entry, which the client writes, would become the audited and rate-limited address'

function trustProxy (env: Env): TrustProxy {
  const raw = env.TRUST_PROXY?.trim()
  if (raw === undefined || raw === '' || raw === 'false' || raw === '0') return false
  if (raw === 'true') {
    throw new ConfigError('TRUST_PROXY', `true ${EVERY_HOP}; set the number of proxies in front of deputy (TRUST_PROXY=1) or their addresses (TRUST_PROXY=10.0.0.0/8,127.0.0.1)`)
  }
  if (/^\d+$/.test(raw)) return integer(env, 'TRUST_PROXY', 0, 1, 10)
  return raw.split(',').map((entry) => {
    const value = entry.trim()
    if (NAMED_RANGES.has(value)) return value
    const [address = '', prefix, ...rest] = value.split('/')
    const family = isIP(address)
    if (family === 0 || rest.length > 0 || (prefix !== undefined && !/^\d{1,3}$/.test(prefix))) {
      throw new ConfigError('TRUST_PROXY', `must be false, a hop count (1-10) or a comma-separated list of proxy addresses or CIDRs (10.0.0.0/8,::1), got "${value}"`)
    }
    const bits = prefix === undefined ? undefined : Number(prefix)
    if (bits !== undefined && bits > (family === 4 ? 32 : 128)) throw new ConfigError('TRUST_PROXY', `"${value}" has a prefix longer than the address`)
    if (bits === 0) throw new ConfigError('TRUST_PROXY', `"${value}" ${EVERY_HOP}; list only your proxies`)
    return value
  })
}

const ENDPOINT_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/
const ENDPOINT_FIELDS = new Set(['name', 'url', 'secret', 'events'])
const ENDPOINTS_SHAPE = 'a JSON array of {"name": "...", "url": "https://...", "secret": "whsec_...", "events": [...]} (events optional)'

/** This machine, whatever the protocol: 127.0.0.0/8, ::1 and localhost (a receiver in a test or a sidecar). */
function isLoopback (hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1')
  if (host === 'localhost' || host === '::1') return true
  return isIP(host) === 4 && host.startsWith('127.')
}

/**
 * WEBHOOK_ENDPOINTS. No message quotes a URL or a secret: a URL may carry a token, and V8's JSON
 * errors quote the text around the mistake, so only the position is kept from them.
 */
function webhookEndpoints (env: Env): WebhookEndpoint[] {
  const variable = 'WEBHOOK_ENDPOINTS'
  const allowHttp = boolean(env, 'WEBHOOK_ALLOW_HTTP', false)
  const raw = env[variable]
  if (raw === undefined || raw.trim() === '') return []
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch (error) {
    const at = /position (\d+)/.exec((error as Error).message)?.[1]
    throw new ConfigError(variable, `is not valid JSON${at === undefined ? '' : ` (at character ${at})`}; expected ${ENDPOINTS_SHAPE}`)
  }
  if (!Array.isArray(parsed)) throw new ConfigError(variable, `must be ${ENDPOINTS_SHAPE}`)
  const names = new Set<string>()
  return parsed.map((entry: unknown, index): WebhookEndpoint => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new ConfigError(variable, `entry ${index} must be an object with name, url and secret`)
    const fields = entry as Record<string, unknown>
    const unknown = Object.keys(fields).filter((key) => !ENDPOINT_FIELDS.has(key))
    if (unknown.length > 0) throw new ConfigError(variable, `entry ${index} has unknown fields (${unknown.map((key) => JSON.stringify(key.slice(0, 40))).join(', ')}); allowed: name, url, secret, events`)
    const { name, url, secret, events } = fields
    if (typeof name !== 'string' || !ENDPOINT_NAME.test(name)) throw new ConfigError(variable, `entry ${index}: name must be 1-63 lowercase letters, digits, "-" or "_" (it names the endpoint's delivery queue and labels logs and metrics)`)
    if (names.has(name)) throw new ConfigError(variable, `two endpoints are named "${name}"`)
    names.add(name)
    let parsedUrl: URL | undefined
    try {
      parsedUrl = typeof url === 'string' ? new URL(url) : undefined
    } catch {}
    if (parsedUrl === undefined || (parsedUrl.protocol !== 'https:' && parsedUrl.protocol !== 'http:') || parsedUrl.username !== '' || parsedUrl.password !== '') {
      throw new ConfigError(variable, `endpoint "${name}": url must be an https:// URL without a user or password in it`)
    }
    // Bodies carry customer ids, role ARNs and reasons: never in clear text across a network.
    if (parsedUrl.protocol === 'http:' && !allowHttp && !isLoopback(parsedUrl.hostname)) {
      throw new ConfigError(variable, `endpoint "${name}": url must be https:// (http:// only to this machine: 127.0.0.0/8, ::1, localhost; or set WEBHOOK_ALLOW_HTTP=true)`)
    }
    const signer = typeof secret === 'string' ? createWebhookSigner(secret) : undefined
    if (signer === undefined) {
      throw new ConfigError(variable, `endpoint "${name}": secret must be whsec_ followed by the base64 of ${SECRET_BYTES.min} to ${SECRET_BYTES.max} random bytes (e.g. "whsec_$(openssl rand -base64 32)")`)
    }
    return { name, url: parsedUrl.href, signer, events: webhookEvents(name, events) }
  })
}

function webhookEvents (name: string, events: unknown): NotifiedEvent[] {
  if (events === undefined) return [...NOTIFIED_EVENTS]
  const allowed = `one or more of ${NOTIFIED_EVENTS.join(', ')}`
  if (!Array.isArray(events) || events.length === 0) throw new ConfigError('WEBHOOK_ENDPOINTS', `endpoint "${name}": events must be a list of ${allowed}`)
  for (const event of events) {
    if (typeof event !== 'string' || !(NOTIFIED_EVENTS as readonly string[]).includes(event)) {
      const shown = typeof event === 'string' && /^[a-z_.]{1,64}$/.test(event) ? `"${event}"` : 'an entry'
      throw new ConfigError('WEBHOOK_ENDPOINTS', `endpoint "${name}": ${shown} is not a notified event; events must be ${allowed}`)
    }
  }
  return [...new Set(events as NotifiedEvent[])]
}

function webhooksConfig (env: Env): WebhooksConfig {
  const retryDelaySeconds = integer(env, 'WEBHOOK_RETRY_DELAY_SECONDS', 10, 1, 3600)
  const config: WebhooksConfig = {
    endpoints: webhookEndpoints(env),
    maxAttempts: integer(env, 'WEBHOOK_MAX_ATTEMPTS', 8, 1, 50),
    retryDelaySeconds,
    retryDelayMaxSeconds: integer(env, 'WEBHOOK_RETRY_DELAY_MAX_SECONDS', Math.max(3600, retryDelaySeconds), retryDelaySeconds, 86_400),
    timeoutMs: integer(env, 'WEBHOOK_TIMEOUT_MS', 10_000, 100, 60_000),
    pollIntervalMs: integer(env, 'WEBHOOK_POLL_INTERVAL_MS', 2000, 500, 60_000),
    relayIntervalMs: integer(env, 'WEBHOOK_RELAY_INTERVAL_MS', 1000, 100, 60_000)
  }
  // pg-boss deletes a delivery still waiting for a retry once its queue's retention has passed:
  // a schedule that could outlast it would lose deliveries instead of dead-lettering them.
  const worstCase = worstCaseRetrySeconds(config)
  if (worstCase > RETRY_SCHEDULE_LIMIT_SECONDS) {
    const hours = (seconds: number): string => `${Math.round(seconds / 360) / 10} h`
    throw new ConfigError('WEBHOOK_MAX_ATTEMPTS', `with WEBHOOK_RETRY_DELAY_SECONDS=${config.retryDelaySeconds} and WEBHOOK_RETRY_DELAY_MAX_SECONDS=${config.retryDelayMaxSeconds}, ${config.maxAttempts} attempts can take up to ${hours(worstCase)}, more than the ${hours(RETRY_SCHEDULE_LIMIT_SECONDS)} a delivery's retries may take (its queue keeps it 14 days); use fewer attempts or shorter delays`)
  }
  return config
}

const PRINCIPAL_ARN = /^arn:(aws|aws-cn|aws-us-gov):(iam::[0-9]{12}:(user|role)\/[\x21-\x7e]{1,512}|sts::[0-9]{12}:assumed-role\/[\w+=,.@-]{1,64}\/[\w+=,.@-]{2,64})$/

function controlRoleArn (env: Env): string | undefined {
  const arn = env.STS_CONTROL_ROLE_ARN
  if (arn === undefined || arn === '') return undefined
  if (!/^arn:(aws|aws-cn|aws-us-gov):iam::[0-9]{12}:role\/[\x21-\x7e]{1,512}$/.test(arn)) {
    throw new ConfigError('STS_CONTROL_ROLE_ARN', `must be an IAM role ARN (arn:aws:iam::123456789012:role/name), got "${arn}"`)
  }
  return arn
}

function awsConfig (env: Env): AwsConfig | undefined {
  const vendorPrincipalArn = env.VENDOR_PRINCIPAL_ARN
  if (vendorPrincipalArn === undefined || vendorPrincipalArn === '') return undefined
  if (!PRINCIPAL_ARN.test(vendorPrincipalArn)) {
    throw new ConfigError('VENDOR_PRINCIPAL_ARN', `must be an IAM role or user ARN (arn:aws:iam::123456789012:role/name), got "${vendorPrincipalArn}"`)
  }
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1'
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) throw new ConfigError('AWS_REGION', `is not a region name, got "${region}"`)
  return stsSettings(env, vendorPrincipalArn, region, 60_000)
}

/** SESSION_TAGS (see session-tags.ts): checked against AWS's tag limits now, so a bad template stops deputy at start. */
function sessionTags (env: Env): SessionTagTemplate[] {
  const raw = env.SESSION_TAGS
  if (raw === undefined || raw.trim() === '') return []
  try {
    return parseSessionTags(raw)
  } catch (error) {
    if (error instanceof SessionTagsError) throw new ConfigError('SESSION_TAGS', error.message)
    throw error
  }
}

/** The STS_*, PROBE_* and credential settings, for the real vendor principal or the sandbox's. */
function stsSettings (env: Env, vendorPrincipalArn: string, region: string, propagationWindowMs: number): AwsConfig {
  return {
    vendorPrincipalArn,
    region,
    stsTimeoutMs: integer(env, 'STS_TIMEOUT_MS', 5000, 100, 60_000),
    stsRetryBudgetMs: integer(env, 'STS_RETRY_BUDGET_MS', 3000, 0, 60_000),
    probePropagationWindowMs: integer(env, 'PROBE_PROPAGATION_WINDOW_MS', propagationWindowMs, 0, 300_000),
    credentialsMaxDurationSeconds: integer(env, 'CREDENTIALS_MAX_DURATION_SECONDS', 3600, 900, 3600),
    sourceIdentity: boolean(env, 'SOURCE_IDENTITY_ENABLED', true),
    sessionTags: sessionTags(env),
    credentialReuse: oneOf(env, 'CREDENTIAL_REUSE', ['on', 'off'] as const, 'off') === 'on',
    controlRoleArn: controlRoleArn(env),
    probeCooldownMs: integer(env, 'PROBE_COOLDOWN_MS', 60_000, 0, 86_400_000),
    probeBudgetPerCustomerPerHour: integer(env, 'PROBE_BUDGET_PER_CUSTOMER_PER_HOUR', 30, 1, 100_000)
  }
}

/** OVERLOAD_*: the load-shedding limits (see OverloadConfig). */
function overloadConfig (env: Env): OverloadConfig {
  const percent = integer(env, 'OVERLOAD_MAX_EVENT_LOOP_UTILIZATION_PERCENT', 0, 0, 100)
  return {
    maxInFlight: integer(env, 'OVERLOAD_MAX_IN_FLIGHT', 512, 0, 1_000_000),
    // Off by default: one stall (a route's schemas compiled on first use, a major GC) reads as
    // a lagging loop to a per-sample mean; under real overload it is the queue that grows.
    maxEventLoopDelayMs: integer(env, 'OVERLOAD_MAX_EVENT_LOOP_DELAY_MS', 0, 0, 60_000),
    maxEventLoopUtilization: percent / 100,
    maxHeapUsedBytes: integer(env, 'OVERLOAD_MAX_HEAP_USED_BYTES', 0, 0, Number.MAX_SAFE_INTEGER),
    maxRssBytes: integer(env, 'OVERLOAD_MAX_RSS_BYTES', 0, 0, Number.MAX_SAFE_INTEGER),
    sampleIntervalMs: integer(env, 'OVERLOAD_SAMPLE_INTERVAL_MS', 500, 10, 60_000),
    retryAfterSeconds: integer(env, 'OVERLOAD_RETRY_AFTER_SECONDS', 2, 1, 3600)
  }
}

/** The sandbox's emulated vendor identity (an IAM user: the emulator issues it access keys). */
export const SANDBOX_VENDOR_PRINCIPAL_ARN = 'arn:aws:iam::111122223333:user/deputy-sandbox'
/** The emulated customer account the sandbox suggests (any other 12-digit account works too). */
export const SANDBOX_CUSTOMER_AWS_ACCOUNT_ID = '123456789012'

/**
 * DEPUTY_SANDBOX. Unset: the sandbox runs exactly when none of DATABASE_URL, VENDOR_PRINCIPAL_ARN
 * (even empty), NODE_ENV=production and WEBHOOK_ENDPOINTS is set (the embedded default on a laptop),
 * and then only on a data directory it created itself (server.ts, claimSandboxDataDir). false: never. true: the same, but a
 * production variable next to it is an error instead of a silent "no sandbox". Production
 * configuration never falls back to the emulator.
 */
function sandboxConfig (env: Env, database: DatabaseTarget): SandboxConfig | undefined {
  const on = boolean(env, 'DEPUTY_SANDBOX', true)
  // Set at all (even empty) counts: an empty secret in a deployment is not a request for a sandbox.
  const production = [
    database.kind === 'postgres' ? 'DATABASE_URL' : undefined,
    env.VENDOR_PRINCIPAL_ARN !== undefined ? 'VENDOR_PRINCIPAL_ARN' : undefined,
    env.NODE_ENV === 'production' ? 'NODE_ENV=production' : undefined,
    env.WEBHOOK_ENDPOINTS !== undefined && env.WEBHOOK_ENDPOINTS !== '' ? 'WEBHOOK_ENDPOINTS' : undefined
  ].filter((name) => name !== undefined)
  if (!on) return undefined
  if (production.length > 0) {
    if (env.DEPUTY_SANDBOX === undefined || env.DEPUTY_SANDBOX === '') return undefined
    throw new ConfigError('DEPUTY_SANDBOX', `is true, but ${production.join(' and ')} ${production.length > 1 ? 'are' : 'is'} set: the sandbox (emulated AWS on the embedded database) never runs with production configuration; unset DEPUTY_SANDBOX or ${production.join(' and ')}`)
  }
  // Emulated roles exist the moment they are applied: nothing to wait for unless asked.
  return { vendorPrincipalArn: SANDBOX_VENDOR_PRINCIPAL_ARN, customerAwsAccountId: SANDBOX_CUSTOMER_AWS_ACCOUNT_ID, aws: stsSettings(env, SANDBOX_VENDOR_PRINCIPAL_ARN, 'us-east-1', 0) }
}

const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/

/** ONBOARDING_PERMISSIONS_FILE: read and checked now, so a bad permission set stops deputy at start. */
function permissionsFile (env: Env): { permissions: PermissionSet, file: string | undefined, warnings: string[] } {
  const variable = 'ONBOARDING_PERMISSIONS_FILE'
  const allowAdmin = boolean(env, 'ONBOARDING_ALLOW_ADMIN', false)
  const raw = env[variable]
  if (raw === undefined || raw === '') {
    return { permissions: NO_PERMISSIONS, file: undefined, warnings: [`${variable} is not set: the role trusts the vendor but grants no permissions, so credentials deputy issues for it can do nothing until the customer attaches a policy.`] }
  }
  const file = resolve(raw)
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new ConfigError(variable, `cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    const at = /position (\d+)/.exec((error as Error).message)?.[1]
    throw new ConfigError(variable, `${file} is not valid JSON${at === undefined ? '' : ` (at character ${at})`}`)
  }
  try {
    const { permissions, warnings } = parsePermissionSet(parsed, { allowAdmin })
    return { permissions, file, warnings }
  } catch (error) {
    if (error instanceof PermissionSetError) throw new ConfigError(variable, `${file} ${error.message}`)
    throw error
  }
}

/** The onboarding part of the configuration alone (onboardingConfig({}): the defaults). */
export function onboardingConfig (env: Env): OnboardingConfig {
  const { permissions, file, warnings } = permissionsFile(env)
  const roleName = env.ONBOARDING_ROLE_NAME === undefined || env.ONBOARDING_ROLE_NAME === '' ? 'DeputyAccess' : env.ONBOARDING_ROLE_NAME
  if (!/^[\w+=,.@-]{1,64}$/.test(roleName)) {
    throw new ConfigError('ONBOARDING_ROLE_NAME', `must be an IAM role name: 1-64 letters, digits and _+=,.@- (got "${roleName.slice(0, 80)}")`)
  }
  const boundary = env.ONBOARDING_PERMISSIONS_BOUNDARY_ARN
  const permissionsBoundaryArn = boundary === undefined || boundary === '' ? undefined : boundary
  if (permissionsBoundaryArn !== undefined && !MANAGED_POLICY_ARN.test(permissionsBoundaryArn)) {
    throw new ConfigError('ONBOARDING_PERMISSIONS_BOUNDARY_ARN', `must be a managed policy ARN (arn:aws:iam::123456789012:policy/name), got "${permissionsBoundaryArn.slice(0, 200)}"`)
  }
  // Customers' roles live in the vendor principal's partition: a policy of another cannot attach.
  const partition = /^arn:([\w-]+):/.exec(env.VENDOR_PRINCIPAL_ARN ?? '')?.[1]
  const foreign = (arn: string): boolean => partition !== undefined && !arn.startsWith(`arn:${partition}:`)
  const elsewhere = permissions.managedPolicyArns.find(foreign)
  if (elsewhere !== undefined) throw new ConfigError('ONBOARDING_PERMISSIONS_FILE', `${elsewhere} is not in the partition of VENDOR_PRINCIPAL_ARN (${String(partition)})`)
  if (permissionsBoundaryArn !== undefined && foreign(permissionsBoundaryArn)) throw new ConfigError('ONBOARDING_PERMISSIONS_BOUNDARY_ARN', `is not in the partition of VENDOR_PRINCIPAL_ARN (${String(partition)})`)
  const url = env.ONBOARDING_TEMPLATE_URL
  const templateUrl = url === undefined || url === '' ? undefined : url
  const location = templateUrl === undefined ? undefined : parseS3TemplateUrl(templateUrl)
  if (typeof location === 'string') throw new ConfigError('ONBOARDING_TEMPLATE_URL', location)
  if (templateUrl === undefined) warnings.push('ONBOARDING_TEMPLATE_URL is not set: kits carry no quick-create link (quickCreateUrl is null).')
  // The console region: as asked, else where the template's bucket is, else deputy's own region
  // (a bad AWS_REGION is reported by the AWS settings, and only when deputy uses AWS).
  const asked = env.ONBOARDING_REGION
  if (asked !== undefined && asked !== '' && !REGION.test(asked)) throw new ConfigError('ONBOARDING_REGION', `is not a region name, got "${asked.slice(0, 40)}"`)
  const own = [env.AWS_REGION, env.AWS_DEFAULT_REGION].find((r) => r !== undefined && r !== '')
  const region = asked !== undefined && asked !== '' ? asked : location?.region ?? (own !== undefined && REGION.test(own) ? own : 'us-east-1')
  return {
    permissions,
    permissionsFile: file,
    roleName,
    maxSessionDuration: integer(env, 'ONBOARDING_MAX_SESSION_DURATION', 3600, 3600, 43_200),
    permissionsBoundaryArn,
    templateUrl,
    region,
    warnings
  }
}

export function loadConfig (env: Env = process.env): Config {
  const database = databaseTarget(env)
  return {
    port: integer(env, 'PORT', 3000, 0, 65535),
    host: env.HOST !== undefined && env.HOST !== '' ? env.HOST : '127.0.0.1',
    database,
    // The embedded database belongs to this process alone, so it is always brought up to date.
    migrateOnStart: database.kind === 'pglite' || boolean(env, 'MIGRATE_ON_START', false),
    logLevel: oneOf(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    bootstrapAdminToken: bootstrapToken(env),
    rateLimit: {
      max: integer(env, 'RATE_LIMIT_MAX', 600, 1, 1_000_000),
      windowMs: integer(env, 'RATE_LIMIT_WINDOW_MS', 60_000, 1000, 3_600_000),
      authFailureMax: integer(env, 'AUTH_FAILURE_LIMIT_MAX', 30, 1, 1_000_000),
      authFailureWindowMs: integer(env, 'AUTH_FAILURE_WINDOW_MS', 60_000, 1000, 3_600_000),
      redis: sharedLimitsRedis(env)
    },
    trustProxy: trustProxy(env),
    aws: awsConfig(env),
    sandbox: sandboxConfig(env, database),
    auditSealIntervalMs: integer(env, 'AUDIT_SEAL_INTERVAL_MS', 5000, 0, 3_600_000),
    apiTokenCacheMaxAgeMs: integer(env, 'API_TOKEN_CACHE_MAX_AGE_MS', 10_000, 0, 300_000),
    drift: {
      intervalMs: integer(env, 'DRIFT_INTERVAL_SECONDS', 6 * 3600, 60, 30 * 24 * 3600) * 1000,
      stsCallsPerMinute: integer(env, 'DRIFT_STS_CALLS_PER_MINUTE', 60, 4, 100_000),
      tickMs: integer(env, 'DRIFT_TICK_MS', 15_000, 0, 3_600_000)
    },
    overload: overloadConfig(env),
    webhooks: webhooksConfig(env),
    onboarding: onboardingConfig(env)
  }
}
