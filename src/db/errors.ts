// Reads Prisma errors raised through either driver adapter (pg or PGlite), so repositories can
// map them to domain errors without knowing which database is underneath.
interface AdapterCause {
  originalMessage?: string
  originalCode?: string
  constraint?: { index?: string }
}

function adapterCause (error: unknown): AdapterCause | undefined {
  const meta = (error as { meta?: { driverAdapterError?: { cause?: AdapterCause } } }).meta
  return meta?.driverAdapterError?.cause
}

/** The name of the unique index a P2002 error violated, or undefined for any other error. */
export function violatedUniqueIndex (error: unknown): string | undefined {
  if ((error as { code?: unknown }).code !== 'P2002') return undefined
  const cause = adapterCause(error)
  if (cause?.constraint?.index !== undefined) return cause.constraint.index
  const match = /unique constraint "([^"]+)"/.exec(cause?.originalMessage ?? '')
  return match?.[1] ?? 'unknown'
}

/**
 * True when PostgreSQL aborted a transaction to resolve a deadlock or a serialization conflict
 * (Prisma's P2034, or the SQLSTATE 40P01 / 40001 underneath): it may simply be run again.
 */
export function isTransactionConflict (error: unknown): boolean {
  const code = (error as { code?: unknown }).code
  if (code === 'P2034' || code === '40P01' || code === '40001') return true
  const cause = adapterCause(error)
  if (cause?.originalCode === '40P01' || cause?.originalCode === '40001') return true
  return /deadlock detected|could not serialize access/.test(cause?.originalMessage ?? String((error as { message?: unknown }).message ?? ''))
}

/** The database's own message inside a Prisma error (e.g. what a trigger raised). */
export function databaseMessage (error: unknown): string {
  return adapterCause(error)?.originalMessage ?? String((error as { message?: unknown }).message ?? '')
}

/**
 * True when `error` is a unique violation of `constraint` (an index, or a trigger raising
 * unique_violation with that constraint name): from pg itself (single statements on the pool)
 * or through Prisma over either adapter.
 */
export function isUniqueViolationOf (error: unknown, constraint: string): boolean {
  const raw = error as { code?: unknown, constraint?: unknown }
  if (raw.code === '23505') return raw.constraint === constraint
  if (violatedUniqueIndex(error) === constraint) return true
  const cause = adapterCause(error)
  return (cause?.originalCode === '23505' || raw.code === 'P2010') && databaseMessage(error).includes(constraint)
}
