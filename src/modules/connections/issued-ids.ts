// Which of the external IDs a trust policy names deputy issued, and to whom, seen from the probed
// account. It decides how the static check treats an admitted ID that is not the account's current
// one: this account's own retired ID is harmless (values are unique forever, a retired ID is never
// reactivated, and neither a probe nor an issuance presents it), so it is reported without blocking;
// any other ID, deputy's or not, is the confused deputy and blocks. Pure: the lookup is passed in.

/** Where deputy issued an external ID, relative to the probed customer and account. */
export type IssuedTo =
  | { kind: 'this_account', status: 'active' | 'retired' }
  | { kind: 'this_customer', awsAccountId: string }
  | { kind: 'other_customer' }

/** Classifies values deputy issued; a value deputy never issued is absent from the map. */
export type IssuedLookup = (values: string[]) => Promise<Map<string, IssuedTo>>

// deputy's external IDs are lowercase UUID v4 (the database refuses anything else); IAM compares
// StringEqualsIgnoreCase values in any case, so a literal is matched in any case and lowercased.
const ISSUABLE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i

/** Values looked up per trust policy: more than IAM's largest trust policy (4,096 characters) can hold. */
export const MAX_LITERALS = 128

/** Whether a value has the shape of an external ID deputy issues (anything else it never issued). */
export const isIssuable = (value: string): boolean => ISSUABLE.test(value)

/**
 * Every string value in the policy (JSON escapes resolved) that has the shape of one
 * of deputy's external IDs, lowercased, at most MAX_LITERALS. Iterative: a deeply nested document
 * cannot exhaust the stack. A document that is not JSON names none.
 */
export function externalIdLiterals (document: string): string[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(document)
  } catch {
    return []
  }
  const found = new Set<string>()
  const pending: unknown[] = [parsed]
  while (pending.length > 0 && found.size < MAX_LITERALS) {
    const value = pending.pop()
    if (typeof value === 'string') {
      if (isIssuable(value)) found.add(value.toLowerCase())
    } else if (Array.isArray(value)) {
      for (const item of value as unknown[]) pending.push(item)
    } else if (typeof value === 'object' && value !== null) {
      for (const inner of Object.values(value)) pending.push(inner)
    }
  }
  return [...found]
}
