// A status in words and colour (the word alone carries the meaning, for colour-blind readers).
const TONE: Record<string, string> = {
  active: 'ok',
  pass: 'ok',
  success: 'ok',
  allowed: 'ok',
  suspended: 'warn',
  failed: 'warn',
  not_assumable: 'warn',
  failure: 'warn',
  retired: 'muted',
  error: 'warn',
  insecure: 'bad',
  denied: 'bad',
  revoked: 'muted',
  offboarded: 'muted',
  mismatch: 'bad',
  proved: 'ok',
  violation: 'bad',
  unknown: 'warn',
  unavailable: 'muted'
}

export function StatusBadge ({ status }: { status: string }) {
  return <span class={`badge badge-${TONE[status] ?? 'muted'}`}>{status.replace(/_/g, ' ')}</span>
}
