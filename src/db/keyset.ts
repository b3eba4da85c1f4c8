// The Prisma `where` fragment for keyset pagination over (createdAt, id): rows strictly after
// the cursor's row in that order. Every list ordered by creation uses it.
export interface CreatedKey { createdAt: Date, id: string }

export function createdAfter (after: CreatedKey | undefined): { OR?: Array<{ createdAt: { gt: Date } } | { createdAt: Date, id: { gt: string } }> } {
  if (after === undefined) return {}
  return { OR: [{ createdAt: { gt: after.createdAt } }, { createdAt: after.createdAt, id: { gt: after.id } }] }
}

export const CREATED_ORDER = [{ createdAt: 'asc' as const }, { id: 'asc' as const }]
