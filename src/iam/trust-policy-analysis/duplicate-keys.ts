// Whether a JSON text repeats a key inside one object. JSON.parse keeps the last value; IAM's own
// parser may keep the first or refuse the document, so a proof over the parsed object could be
// about a policy IAM does not enforce. The same holds for a condition key repeated in another
// letter case. Pure: a scan of a text JSON.parse has already accepted, and of the parsed policy.
export function firstDuplicateKey (text: string): string | undefined {
  const stack: Array<Set<string> | null> = [] // a set per open object, null per open array
  let i = 0
  while (i < text.length) {
    const c = text[i]
    if (c === '"') {
      let end = i + 1
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1
      const raw = text.slice(i, end + 1)
      let next = end + 1
      while (next < text.length && /\s/.test(text[next] ?? '')) next++
      const keys = stack.at(-1)
      if (text[next] === ':' && keys !== undefined && keys !== null) {
        const key = JSON.parse(raw) as string
        if (keys.has(key)) return key
        keys.add(key)
      }
      i = end + 1
      continue
    }
    if (c === '{') stack.push(new Set())
    else if (c === '[') stack.push(null)
    else if (c === '}' || c === ']') stack.pop()
    i++
  }
  return undefined
}

/**
 * A condition key named twice in one operator block in different letter case (sts:ExternalId and
 * sts:externalid): keys are case-insensitive, so IAM reads one key with two values, and which one
 * it enforces is as unknown as for an exact repeat. Returns the two spellings.
 */
export function caseRepeatedConditionKey (statements: Array<{ Condition?: Record<string, Record<string, unknown>> | undefined }>): [string, string] | undefined {
  for (const statement of statements) {
    for (const block of Object.values(statement.Condition ?? {})) {
      const seen = new Map<string, string>()
      for (const key of Object.keys(block ?? {})) {
        const earlier = seen.get(key.toLowerCase())
        if (earlier !== undefined) return [earlier, key]
        seen.set(key.toLowerCase(), key)
      }
    }
  }
  return undefined
}
