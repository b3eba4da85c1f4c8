// The composition root: builds every repository and service over one Prisma client.
import { onboardingConfig, type OnboardingConfig } from './config.js'
import type { PrismaClient, SqlClient } from './db/database.js'
import { prismaSqlClient } from './db/sql-client.js'
import { createApiClientsRepository } from './modules/api-clients/api-clients.repository.js'
import { createApiClientsService } from './modules/api-clients/api-clients.service.js'
import type { TokenCache } from './modules/api-clients/token-cache.js'
import { createAuditRecorder, type AuditEntry } from './modules/audit/audit.recorder.js'
import { createAuditRepository } from './modules/audit/audit.repository.js'
import { createAuditService } from './modules/audit/audit.service.js'
import { createAuditIntegrity } from './modules/audit/integrity.js'
import { createSealRepository } from './modules/audit/seal.repository.js'
import { createCustomersRepository } from './modules/customers/customers.repository.js'
import { createCustomersService } from './modules/customers/customers.service.js'
import type { AwsAccess } from './modules/connections/aws-access.js'
import { createConnectionsRepository } from './modules/connections/connections.repository.js'
import { createConnectionsService } from './modules/connections/connections.service.js'
import { createProbeBudget } from './modules/connections/probe-budget.js'
import { createCredentialsService, type Deps as CredentialsDeps } from './modules/credentials/credentials.service.js'
import { createIssuanceRepository } from './modules/credentials/issuance.repository.js'
import type { SessionReuse } from './modules/credentials/session-reuse.js'
import { createExternalIdsRepository } from './modules/external-ids/external-ids.repository.js'
import { createExternalIdsService } from './modules/external-ids/external-ids.service.js'
import { createIdempotencyRepository } from './modules/idempotency/idempotency.repository.js'
import { createIdempotencyService } from './modules/idempotency/idempotency.service.js'
import { createIssuanceFreezeRepository } from './modules/issuance-freeze/issuance-freeze.repository.js'
import { createIssuanceFreezeService } from './modules/issuance-freeze/issuance-freeze.service.js'
import { createOnboardingService } from './modules/onboarding/onboarding.service.js'

export interface ServiceOptions {
  /** Single statements on the hot paths; default: through Prisma's raw queries (see sql-client.ts). */
  sql?: SqlClient
  aws?: AwsAccess | undefined
  /** How often drift detection re-probes each connection (default: 6 hours). */
  driftIntervalMs?: number
  onUnauditedSession?: CredentialsDeps['onUnauditedSession']
  /** Sessions held for reuse (app.ts starts it when CREDENTIAL_REUSE=on). */
  sessionReuse?: SessionReuse | undefined
  /** Resolved API tokens kept in this process (app.ts makes it when API_TOKEN_CACHE_MAX_AGE_MS > 0). */
  tokenCache?: TokenCache | undefined
  /** Told about each audit event as it is written (metrics). */
  onAuditRecorded?: (entry: AuditEntry) => void
  /** The onboarding kit's configuration (default: a role named DeputyAccess that grants nothing). */
  onboarding?: OnboardingConfig
}

export function createServices (prisma: PrismaClient, options: ServiceOptions = {}) {
  const { aws, onUnauditedSession } = options
  const sql = options.sql ?? prismaSqlClient(prisma)
  const audit = createAuditRecorder(options.onAuditRecorded)
  const customersRepository = createCustomersRepository()
  const externalIdsRepository = createExternalIdsRepository()
  const connectionsRepository = createConnectionsRepository()
  const apiClientsRepository = createApiClientsRepository()
  const issuanceFreezeRepository = createIssuanceFreezeRepository()
  const auditRepository = createAuditRepository()
  const sealRepository = createSealRepository()
  const probeBudget = createProbeBudget({ prisma, audit, auditRepository })
  const externalIds = createExternalIdsService({ prisma, sql, externalIdsRepository, customersRepository, connectionsRepository, audit })
  const onboarding = createOnboardingService({ prisma, externalIdsRepository, externalIds, customersRepository, aws, settings: options.onboarding ?? onboardingConfig({}) })
  return {
    audit,
    apiClients: createApiClientsService({ prisma, apiClientsRepository, customersRepository, audit, tokenCache: options.tokenCache }),
    customers: createCustomersService({ prisma, customersRepository, connectionsRepository, externalIdsRepository, apiClientsRepository, audit, tokenCache: options.tokenCache }),
    externalIds,
    connections: createConnectionsService({ prisma, connectionsRepository, externalIdsRepository, customersRepository, audit, probeBudget, aws, kits: onboarding, driftIntervalMs: options.driftIntervalMs ?? 6 * 3600 * 1000 }),
    credentials: createCredentialsService({ prisma, sql, issuanceRepository: createIssuanceRepository(), connectionsRepository, issuanceFreezeRepository, apiClientsRepository, audit, probeBudget, aws, reuse: options.sessionReuse, ...(onUnauditedSession === undefined ? {} : { onUnauditedSession }) }),
    issuanceFreeze: createIssuanceFreezeService({ prisma, issuanceFreezeRepository, audit }),
    auditRepository,
    sealRepository,
    auditQuery: createAuditService({ prisma, auditRepository, sealRepository, integrity: createAuditIntegrity({ prisma, sealRepository }), audit }),
    idempotency: createIdempotencyService({ prisma, idempotencyRepository: createIdempotencyRepository() }),
    onboarding
  }
}

export type Services = ReturnType<typeof createServices>
