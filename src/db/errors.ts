// Reads Prisma errors raised through either driver adapter (pg or PGlite), so repositories can
// map them to domain errors without knowing which database is underneath.
interface AdapterCause {
  originalMessage?: string
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
