// The composition root: builds every repository and service over one Prisma client.
import type { PrismaClient } from './db/database.js'
import { createApiClientsRepository } from './modules/api-clients/api-clients.repository.js'
import { createApiClientsService } from './modules/api-clients/api-clients.service.js'
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
import { createExternalIdsRepository } from './modules/external-ids/external-ids.repository.js'
import { createExternalIdsService } from './modules/external-ids/external-ids.service.js'
import { createIdempotencyRepository } from './modules/idempotency/idempotency.repository.js'
import { createIdempotencyService } from './modules/idempotency/idempotency.service.js'
import { createIssuanceFreezeRepository } from './modules/issuance-freeze/issuance-freeze.repository.js'
import { createIssuanceFreezeService } from './modules/issuance-freeze/issuance-freeze.service.js'

export interface ServiceOptions {
  aws?: AwsAccess | undefined
  onUnauditedSession?: CredentialsDeps['onUnauditedSession']
  /** Told about each audit event as it is written (metrics). */
  onAuditRecorded?: (entry: AuditEntry) => void
}

export function createServices (prisma: PrismaClient, options: ServiceOptions = {}) {
  const { aws, onUnauditedSession } = options
  const audit = createAuditRecorder(options.onAuditRecorded)
  const customersRepository = createCustomersRepository()
  const externalIdsRepository = createExternalIdsRepository()
  const connectionsRepository = createConnectionsRepository()
  const issuanceFreezeRepository = createIssuanceFreezeRepository()
  const auditRepository = createAuditRepository()
  const sealRepository = createSealRepository()
  const probeBudget = createProbeBudget({ prisma, audit, auditRepository })
  return {
    audit,
    apiClients: createApiClientsService({ prisma, apiClientsRepository: createApiClientsRepository(), customersRepository, audit }),
    customers: createCustomersService({ prisma, customersRepository, connectionsRepository, externalIdsRepository, audit }),
    externalIds: createExternalIdsService({ prisma, externalIdsRepository, customersRepository, connectionsRepository, audit }),
    connections: createConnectionsService({ prisma, connectionsRepository, externalIdsRepository, customersRepository, audit, probeBudget, aws }),
    credentials: createCredentialsService({ prisma, connectionsRepository, issuanceFreezeRepository, audit, probeBudget, aws, ...(onUnauditedSession === undefined ? {} : { onUnauditedSession }) }),
    issuanceFreeze: createIssuanceFreezeService({ prisma, issuanceFreezeRepository, audit }),
    sealRepository,
    auditQuery: createAuditService({ prisma, auditRepository, sealRepository, integrity: createAuditIntegrity({ prisma, sealRepository }), audit }),
    idempotency: createIdempotencyService({ prisma, idempotencyRepository: createIdempotencyRepository() })
  }
}

export type Services = ReturnType<typeof createServices>
