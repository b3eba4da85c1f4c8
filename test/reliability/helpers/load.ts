// An open-loop load generator: requests leave at a fixed rate whatever the server does (as real
// clients do), so a slow server builds a backlog instead of slowing the generator down. Each
// request's latency is measured from the moment it was due, so time spent waiting for a socket
// counts too (no coordinated omission). Every answer is kept for the test to check.
import { Agent, request } from 'node:http'

export interface RequestSpec {
  method: 'GET' | 'POST'
  path: string
  body?: unknown
}

export interface Operation {
  name: string
  /** Relative share of the mix. */
  weight: number
  /** The i-th request of this operation. */
  next: (i: number) => RequestSpec
  /** Told about every 2xx answer (its parsed JSON body). */
  onSuccess?: (body: unknown, spec: RequestSpec) => void
}

export interface Sample {
  op: string
  /** When it was due, in ms since the run started. */
  dueAt: number
  latencyMs: number
  /** HTTP status; 0 when no answer came (connection error or client timeout). */
  status: number
  /** The problem's `code` for problem+json answers. */
  code?: string
  contentType?: string
  retryAfter?: string
  /** Transport error or timeout. */
  error?: string
}

export interface LoadHandle {
  samples: Sample[]
  /** Resolves once every request sent has been answered or timed out. */
  done: Promise<Sample[]>
  /** Stops sending (what was sent still completes). */
  stop: () => void
  startedAt: number
}

export interface HttpClient {
  send: (spec: RequestSpec, timeoutMs: number) => Promise<{ status: number, headers: Record<string, string | string[] | undefined>, body: string }>
  close: () => void
}

export function createHttpClient (baseUrl: string, token: string, maxSockets = 256): HttpClient {
  const base = new URL(baseUrl)
  const agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets })
  return {
    send (spec, timeoutMs) {
      const payload = spec.body === undefined ? undefined : JSON.stringify(spec.body)
      return new Promise((resolve, reject) => {
        const req = request({
          agent,
          host: base.hostname,
          port: base.port,
          method: spec.method,
          path: spec.path,
          headers: {
            authorization: `Bearer ${token}`,
            ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) })
          }
        }, (res) => {
          const chunks: Buffer[] = []
          res.on('data', (chunk: Buffer) => chunks.push(chunk))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }))
          res.on('error', reject)
        })
        // Whole-request deadline: a server that never answers must not hold the test.
        const timer = setTimeout(() => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'CLIENT_TIMEOUT' })), timeoutMs)
        req.on('close', () => clearTimeout(timer))
        req.on('error', reject)
        req.end(payload)
      })
    },
    close: () => agent.destroy()
  }
}

export interface LoadOptions {
  client: HttpClient
  operations: Operation[]
  /** Requests per second, all operations together. */
  rate: number
  durationMs: number
  /** Client-side limit on one request. */
  timeoutMs?: number
}

export function startLoad (options: LoadOptions): LoadHandle {
  const { client, operations, rate, durationMs } = options
  const timeoutMs = options.timeoutMs ?? 30_000
  const total = operations.reduce((sum, op) => sum + op.weight, 0)
  const counters = new Map<string, number>()
  // A fixed, interleaved schedule (no randomness): the same mix every run.
  const pick = (i: number): Operation => {
    let slot = (i * 7919) % total
    for (const op of operations) {
      if (slot < op.weight) return op
      slot -= op.weight
    }
    return operations[0] as Operation
  }
  const samples: Sample[] = []
  const inFlight = new Set<Promise<void>>()
  const startedAt = performance.now()
  let sent = 0
  let stopped = false
  let finish: () => void = () => {}
  const sending = new Promise<void>((resolve) => { finish = resolve })

  function fire (i: number, dueAt: number): void {
    const op = pick(i)
    const n = counters.get(op.name) ?? 0
    counters.set(op.name, n + 1)
    const spec = op.next(n)
    const promise = client.send(spec, timeoutMs).then((res) => {
      const latencyMs = performance.now() - startedAt - dueAt
      const contentType = String(res.headers['content-type'] ?? '')
      let code: string | undefined
      let parsed: unknown
      if (contentType.includes('json')) {
        try {
          parsed = JSON.parse(res.body)
          code = (parsed as { code?: string }).code
        } catch {}
      }
      const retryAfter = res.headers['retry-after']
      samples.push({ op: op.name, dueAt, latencyMs, status: res.status, contentType, ...(code === undefined ? {} : { code }), ...(typeof retryAfter === 'string' ? { retryAfter } : {}) })
      if (res.status >= 200 && res.status < 300) op.onSuccess?.(parsed, spec)
    }, (error: { code?: string, message?: string }) => {
      samples.push({ op: op.name, dueAt, latencyMs: performance.now() - startedAt - dueAt, status: 0, error: error.code ?? error.message ?? 'error' })
    }).finally(() => { inFlight.delete(promise) })
    inFlight.add(promise)
  }

  const timer = setInterval(() => {
    const elapsed = performance.now() - startedAt
    const due = stopped ? sent : Math.floor(Math.min(elapsed, durationMs) * rate / 1000)
    while (sent < due) {
      fire(sent, sent * 1000 / rate)
      sent++
    }
    if (stopped || elapsed >= durationMs) {
      clearInterval(timer)
      finish()
    }
  }, 2)

  const done = sending.then(async () => {
    while (inFlight.size > 0) await Promise.allSettled([...inFlight])
    return samples
  })
  return { samples, done, stop: () => { stopped = true }, startedAt }
}

