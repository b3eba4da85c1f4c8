// The load generator every phase uses: `concurrency` workers, each sending its next request as
// soon as the previous one is answered (closed loop, like wrk or autocannon), for a fixed time or
// a fixed count. HTTP goes through node:http with one keep-alive socket per worker, which costs
// the shared CPU less than fetch does; the SDK path brings its own client.
import { Agent, request } from 'node:http'
import { startCpuMeter, type CpuShare } from './processes.js'

export interface LoadOptions {
  label: string
  concurrency: number
  /** Stop starting requests after this long... */
  durationMs?: number
  /** ...or after this many requests in all. */
  requests?: number
  /** Sends request number `i`; resolves true when the answer is the expected one. */
  send: (i: number) => Promise<Outcome>
  /** The process(es) answering (deputy, the floor, the emulator): their CPU is measured with PostgreSQL's and ours. */
  serverPid?: number | number[]
  /** The databases the phase works in: other databases' PostgreSQL backends are not counted. */
  databases?: readonly string[]
}

export interface Outcome {
  ok: boolean
  /** What the answer was (HTTP status, or the error's name), counted in `answers`. */
  answer: string
  /** Kept for the first few unexpected answers, to say why a phase failed. */
  detail?: string
}

export interface LoadResult {
  label: string
  concurrency: number
  elapsedS: number
  requests: number
  ok: number
  errors: number
  /** Answers by kind, e.g. { "201": 3900, "ECONNRESET": 1 }. */
  answers: Record<string, number>
  /** The first unexpected answers, with their detail. */
  errorSamples: string[]
  /** Expected answers per second. */
  rps: number
  p50: number
  p90: number
  p95: number
  p99: number
  max: number
  /** CPU used during the phase, when the server's pid was given. */
  cpu?: CpuShare
}

/** Nearest-rank percentile of sorted values. */
export function percentile (sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))] ?? Number.NaN
}

export async function runLoad (options: LoadOptions): Promise<LoadResult> {
  if (options.durationMs === undefined && options.requests === undefined) throw new Error('runLoad needs durationMs or requests')
  const latencies: number[] = []
  const answers: Record<string, number> = {}
  const errorSamples: string[] = []
  let ok = 0
  let next = 0
  const meter = options.serverPid === undefined ? undefined : startCpuMeter(options.serverPid, options.databases)
  const started = performance.now()
  const deadline = options.durationMs === undefined ? Number.POSITIVE_INFINITY : started + options.durationMs
  const limit = options.requests ?? Number.POSITIVE_INFINITY
  async function worker (): Promise<void> {
    while (next < limit && performance.now() < deadline) {
      const i = next++
      const t0 = performance.now()
      let outcome: Outcome
      try {
        outcome = await options.send(i)
      } catch (error) {
        const e = error as { name?: string, code?: string, message?: string }
        outcome = { ok: false, answer: e.code ?? e.name ?? 'Error', detail: e.message ?? String(error) }
      }
      latencies.push(performance.now() - t0)
      answers[outcome.answer] = (answers[outcome.answer] ?? 0) + 1
      if (outcome.ok) ok++
      else if (errorSamples.length < 5) errorSamples.push(`${outcome.answer}: ${(outcome.detail ?? '').slice(0, 300)}`)
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, worker))
  const elapsedS = (performance.now() - started) / 1000
  const sorted = Float64Array.from(latencies).sort()
  const round = (ms: number): number => Math.round(ms * 100) / 100
  return {
    label: options.label,
    concurrency: options.concurrency,
    elapsedS: round(elapsedS),
    requests: latencies.length,
    ok,
    errors: latencies.length - ok,
    answers,
    errorSamples,
    rps: Math.round(ok / elapsedS),
    p50: round(percentile(sorted, 0.5)),
    p90: round(percentile(sorted, 0.9)),
    p95: round(percentile(sorted, 0.95)),
    p99: round(percentile(sorted, 0.99)),
    max: round(sorted[sorted.length - 1] ?? Number.NaN),
    ...(meter === undefined ? {} : { cpu: meter(elapsedS) })
  }
}

export interface HttpAnswer { status: number, body: string }

/** A keep-alive HTTP client for one server, with room for `sockets` requests at once. */
export function createHttpClient (baseUrl: string, sockets: number) {
  const base = new URL(baseUrl)
  const agent = new Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets })
  return {
    send (method: string, path: string, headers: Record<string, string>, body?: string): Promise<HttpAnswer> {
      return new Promise((resolve, reject) => {
        const req = request({
          agent,
          host: base.hostname,
          port: base.port,
          method,
          path,
          headers: body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body).toString() }
        }, (res) => {
          const chunks: Buffer[] = []
          res.on('data', (chunk: Buffer) => chunks.push(chunk))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }))
          res.on('error', reject)
        })
        req.on('error', reject)
        req.end(body)
      })
    },
    close (): void { agent.destroy() }
  }
}

export type HttpClient = ReturnType<typeof createHttpClient>

/** An Outcome from an HTTP answer: ok when the status is the expected one. */
export const expectStatus = (answer: HttpAnswer, expected: number): Outcome =>
  answer.status === expected ? { ok: true, answer: String(answer.status) } : { ok: false, answer: String(answer.status), detail: answer.body }
