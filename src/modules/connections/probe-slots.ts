// Where in the drift interval a connection is probed. Each connection owns a fixed slot, derived
// from its id, so probes spread evenly over the interval however the connections were created
// (a wave of onboardings on one afternoon does not become a wave of probes every six hours),
// and every replica computes the same slot without coordinating.

/** The connection's offset into the interval, in [0, intervalMs): the first 32 bits of its UUID. */
export function slotOffsetMs (connectionId: string, intervalMs: number): number {
  const head = Number.parseInt(connectionId.replaceAll('-', '').slice(0, 8), 16)
  if (!Number.isFinite(head)) throw new TypeError(`not a UUID: ${connectionId}`)
  return Math.floor((head / 2 ** 32) * intervalMs)
}

/**
 * The connection's next slot after a probe at `probedAt`: the first instant on its slot that is
 * more than half an interval away. Probed on its slot (or a little late), the next probe is one
 * interval later; the first probe after registration comes between half and one and a half
 * intervals after it.
 */
export function nextProbeAt (connectionId: string, probedAt: Date, intervalMs: number): Date {
  const offset = slotOffsetMs(connectionId, intervalMs)
  const earliest = probedAt.getTime() + intervalMs / 2
  const slots = Math.floor((earliest - offset) / intervalMs) + 1
  return new Date(offset + slots * intervalMs)
}
