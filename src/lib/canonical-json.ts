// RFC 8785 (JSON Canonicalization Scheme) for the JSON deputy itself writes: null, booleans,
// strings, finite numbers, arrays and plain objects. Written here rather than taken from npm
// because no installed package provides it and the subset is small: object keys sorted by UTF-16
// code units (what Array.prototype.sort does with strings), strings and numbers serialised exactly
// as ECMAScript's JSON.stringify does (RFC 8785 sections 3.2.2.2 and 3.2.2.3 adopt both), no
// whitespace. Lone surrogates never reach it: deputy refuses them at its input (400
// invalid_character). Used to hash audit events (src/modules/audit/seal-hash.ts).

export class CanonicalJsonError extends TypeError {
  override name = 'CanonicalJsonError'
}

export function canonicalJson (value: unknown): string {
  if (value === null) return 'null'
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false'
    case 'string':
      return JSON.stringify(value)
    case 'number':
      // ES Number::toString, as RFC 8785 requires; -0 becomes 0, NaN and Infinity have no JSON form.
      if (!Number.isFinite(value)) throw new CanonicalJsonError(`${value} has no JSON form`)
      return JSON.stringify(value)
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item === undefined ? null : item)).join(',')}]`
      const record = value as Record<string, unknown>
      const members = Object.keys(record)
        .filter((key) => record[key] !== undefined)
        .sort()
        .map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`)
      return `{${members.join(',')}}`
    }
    default:
      throw new CanonicalJsonError(`a ${typeof value} has no JSON form`)
  }
}
