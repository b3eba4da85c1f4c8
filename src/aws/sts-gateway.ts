// deputy's only door to AWS: AssumeRole and GetCallerIdentity through @aws-sdk/client-sts (and IAM
// GetRole, for the probe's static check, through iam-get-role.ts), with a
// timeout on every call and jittered retries of throttling and server faults within a bounded
// time and a retry quota. Errors come back classified, never thrown, so callers decide what each
// one means.
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient, type AssumeRoleCommandInput } from '@aws-sdk/client-sts'
import { NodeHttpHandler } from '@smithy/node-http-handler'
import { iamGetRole, type RoleDocument } from './iam-get-role.js'

export interface StsSettings {
  region: string
  /** Per-call timeout (connection and response). */
  timeoutMs: number
  /** Told about every attempt: its action, 'ok' or the AWS error code, and how long it took. */
  onCall?: (action: AwsAction, result: string, seconds: number) => void
  /**
   * Where STS is and who deputy is, given explicitly (the sandbox's in-process emulator). Unset:
   * the SDK's own resolution (AWS_ENDPOINT_URL_STS, the default credential chain). Explicit values
   * win over the environment, so the sandbox neither reads nor changes a real AWS configuration.
   */
  endpoint?: string | undefined
  credentials?: { accessKeyId: string, secretAccessKey: string } | undefined
}

export type AwsAction = 'AssumeRole' | 'GetCallerIdentity' | 'GetRole'

export interface TemporaryCredentials {
  accessKeyId: string
  secretAccessKey: string
  sessionToken: string
  expiration: Date
}

export type StsFailureKind =
  | 'denied' // AccessDenied: the trust policy (or an SCP) refused
  | 'throttled' // Throttling and friends: retry later
  | 'unavailable' // 5xx, timeouts, dropped connections
  | 'vendor_credentials' // deputy's own credentials are invalid or expired
  | 'rejected' // the request itself was refused (validation, policy size, ...)

export interface StsFailure {
  kind: StsFailureKind
  code: string
  message: string
  requestId: string | null
}

export type StsOutcome<T> =
  | { ok: true, value: T, requestId: string | null, attempts: number }
  | { ok: false, failure: StsFailure, attempts: number }

export interface AssumeRoleInput {
  roleArn: string
  sessionName: string
  externalId?: string | undefined
  durationSeconds: number
  policy?: string | undefined
  policyArns?: string[] | undefined
  sourceIdentity?: string | undefined
  /** Session tags (not transitive: deputy's sessions do not chain roles on the customer's behalf). */
  tags?: ReadonlyArray<{ key: string, value: string }> | undefined
}

export interface AssumedRole {
  credentials: TemporaryCredentials
  assumedRoleArn: string
  sourceIdentity: string | null
}

export interface CallerIdentity {
  arn: string
  account: string
  userId: string
}

const THROTTLING = new Set(['Throttling', 'ThrottlingException', 'RequestLimitExceeded', 'TooManyRequestsException', 'RequestThrottled', 'SlowDown'])
const VENDOR_CREDENTIALS = new Set(['InvalidClientTokenId', 'SignatureDoesNotMatch', 'ExpiredToken', 'ExpiredTokenException', 'MissingAuthenticationToken', 'UnrecognizedClientException', 'CredentialsProviderError'])

interface SdkError { name?: string, message?: string, $fault?: string, $metadata?: { httpStatusCode?: number, requestId?: string } }

