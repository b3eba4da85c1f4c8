// The Prisma `where` fragment for keyset pagination over (createdAt, id): rows strictly after
// the cursor's row in that order. Every list ordered by creation uses it.
export interface CreatedKey { createdAt: Date, id: string }

export function createdAfter (after: CreatedKey | undefined): { OR?: Array<{ createdAt: { gt: Date } } | { createdAt: Date, id: { gt: string } }> } {
  if (after === undefined) return {}
  return { OR: [{ createdAt: { gt: after.createdAt } }, { createdAt: after.createdAt, id: { gt: after.id } }] }
}

export const CREATED_ORDER = [{ createdAt: 'asc' as const }, { id: 'asc' as const }]

/** Rows strictly before the cursor's row: the next page of a newest-first list. */
export function createdBefore (before: CreatedKey | undefined): { OR?: Array<{ createdAt: { lt: Date } } | { createdAt: Date, id: { lt: string } }> } {
  if (before === undefined) return {}
  return { OR: [{ createdAt: { lt: before.createdAt } }, { createdAt: before.createdAt, id: { lt: before.id } }] }
}

export const CREATED_ORDER_DESC = [{ createdAt: 'desc' as const }, { id: 'desc' as const }]
