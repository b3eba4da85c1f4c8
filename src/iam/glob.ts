// IAM's wildcard match (`*` any run of characters, `?` any one) without a backtracking RegExp: a
// pattern such as *a*a*a*…*c against a long value made the RegExp engine try every way of
// splitting the value (exponential; one trust policy held the event loop for minutes). This
// match keeps only the last star it passed, so it takes at most pattern × value steps. It
// compares UTF-16 code units, as the RegExp without the u flag did. Pure: no I/O.

/** How a RegExp with the i flag (and without u) folds one code unit: ECMA-262 Canonicalize. */
function canonical (unit: string): string {
  const upper = unit.toUpperCase()
  if (upper.length !== 1) return unit
  if (unit.charCodeAt(0) >= 128 && upper.charCodeAt(0) < 128) return unit
  return upper
}

/** Whether `value` matches the IAM wildcard `pattern` as a whole. */
export function globMatch (pattern: string, value: string, ignoreCase = false): boolean {
  const same = ignoreCase ? (a: string, b: string) => a === b || canonical(a) === canonical(b) : (a: string, b: string) => a === b
  let p = 0
  let v = 0
  let star = -1 // the position of the last star passed
  let resume = 0 // where in the value that star's run ends so far
  while (v < value.length) {
    const token = pattern[p]
    if (token === '*') {
      star = p++
      resume = v
    } else if (token !== undefined && (token === '?' || same(token, value[v] as string))) {
      p++
      v++
    } else if (star === -1) {
      return false
    } else {
      // Let the last star take one more character; earlier stars never need to take more.
      p = star + 1
      v = ++resume
    }
  }
  while (pattern[p] === '*') p++
  return p === pattern.length
}
