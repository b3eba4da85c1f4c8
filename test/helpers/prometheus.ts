// Reads a Prometheus scrape the way Prometheus does: the text exposition format, sample by sample.

/** Parses the text exposition format into `name{labels}` -> value. */
export function parseMetrics (text: string): Map<string, number> {
  const samples = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const match = /^([a-zA-Z_:][\w:]*(?:\{.*\})?) (\S+)$/.exec(line)
    if (match?.[1] === undefined || match[2] === undefined) throw new Error(`not a sample line: ${line}`)
    samples.set(match[1], Number(match[2]))
  }
  return samples
}
