// The composition root: builds every repository and service over one Prisma client.
import type { PrismaClient } from './db/database.js'
import { createApiClientsRepository } from './modules/api-clients/api-clients.repository.js'
import { createApiClientsService } from './modules/api-clients/api-clients.service.js'
import { createAuditRecorder } from './modules/audit/audit.recorder.js'
import { createAuditRepository } from './modules/audit/audit.repository.js'
import { createAuditService } from './modules/audit/audit.service.js'
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

export interface ServiceOptions {
  aws?: AwsAccess | undefined
  onUnauditedSession?: CredentialsDeps['onUnauditedSession']
}

export function createServices (prisma: PrismaClient, options: ServiceOptions = {}) {
  const { aws, onUnauditedSession } = options
  const audit = createAuditRecorder()
  const customersRepository = createCustomersRepository()
  const externalIdsRepository = createExternalIdsRepository()
  const connectionsRepository = createConnectionsRepository()
  const auditRepository = createAuditRepository()
  const probeBudget = createProbeBudget({ prisma, audit, auditRepository })
  return {
    audit,
    apiClients: createApiClientsService({ prisma, apiClientsRepository: createApiClientsRepository(), customersRepository, audit }),
    customers: createCustomersService({ prisma, customersRepository, audit }),
    externalIds: createExternalIdsService({ prisma, externalIdsRepository, customersRepository, connectionsRepository, audit }),
    connections: createConnectionsService({ prisma, connectionsRepository, externalIdsRepository, customersRepository, audit, probeBudget, aws }),
    credentials: createCredentialsService({ prisma, connectionsRepository, audit, probeBudget, aws, ...(onUnauditedSession === undefined ? {} : { onUnauditedSession }) }),
    auditQuery: createAuditService({ prisma, auditRepository }),
    idempotency: createIdempotencyService({ prisma, idempotencyRepository: createIdempotencyRepository() })
  }
}

export type Services = ReturnType<typeof createServices>
