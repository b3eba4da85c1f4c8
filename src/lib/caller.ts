// Who is asking, and from where: passed from routes into every service method so the service
// can scope its queries to the caller's tenant and write the audit event itself.
import type { Scope } from '../modules/api-clients/scopes.js'

export interface Actor {
  /** null only for the operator CLI, which acts with direct database access. */
  clientId: string | null
  /** The API client's name: shown in the customer's CloudTrail through session names. */
  clientName: string
  /** Set when the API client is bound to one customer: it sees nothing of any other. */
  customerId: string | null
  scopes: readonly Scope[]
}

export interface RequestMeta {
  requestId: string
  sourceIp: string | null
  userAgent: string | null
}

export interface Caller {
  actor: Actor
  request: RequestMeta
}

/** The tenant filter every repository read takes: one customer, or all of them. */
export interface TenantScope {
  customerId: string | null
}

export const tenantOf = (actor: Actor): TenantScope => ({ customerId: actor.customerId })

/** True when the scope lets the caller see the given customer's data. */
export const canSee = (scope: TenantScope, customerId: string): boolean =>
  scope.customerId === null || scope.customerId === customerId
