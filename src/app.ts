// The application as a Fastify plugin: external plugins, then deputy's plugins, then routes.
// server.ts and the tests both register it on a Fastify built with fastifyOptions().
import type { FastifyServerOptions } from 'fastify'
import fp from 'fastify-plugin'
import type { Logger } from 'pino'
import type { Config } from './config.js'
import type { Database } from './db/database.js'
import { apiClientsRoutes } from './modules/api-clients/api-clients.routes.js'
import { auditRoutes } from './modules/audit/audit.routes.js'
import { connectAws } from './modules/connections/aws-access.js'
import { connectionsRoutes } from './modules/connections/connections.routes.js'
import { credentialsRoutes } from './modules/credentials/credentials.routes.js'
import { containerCredentialsRoutes } from './modules/credentials/container-credentials.routes.js'
import { customersRoutes } from './modules/customers/customers.routes.js'
import { externalIdsRoutes } from './modules/external-ids/external-ids.routes.js'
import { onboardingRoutes } from './modules/onboarding/onboarding.routes.js'
import { healthRoutes } from './modules/health/health.routes.js'
import { issuanceFreezeRoutes } from './modules/issuance-freeze/issuance-freeze.routes.js'
import auth from './plugins/auth.js'
import errorHandler, { frameworkErrors } from './plugins/error-handler.js'
import idempotency from './plugins/idempotency.js'
import rateLimit, { createRateLimits } from './plugins/rate-limit.js'
import refusalAudit from './plugins/refusal-audit.js'
import requestContext, { genReqId } from './plugins/request-context.js'
import { lazySerializerFactory, validatorCompiler } from './plugins/schema-compilers.js'
import swagger from './plugins/swagger.js'
import consolePlugin from './plugins/console.js'
import textInput from './plugins/text-input.js'
import loadShedding from './plugins/under-pressure.js'
import { createJobs } from './jobs.js'
import { createMetrics, type Metrics } from './metrics.js'
import metricsPlugin from './plugins/metrics.js'
import { metricsRoutes } from './modules/metrics/metrics.routes.js'
import { createAuditSealer, type AuditSealer } from './modules/audit/sealer.js'
import { createServices } from './services.js'
import { startTokenCache } from './modules/api-clients/token-cache.listener.js'
import { startSessionReuse } from './modules/credentials/reuse.listener.js'
import type { SessionReuse } from './modules/credentials/session-reuse.js'
import { createWebhooks } from './modules/webhooks/webhooks.js'
import { createDriftRepository } from './modules/drift/drift.repository.js'
import { createDriftScheduler, type DriftScheduler } from './modules/drift/drift.scheduler.js'
import { generateToken } from './modules/api-clients/tokens.js'
import type { Sandbox } from './modules/sandbox/sandbox.js'
import { sandboxRoutes } from './modules/sandbox/sandbox.routes.js'
import { createSandboxService } from './modules/sandbox/sandbox.service.js'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics
    /** The audit sealer, for tests that run it once without timers. */
    auditSealer: AuditSealer
    /** The drift scheduler, for tests that run it once without timers. */
    driftScheduler: DriftScheduler
    /** The sessions held for reuse (CREDENTIAL_REUSE=on), for tests that look inside; else undefined. */
    sessionReuse: SessionReuse | undefined
  }
}

export { validatorCompiler }

export const BODY_LIMIT_BYTES = 64 * 1024

/**
 * Fastify's trustProxy for TRUST_PROXY. Fastify 5.12 ignores a bare hop count (it cannot check the
 * immediate peer), so a count becomes a function trusting exactly that many hops: right only when
 * deputy cannot be reached except through those proxies (README, TRUST_PROXY).
 */
function trustProxyOption (trust: Config['trustProxy']): FastifyServerOptions['trustProxy'] {
  if (typeof trust !== 'number') return trust
  return (_address: string, hop: number) => hop < trust
}

export function fastifyOptions (config: Pick<Config, 'trustProxy'>, logger: Logger): FastifyServerOptions {
  return {
    loggerInstance: logger,
    bodyLimit: BODY_LIMIT_BYTES,
    genReqId,
    requestIdHeader: false,
    trustProxy: trustProxyOption(config.trustProxy),
    return503OnClosing: true,
    frameworkErrors,
    schemaController: { compilersFactory: { buildSerializer: lazySerializerFactory() } }
  }
}

export interface AppOptions {
  config: Config
  database: Database
  /**
   * The running sandbox (server.ts starts it when config.sandbox is set): deputy then uses its
   * STS emulator instead of AWS and serves the sandbox routes. Without it there are neither.
   */
  sandbox?: Sandbox | undefined
}

