// The permissions an API client can hold. `admin` implies every other scope.
export const SCOPES = [
  'admin',
  'customers:read',
  'customers:write',
  'customers:offboard',
  'external-ids:read',
  'external-ids:write',
  'audit:read',
  'connections:read',
  'connections:write',
  'credentials:issue',
  'metrics:read'
] as const

export type Scope = typeof SCOPES[number]

export const hasScope = (held: readonly Scope[], needed: Scope): boolean =>
  held.includes('admin') || held.includes(needed)

/**
 * Scopes that span every customer, or act for the vendor over a customer (offboarding, final),
 * so a client bound to one customer cannot hold them.
 */
export const UNBOUND_SCOPES: readonly Scope[] = ['admin', 'customers:offboard', 'metrics:read']

export const isScope = (value: string): value is Scope => (SCOPES as readonly string[]).includes(value)
