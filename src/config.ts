// deputy's configuration: read once from the environment, validated, and passed down as one
// typed object. Tests build it with loadConfig({...}) instead of touching process.env.
import { isIP } from 'node:net'
import { resolve } from 'node:path'
import type { DatabaseTarget } from './db/database.js'

export interface RateLimitConfig {
  /** Requests allowed per proven token (or per address, for every other request) in each window. */
  max: number
  windowMs: number
  /** Failed authentications allowed per address in each auth-failure window; then 429 auth_throttled. */
  authFailureMax: number
  authFailureWindowMs: number
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
  /** Pause between two runs of the audit sealer; 0 turns this replica's sealer off. */
  auditSealIntervalMs: number
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
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new ConfigError('DATABASE_URL', 'is not a URL (expected postgresql://user@host:port/database)')
  }
  if (parsed.protocol !== 'postgresql:' && parsed.protocol !== 'postgres:') {
    throw new ConfigError('DATABASE_URL', `must start with postgresql://, got ${parsed.protocol}//`)
  }
  return { kind: 'postgres', url, poolSize: integer(env, 'DATABASE_POOL_SIZE', 10, 1, 200) }
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
  return {
    vendorPrincipalArn,
    region,
    stsTimeoutMs: integer(env, 'STS_TIMEOUT_MS', 5000, 100, 60_000),
    stsRetryBudgetMs: integer(env, 'STS_RETRY_BUDGET_MS', 3000, 0, 60_000),
    probePropagationWindowMs: integer(env, 'PROBE_PROPAGATION_WINDOW_MS', 60_000, 0, 300_000),
    credentialsMaxDurationSeconds: integer(env, 'CREDENTIALS_MAX_DURATION_SECONDS', 3600, 900, 3600),
    sourceIdentity: boolean(env, 'SOURCE_IDENTITY_ENABLED', true),
    controlRoleArn: controlRoleArn(env),
    probeCooldownMs: integer(env, 'PROBE_COOLDOWN_MS', 60_000, 0, 86_400_000),
    probeBudgetPerCustomerPerHour: integer(env, 'PROBE_BUDGET_PER_CUSTOMER_PER_HOUR', 30, 1, 100_000)
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
      authFailureWindowMs: integer(env, 'AUTH_FAILURE_WINDOW_MS', 60_000, 1000, 3_600_000)
    },
    trustProxy: trustProxy(env),
    aws: awsConfig(env),
    auditSealIntervalMs: integer(env, 'AUDIT_SEAL_INTERVAL_MS', 5000, 0, 3_600_000)
  }
}
