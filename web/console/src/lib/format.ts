// How times and durations read on screen: absolute in UTC (what the audit trail stores) with a
// relative hint, so an operator comparing with CloudTrail never converts time zones.
export function utc (iso: string | null | undefined): string {
  if (iso === null || iso === undefined) return '—'
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z').replace(/Z$/, ' UTC')
}

export function relative (iso: string | null | undefined, now = Date.now()): string {
  if (iso === null || iso === undefined) return ''
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000)
  const abs = Math.abs(seconds)
  // Not "in 0 seconds": a moment ago reads as one, whichever side of the clock it fell.
  if (abs < 5) return 'just now'
  const [value, unit] = abs < 90 ? [abs, 'second'] : abs < 5400 ? [Math.round(abs / 60), 'minute'] : abs < 129600 ? [Math.round(abs / 3600), 'hour'] : [Math.round(abs / 86400), 'day']
  const phrase = `${value} ${unit}${value === 1 ? '' : 's'}`
  return seconds >= 0 ? `in ${phrase}` : `${phrase} ago`
}