// Wrapped with fastify-plugin so the decorators it adds (swagger(), authorize) are visible to
// whoever registers it, e.g. scripts that build the OpenAPI document.
export const app = fp<AppOptions>(async function deputyApp (fastify, { config, database, sandbox }) {
  const metrics = createMetrics()
  fastify.decorate('metrics', metrics)
  let aws: Awaited<ReturnType<typeof connectAws>> | undefined
  // The sandbox's emulator is reached with its address and keys given explicitly, never through
  // the environment; anything else is the SDK's own resolution (AWS_ENDPOINT_URL_STS, credentials).
  const awsSettings = sandbox?.settings.aws ?? config.aws
  if (awsSettings !== undefined) {
    aws = await connectAws(awsSettings, { onCall: (action, result, seconds) => { metrics.stsCalls.observe({ action, result }, seconds) }, ...sandbox?.connection })
    fastify.addHook('onClose', async () => aws?.close())
    if (sandbox !== undefined) fastify.log.warn({ identity: aws.identityArn, stsEndpoint: sandbox.connection.endpoint, sandbox: true }, 'sandbox: AWS is emulated by the STS emulator in this process; no call reaches AWS')
    else {
      fastify.log.info({ identity: aws.identityArn, region: awsSettings.region, stsEndpoint: process.env.AWS_ENDPOINT_URL_STS ?? 'default', awsCredentials: aws.ownCredentials }, 'AWS identity confirmed')
      metrics.reportAwsCredentials(aws.ownCredentials)
      // What deputy asks of its customers' vendors, it asks of itself: no long-lived secret.
      if (aws.ownCredentials === 'long_term') fastify.log.warn({ identity: aws.identityArn, awsCredentials: 'long_term' }, 'deputy\'s own AWS credentials are long-term access keys (AKIA...): run it with a role instead (web identity, a container or instance role, or IAM Roles Anywhere as a credential_process; README, "deputy\'s own AWS identity")')
    }
  } else {
    fastify.log.warn('VENDOR_PRINCIPAL_ARN is not set: running without AWS; connection and credential routes answer 503')
  }
  // Also sent with every onboarding kit (there is none without AWS), for the vendor's onboarding UI.
  if (aws !== undefined) for (const warning of config.onboarding.warnings) fastify.log.warn({ onboarding: true }, warning)
  const tokenCache = await startTokenCache(fastify, database, config.apiTokenCacheMaxAgeMs, metrics)
  // Only with CREDENTIAL_REUSE=on does any session outlive its request in memory.
  const sessionReuse = aws?.settings.credentialReuse === true ? await startSessionReuse(fastify, database, metrics) : undefined
  fastify.decorate('sessionReuse', sessionReuse)
  const services = createServices(database.prisma, {
    sql: database.sql,
    tokenCache,
    sessionReuse,
    aws,
    driftIntervalMs: config.drift.intervalMs,
    onboarding: config.onboarding,
    onAuditRecorded: (entry) => { metrics.countAuditEvent(entry) },
    // Error level, with what an operator needs to find the dropped session in CloudTrail.
    onUnauditedSession: (error, session) => {
      metrics.unauditedSessions.inc()
      fastify.log.error({ err: error, session }, 'could not write the credentials.issued audit event; the session AWS issued was dropped, find it in CloudTrail by its access key id')
    }
  })
  const auditSealer = createAuditSealer({ prisma: database.prisma, sealRepository: services.sealRepository, metrics, log: fastify.log })
  fastify.decorate('auditSealer', auditSealer)
  const driftScheduler = createDriftScheduler({ prisma: database.prisma, driftRepository: createDriftRepository(), connections: services.connections, settings: config.drift, sts: { timeoutMs: awsSettings?.stsTimeoutMs ?? 0, retryBudgetMs: awsSettings?.stsRetryBudgetMs ?? 0 }, log: fastify.log })
  fastify.decorate('driftScheduler', driftScheduler)
  // Outbound webhooks, only with WEBHOOK_ENDPOINTS: the audit trail is the outbox; the relay moves
  // sealed notified events into pg-boss's delivery queues. No request touches pg-boss.
  const webhooks = createWebhooks({ config: config.webhooks, target: config.database, database, auditRepository: services.auditRepository, sealRepository: services.sealRepository, metrics, log: fastify.log })
  const jobs = createJobs(fastify.log, [
    { name: 'audit-sealer', intervalMs: config.auditSealIntervalMs, run: auditSealer.runOnce },
    // Without AWS there is nothing to probe with.
    { name: 'drift-scheduler', intervalMs: aws === undefined ? 0 : config.drift.tickMs, run: driftScheduler.runOnce },
    // Starts pg-boss when it is not running, then relays what the sealer has sealed.
    ...(webhooks === undefined ? [] : [{ name: 'webhook-relay', intervalMs: config.webhooks.relayIntervalMs, run: webhooks.relayOnce }])
  ])
  // The backlog is shared by every replica, so even one whose scheduler is off reports it.
  if (aws !== undefined) metrics.watchDriftBacklog(driftScheduler.backlog)
  // The relay's cursor is set before the server listens, so every change it serves is notified.
  if (webhooks !== undefined) fastify.addHook('onReady', async () => { await webhooks.init() })
  fastify.addHook('onReady', async () => { jobs.start() })
  // preClose: the loops stop (and a run in progress finishes), then the webhook workers and
  // pg-boss, all before the database closes.
  fastify.addHook('preClose', async () => {
    await jobs.stop()
    await webhooks?.stop()
  })
  metrics.watchIssuanceFreeze(async () => (await services.issuanceFreeze.state()).frozen)
  if (database.poolStats !== undefined) metrics.watchDatabasePool(database.poolStats)
  if (config.bootstrapAdminToken !== undefined) {
    const created = await services.apiClients.bootstrapAdmin(config.bootstrapAdminToken)
    if (created !== null) fastify.log.info({ apiClientId: created }, 'created the bootstrap admin client from DEPUTY_BOOTSTRAP_ADMIN_TOKEN')
  } else if (sandbox !== undefined) {
    // The sandbox's first admin. The token goes to the banner (server.ts prints it once on
    // stdout, outside the logger) and nowhere else; later starts find an admin and make none.
    const token = generateToken()
    const created = await services.apiClients.bootstrapAdmin(token, 'sandbox')
    if (created !== null) {
      sandbox.keepAdminToken(token)
      fastify.log.info({ apiClientId: created }, 'sandbox: created an admin client; its token is printed once in the banner, never logged')
    }
  }

  // deputy speaks JSON only: anything else is 415, not a string that fails validation.
  fastify.removeContentTypeParser(['text/plain'])
  fastify.setValidatorCompiler(validatorCompiler())
  await fastify.register(errorHandler)
  await fastify.register(requestContext)
  // First of the onRequest hooks: a shed request costs no rate-limit count, token lookup or query.
  await fastify.register(loadShedding, { config: config.overload, metrics })
  await fastify.register(textInput)
  await fastify.register(swagger)
  await fastify.register(metricsPlugin, { metrics })
  // In memory, or shared by every replica through Redis (REDIS_URL).
  const limits = await createRateLimits({ settings: config.rateLimit, prisma: database.prisma, audit: services.audit, log: fastify.log })
  await fastify.register(rateLimit, { max: config.rateLimit.max, windowMs: config.rateLimit.windowMs, limits })
  await fastify.register(auth, { prisma: database.prisma, apiClients: services.apiClients, audit: services.audit, throttle: limits.throttle })
  await fastify.register(idempotency, { idempotency: services.idempotency })
  await fastify.register(refusalAudit, { prisma: database.prisma, audit: services.audit })

  await fastify.register(metricsRoutes, { registry: metrics.registry })
  await fastify.register(healthRoutes, { ping: database.ping, issuanceFreeze: services.issuanceFreeze.state, sandbox: sandbox?.settings, auditSealing: auditSealer.sealingMode, awsCredentials: sandbox === undefined ? aws?.ownCredentials : undefined })
  await fastify.register(apiClientsRoutes, { apiClients: services.apiClients })
  await fastify.register(customersRoutes, { customers: services.customers })
  await fastify.register(externalIdsRoutes, { externalIds: services.externalIds })
  await fastify.register(onboardingRoutes, { onboarding: services.onboarding })
  await fastify.register(connectionsRoutes, { connections: services.connections })
  await fastify.register(credentialsRoutes, { credentials: services.credentials })
  await fastify.register(containerCredentialsRoutes, { credentials: services.credentials })
  await fastify.register(issuanceFreezeRoutes, { issuanceFreeze: services.issuanceFreeze })
  await fastify.register(auditRoutes, { auditQuery: services.auditQuery })
  // The browser console: static files in their own context, with their own strict CSP.
  await fastify.register(consolePlugin)
  if (sandbox !== undefined) await fastify.register(sandboxRoutes, { sandbox: createSandboxService({ emulator: sandbox.emulator, partition: 'aws' }) })
}, { name: 'deputy' })