export function classifyStsError (error: unknown): StsFailure {
  const e = error as SdkError
  const code = e.name ?? 'UnknownError'
  const failure = (kind: StsFailureKind): StsFailure => ({ kind, code, message: e.message ?? code, requestId: e.$metadata?.requestId ?? null })
  if (code === 'AccessDenied' || code === 'AccessDeniedException') return failure('denied')
  if (THROTTLING.has(code)) return failure('throttled')
  if (VENDOR_CREDENTIALS.has(code)) return failure('vendor_credentials')
  const status = e.$metadata?.httpStatusCode
  if (e.$fault === 'server' || (status !== undefined && status >= 500) || status === undefined) return failure('unavailable')
  return failure('rejected')
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * The retry quota of the AWS SDK's standard retry mode, over deputy's own retries: every retry
 * takes tokens from one bucket per process (10 after a timeout, 5 otherwise), and a success
 * gives back what its last retry took, or 1. When STS throttles or fails everything (a storm),
 * the bucket is empty after about a hundred retries and each call then makes one attempt, so
 * deputy does not multiply the load on an STS that is already refusing it.
 */
export const RETRY_QUOTA = { capacity: 500, retryCost: 5, timeoutRetryCost: 10, successRefund: 1 } as const

/** Full-jitter exponential backoff: a random wait up to min(cap, base * 2^attempt). */
export const backoffMs = (attempt: number, baseMs = 100, capMs = 2000): number =>
  Math.random() * Math.min(capMs, baseMs * 2 ** attempt)

export function createStsGateway (settings: StsSettings) {
  // One handler (one connection pool) for deputy's own client and the probe's short-lived ones.
  // throwOnRequestTimeout: without it the SDK only logs a warning when the timeout passes.
  const requestHandler = new NodeHttpHandler({ connectionTimeout: settings.timeoutMs, requestTimeout: settings.timeoutMs, throwOnRequestTimeout: true })
  // Retries are ours (bounded by time, classified); the SDK makes exactly one attempt per call.
  const target = {
    ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
    ...(settings.credentials === undefined ? {} : { credentials: settings.credentials })
  }
  const client = new STSClient({ region: settings.region, maxAttempts: 1, requestHandler, ...target })

  let retryTokens: number = RETRY_QUOTA.capacity

  async function withRetries<T> (action: AwsAction, budgetMs: number, call: () => Promise<{ value: T, requestId: string | null }>): Promise<StsOutcome<T>> {
    const deadline = Date.now() + budgetMs
    let lastRetryCost = 0
    for (let attempt = 1; ; attempt++) {
      const started = performance.now()
      try {
        const { value, requestId } = await call()
        settings.onCall?.(action, 'ok', (performance.now() - started) / 1000)
        retryTokens = Math.min(RETRY_QUOTA.capacity, retryTokens + (lastRetryCost > 0 ? lastRetryCost : RETRY_QUOTA.successRefund))
        return { ok: true, value, requestId, attempts: attempt }
      } catch (error) {
        const failure = classifyStsError(error)
        settings.onCall?.(action, failure.code, (performance.now() - started) / 1000)
        const retryable = failure.kind === 'throttled' || failure.kind === 'unavailable'
        const wait = backoffMs(attempt)
        const cost = failure.code === 'TimeoutError' ? RETRY_QUOTA.timeoutRetryCost : RETRY_QUOTA.retryCost
        if (!retryable || Date.now() + wait >= deadline || retryTokens < cost) return { ok: false, failure, attempts: attempt }
        retryTokens -= cost
        lastRetryCost = cost
        await sleep(wait)
      }
    }
  }

  return {
    /**
     * What kind of credentials deputy itself signs with, as the SDK's default chain resolved them:
     * long-term access keys (AKIA...; an IAM user's, or the root's) or temporary ones (ASIA...:
     * a role through web identity, a container or instance role, a credential_process such as
     * IAM Roles Anywhere's signing helper).
     */
    async ownCredentials (): Promise<'long_term' | 'temporary'> {
      const { accessKeyId } = await client.config.credentials()
      return accessKeyId.startsWith('AKIA') ? 'long_term' : 'temporary'
    },

    async callerIdentity (options: { credentials?: TemporaryCredentials, retryBudgetMs?: number } = {}): Promise<StsOutcome<CallerIdentity>> {
      const sts = options.credentials === undefined
        ? client
        : new STSClient({ region: settings.region, maxAttempts: 1, requestHandler, ...target, credentials: options.credentials })
      return withRetries('GetCallerIdentity', options.retryBudgetMs ?? 0, async () => {
        const out = await sts.send(new GetCallerIdentityCommand({}))
        return { value: { arn: out.Arn ?? '', account: out.Account ?? '', userId: out.UserId ?? '' }, requestId: out.$metadata.requestId ?? null }
      })
    },

    async assumeRole (input: AssumeRoleInput, options: { retryBudgetMs: number }): Promise<StsOutcome<AssumedRole>> {
      const command: AssumeRoleCommandInput = {
        RoleArn: input.roleArn,
        RoleSessionName: input.sessionName,
        DurationSeconds: input.durationSeconds,
        ...(input.externalId === undefined ? {} : { ExternalId: input.externalId }),
        ...(input.policy === undefined ? {} : { Policy: input.policy }),
        ...(input.policyArns === undefined || input.policyArns.length === 0 ? {} : { PolicyArns: input.policyArns.map((arn) => ({ arn })) }),
        ...(input.sourceIdentity === undefined ? {} : { SourceIdentity: input.sourceIdentity }),
        ...(input.tags === undefined || input.tags.length === 0 ? {} : { Tags: input.tags.map((tag) => ({ Key: tag.key, Value: tag.value })) })
      }
      return withRetries('AssumeRole', options.retryBudgetMs, async () => {
        const out = await client.send(new AssumeRoleCommand(command))
        const c = out.Credentials
        if (c?.AccessKeyId === undefined || c.SecretAccessKey === undefined || c.SessionToken === undefined || c.Expiration === undefined) {
          throw Object.assign(new Error('AssumeRole returned no credentials'), { name: 'IncompleteResponse', $fault: 'server' })
        }
        return {
          value: {
            credentials: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration },
            assumedRoleArn: out.AssumedRoleUser?.Arn ?? '',
            sourceIdentity: out.SourceIdentity ?? null
          },
          requestId: out.$metadata.requestId ?? null
        }
      })
    },

    /**
     * IAM GetRole on `roleArn` with a session of that role (the probe's first call): its trust
     * policy, or a classified failure (denied when the role does not grant iam:GetRole on itself).
     * The endpoint is the explicit one when set (the sandbox's emulator serves IAM too), else
     * AWS_ENDPOINT_URL_IAM or the partition's.
     */
    async getRole (credentials: TemporaryCredentials, roleArn: string, options: { retryBudgetMs: number }): Promise<StsOutcome<RoleDocument>> {
      return withRetries('GetRole', options.retryBudgetMs, () => iamGetRole({ endpoint: settings.endpoint, requestHandler }, credentials, roleArn))
    },

    /** Retries left in the quota now (RETRY_QUOTA). */
    retryTokens: (): number => retryTokens,

    destroy (): void {
      client.destroy()
    }
  }
}

export type StsGateway = ReturnType<typeof createStsGateway>