/** Nearest-rank percentile. */
export function percentile (values: number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))] ?? Number.NaN
}

export interface LatencySummary { n: number, p50: number, p90: number, p99: number, max: number }

export function latencies (samples: Sample[]): LatencySummary {
  const values = samples.map((s) => s.latencyMs)
  const round = (ms: number): number => Math.round(ms * 10) / 10
  return { n: values.length, p50: round(percentile(values, 0.5)), p90: round(percentile(values, 0.9)), p99: round(percentile(values, 0.99)), max: round(values.length === 0 ? Number.NaN : values.reduce((a, b) => Math.max(a, b))) }
}

/** Answers counted by "status code" (e.g. "201", "503 overloaded", "0 ECONNRESET"). */
export function answers (samples: Sample[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const s of samples) {
    const key = [String(s.status), s.code ?? s.error].filter((part) => part !== undefined).join(' ')
    counts[key] = (counts[key] ?? 0) + 1
  }
  return Object.fromEntries(Object.entries(counts).sort())
}

/**
 * Closed loop: `concurrency` workers, each sending its next request when the last is answered,
 * for `durationMs`. Its throughput is what the server sustains at that concurrency.
 */
export async function closedLoop (options: { client: HttpClient, operations: Operation[], concurrency: number, durationMs: number, timeoutMs?: number }): Promise<{ samples: Sample[], perSecond: number }> {
  const { client, operations, concurrency, durationMs } = options
  const samples: Sample[] = []
  const started = performance.now()
  let i = 0
  const total = operations.reduce((sum, op) => sum + op.weight, 0)
  const order = operations.flatMap((op) => Array<Operation>(op.weight).fill(op))
  const counters = new Map<string, number>()
  async function worker (): Promise<void> {
    while (performance.now() - started < durationMs) {
      const op = order[(i++ * 7919) % total] as Operation
      const n = counters.get(op.name) ?? 0
      counters.set(op.name, n + 1)
      const t0 = performance.now()
      try {
        const res = await client.send(op.next(n), options.timeoutMs ?? 30_000)
        samples.push({ op: op.name, dueAt: t0 - started, latencyMs: performance.now() - t0, status: res.status })
      } catch (error) {
        samples.push({ op: op.name, dueAt: t0 - started, latencyMs: performance.now() - t0, status: 0, error: (error as { code?: string }).code ?? 'error' })
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  const ok = samples.filter((s) => s.status >= 200 && s.status < 300).length
  return { samples, perSecond: ok / ((performance.now() - started) / 1000) }
}

/** Samples grouped by the second they were due in: answers and latency per window. */
export function timeline (samples: Sample[], windowMs = 1000): Array<{ from: number, n: number, ok: number, shed: number, p50: number, p99: number }> {
  const windows = new Map<number, Sample[]>()
  for (const s of samples) {
    const key = Math.floor(s.dueAt / windowMs)
    const group = windows.get(key)
    if (group === undefined) windows.set(key, [s])
    else group.push(s)
  }
  return [...windows.entries()].sort((a, b) => a[0] - b[0]).map(([key, group]) => {
    const okLatency = group.filter((s) => s.status >= 200 && s.status < 300).map((s) => s.latencyMs)
    return {
      from: key * windowMs / 1000,
      n: group.length,
      ok: okLatency.length,
      shed: group.filter((s) => s.code === 'overloaded').length,
      p50: Math.round(percentile(okLatency, 0.5)),
      p99: Math.round(percentile(okLatency, 0.99))
    }
  })
}
