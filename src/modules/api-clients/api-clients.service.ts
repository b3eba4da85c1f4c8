// API clients: who may call deputy, with which scopes, bound to which customer. Also resolves a
// bearer token to its client for the auth plugin, and seeds the first admin from configuration.
import type { PrismaClient } from '../../db/database.js'
import type { Caller } from '../../lib/caller.js'
import { AppError, notFound } from '../../lib/errors.js'
import { createdCursorKey, decodeCreatedCursor, toPage, type Page } from '../../lib/pagination.js'
import type { AuditRecorder } from '../audit/audit.recorder.js'
import type { CustomersRepository } from '../customers/customers.repository.js'
import type { ApiClientsRepository, ApiClientRow } from './api-clients.repository.js'
import type { ApiClientView, CreateApiClientInput } from './api-clients.schemas.js'
import { isScope, UNBOUND_SCOPES, type Scope } from './scopes.js'
import type { TokenCache } from './token-cache.js'
import { generateToken, hashToken } from './tokens.js'

export interface Deps {
  prisma: PrismaClient
  apiClientsRepository: ApiClientsRepository
  customersRepository: Pick<CustomersRepository, 'findById'>
  audit: AuditRecorder
  /** Resolved tokens kept in this process (see token-cache.ts); none: every request looks up. */
  tokenCache?: TokenCache | undefined
}

export type TokenCheck =
  | { ok: true, client: { id: string, name: string, customerId: string | null, scopes: Scope[] } }
  | { ok: false, reason: 'unknown_token' | 'revoked_token', clientId: string | null }

export function toApiClientView (row: ApiClientRow): ApiClientView {
  return {
    id: row.id,
    name: row.name,
    scopes: row.scopes.filter(isScope),
    customerId: row.customerId,
    createdAt: row.createdAt.toISOString(),
    revokedAt: row.revokedAt?.toISOString() ?? null
  }
}

export function createApiClientsService (deps: Deps) {
  const { prisma, apiClientsRepository: repo, customersRepository, audit, tokenCache } = deps

  return {
    async authenticate (token: string): Promise<TokenCheck> {
      const tokenHash = hashToken(token)
      const cached = tokenCache?.get(tokenHash)
      if (cached !== undefined) return { ok: true, client: cached }
      const stamp = tokenCache?.stamp() ?? 0
      const row = await repo.findByTokenHash(prisma, tokenHash)
      if (row === null) return { ok: false, reason: 'unknown_token', clientId: null }
      if (row.revokedAt !== null) return { ok: false, reason: 'revoked_token', clientId: row.id }
      const client = { id: row.id, name: row.name, customerId: row.customerId, scopes: row.scopes.filter(isScope) }
      tokenCache?.set(tokenHash, client, stamp)
      return { ok: true, client }
    },

    async create (caller: Caller, input: CreateApiClientInput): Promise<ApiClientView & { token: string }> {
      const customerId = input.customerId ?? null
      const unbound = input.scopes.find((scope) => UNBOUND_SCOPES.includes(scope))
      if (customerId !== null && unbound !== undefined) {
        throw new AppError({ status: 400, code: 'admin_cannot_be_bound', title: 'Bad request', detail: `the ${unbound} scope reaches every customer and cannot be bound to one; drop customerId or the ${unbound} scope` })
      }
      const token = generateToken()
      const row = await prisma.$transaction(async (tx) => {
        if (customerId !== null && await customersRepository.findById(tx, { customerId: null }, customerId) === null) {
          throw notFound('customer', customerId)
        }
        const created = await repo.insert(tx, { name: input.name, tokenHash: hashToken(token), scopes: input.scopes, customerId, createdBy: caller.actor.clientId })
        await audit.record(tx, {
          action: 'api_client.created',
          outcome: 'success',
          actorClientId: caller.actor.clientId,
          request: caller.request,
          customerId,
          resourceType: 'api_client',
          resourceId: created.id,
          details: { name: created.name, scopes: created.scopes }
        })
        return created
      })
      return { ...toApiClientView(row), token }
    },

    async list (query: { limit?: number | undefined, cursor?: string | undefined }): Promise<Page<ApiClientView>> {
      const limit = query.limit ?? 50
      const after = query.cursor === undefined ? undefined : decodeCreatedCursor(query.cursor)
      const rows = await repo.list(prisma, {
        limit,
        after
      })
      return toPage(rows, limit, toApiClientView, createdCursorKey)
    },

    /**
     * Revokes once, under the row's lock: of concurrent revokes exactly one changes the row and
     * audits it; the others return the revoked client.
     */
    async revoke (caller: Caller, id: string): Promise<ApiClientView> {
      const view = await prisma.$transaction(async (tx) => {
        // The row lock first: an issuance that share-locked the client commits its event before
        // this revocation, and one that has not yet waits for it and is refused.
        if (!await repo.lockForRevoke(tx, id)) throw notFound('API client', id)
        const existing = await repo.findById(tx, id)
        if (existing === null) throw notFound('API client', id)
        if (existing.revokedAt !== null) return toApiClientView(existing)
        const { count } = await repo.revoke(tx, id, new Date())
        // Another revoke committed between our read and our update: it changed and audited the row.
        if (count === 0) return toApiClientView(await repo.findById(tx, id) ?? existing)
        await audit.record(tx, {
          action: 'api_client.revoked',
          outcome: 'success',
          actorClientId: caller.actor.clientId,
          request: caller.request,
          customerId: existing.customerId,
          resourceType: 'api_client',
          resourceId: id
        })
        const revoked = await repo.findById(tx, id)
        return toApiClientView(revoked ?? existing)
      })
      // This process at once; the others when the trigger's notification reaches them.
      tokenCache?.invalidate(id)
      return view
    },

    /**
     * Creates an admin client holding exactly `token` when no active admin exists yet: how the
     * first operator gets in. Returns the new client's id, or null when nothing was needed.
     * `source` says where the token came from (the audit event's details.source): the
     * operator's DEPUTY_BOOTSTRAP_ADMIN_TOKEN, or the sandbox, which made it and prints it once.
     */
    async bootstrapAdmin (token: string, source: 'DEPUTY_BOOTSTRAP_ADMIN_TOKEN' | 'sandbox' = 'DEPUTY_BOOTSTRAP_ADMIN_TOKEN'): Promise<string | null> {
      // Replicas starting together race here; the unique token hash lets exactly one win.
      return prisma.$transaction(async (tx) => {
        if (await repo.countActiveAdmins(tx) > 0) return null
        const tokenHash = hashToken(token)
        const existing = await repo.findByTokenHash(tx, tokenHash)
        if (existing !== null) return null
        const created = await repo.insert(tx, { name: source === 'sandbox' ? 'sandbox admin' : 'bootstrap admin', tokenHash, scopes: ['admin'], customerId: null, createdBy: null })
        await audit.record(tx, {
          action: 'api_client.bootstrapped',
          outcome: 'success',
          actorClientId: null,
          request: null,
          resourceType: 'api_client',
          resourceId: created.id,
          details: { source }
        })
        return created.id
      }).catch((error: unknown) => {
        if (repo.isTokenHashConflict(error)) return null
        throw error
      })
    }
  }
}

export type ApiClientsService = ReturnType<typeof createApiClientsService>
