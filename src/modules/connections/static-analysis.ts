// The static proof off the event loop: trust policies are a tenant's input, and the analysis of a
// hostile one may take long whatever its caps, so it runs in worker threads (static-analysis-
// worker.ts) with a hard deadline. A worker past its deadline is terminated and the answer is
// `unknown` (with the reason), as it is when a worker crashes or the queue is full; `unknown`
// never makes a proof, so running out of time can only withhold one.
import { Worker } from 'node:worker_threads'
import type { AnalysisVerdict } from '../../iam/trust-policy-analysis/analyse.js'
import type { VendorRequest } from '../../iam/trust-policy-analysis/vendor-request.js'
import type { AnalysisAnswer, AnalysisJob } from './static-analysis-worker.js'

/** How long one analysis may run in its worker before it is stopped (the bench's worst is ~0.1 s). */
export const STATIC_PROOF_DEADLINE_MS = 500
/** How long a new worker may take to load the analysis before the jobs waiting for it give up. */
export const WORKER_START_TIMEOUT_MS = 15_000
/** Analyses waiting for a worker; more than this are answered `unknown` at once. */
export const MAX_QUEUED_ANALYSES = 64

export interface StaticAnalyserOptions {
  deadlineMs?: number
  /** Worker threads (default 2: one answers while the other is replaced after a deadline). */
  workers?: number
  startTimeoutMs?: number
  /** The worker's module (tests point it at one that misbehaves). */
  workerUrl?: URL
}

export interface StaticAnalyser {
  analyse (trustPolicy: string, request: VendorRequest): Promise<AnalysisVerdict>
  close (): Promise<void>
}

// Beside this module: .js when compiled into dist/; .ts when run from source (tsx, tap), which the
// worker loads with tsx (a devDependency, present wherever the source runs). The worker never
// takes the parent's loaders: tap's takes seconds to start in each worker.
const defaultWorkerUrl = (): URL => new URL(`./static-analysis-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url)
const workerExecArgv = (url: URL): string[] => url.pathname.endsWith('.ts') ? ['--import', import.meta.resolve('tsx')] : []

const unknown = (detail: string): AnalysisVerdict => ({ verdict: 'unknown', detail, statement: null })

interface Pending { job: AnalysisJob, resolve: (verdict: AnalysisVerdict) => void }
interface Slot { worker: Worker, ready: boolean, job: Pending | undefined, timer: NodeJS.Timeout | undefined }

export function createStaticAnalyser (options: StaticAnalyserOptions = {}): StaticAnalyser {
  const deadlineMs = options.deadlineMs ?? STATIC_PROOF_DEADLINE_MS
  const size = options.workers ?? 2
  const startTimeoutMs = options.startTimeoutMs ?? WORKER_START_TIMEOUT_MS
  const workerUrl = options.workerUrl ?? defaultWorkerUrl()
  const slots = new Set<Slot>()
  const queue: Pending[] = []
  let nextId = 1
  let closed = false
  let used = false

  /** Ends a slot's job (if any) with `verdict` and, when `retire`, replaces its worker. */
  function finish (slot: Slot, verdict: AnalysisVerdict | undefined, retire: boolean): void {
    if (slot.timer !== undefined) clearTimeout(slot.timer)
    slot.timer = undefined
    const pending = slot.job
    slot.job = undefined
    if (pending !== undefined) pending.resolve(verdict ?? unknown('the static proof stopped without an answer'))
    if (retire) {
      slots.delete(slot)
      slot.worker.removeAllListeners()
      slot.worker.on('error', () => {})
      slot.worker.terminate().catch(() => {})
    }
    pump()
  }

  function spawn (): Slot {
    // A hostile policy must not take the process's memory with it: the worker dies alone.
    const worker = new Worker(workerUrl, { execArgv: workerExecArgv(workerUrl), resourceLimits: { maxOldGenerationSizeMb: 256 } })
    const slot: Slot = { worker, ready: false, job: undefined, timer: undefined }
    slot.timer = setTimeout(() => {
      // The worker never became ready: give up on it and on what waits for it.
      finish(slot, unknown(`the static proof's worker did not start within ${startTimeoutMs} ms`), true)
      for (const pending of queue.splice(0)) pending.resolve(unknown(`the static proof's worker did not start within ${startTimeoutMs} ms`))
    }, startTimeoutMs)
    worker.on('message', (message: 'ready' | AnalysisAnswer) => {
      if (message === 'ready') {
        if (slot.timer !== undefined) clearTimeout(slot.timer)
        slot.timer = undefined
        slot.ready = true
        pump()
        return
      }
      if (slot.job === undefined || message.id !== slot.job.job.id) return
      finish(slot, 'verdict' in message ? message.verdict : unknown(`the static proof failed: ${message.error}`), false)
    })
    worker.on('error', (error) => { finish(slot, unknown(`the static proof's worker crashed: ${error.message}`), true) })
    worker.on('exit', (code) => { if (slots.has(slot)) finish(slot, unknown(`the static proof's worker exited (code ${code})`), true) })
    worker.unref()
    slots.add(slot)
    return slot
  }

  function pump (): void {
    if (closed) return
    for (const slot of slots) {
      if (!slot.ready || slot.job !== undefined) continue
      const pending = queue.shift()
      if (pending === undefined) return
      slot.job = pending
      slot.timer = setTimeout(() => {
        finish(slot, unknown(`the static proof took longer than ${deadlineMs} ms and was stopped; the behavioural checks alone decide`), true)
      }, deadlineMs)
      slot.worker.postMessage(pending.job)
    }
    // Workers start with the first analysis, and one stopped at a deadline or lost to a crash is
    // replaced at once, so the next analysis does not wait for a worker to load.
    if (!used) return
    while (slots.size < size) spawn()
  }

  return {
    analyse (trustPolicy, request) {
      if (closed) return Promise.resolve(unknown('deputy is shutting down'))
      if (queue.length >= MAX_QUEUED_ANALYSES) return Promise.resolve(unknown(`${MAX_QUEUED_ANALYSES} static proofs are already waiting; this one was not run`))
      used = true
      return new Promise((resolve) => {
        queue.push({ job: { id: nextId++, trustPolicy, request }, resolve })
        pump()
      })
    },
    async close () {
      closed = true
      for (const pending of queue.splice(0)) pending.resolve(unknown('deputy is shutting down'))
      const all = [...slots]
      for (const slot of all) finish(slot, unknown('deputy is shutting down'), true)
    }
  }
}
