// Asks a URL (deputy's /healthz) every few milliseconds from a worker thread of its own, so the
// latencies it records do not depend on the event loop of the process under test; posts them
// back when told to stop. Plain JavaScript: it needs no loader.
import { parentPort, workerData } from 'node:worker_threads'

const { url, intervalMs, timeoutMs } = workerData
const state = { stopping: false }
const samples = []
parentPort.on('message', (message) => { if (message === 'stop') state.stopping = true })
parentPort.postMessage('ready')
while (!state.stopping) {
  const started = performance.now()
  let status = 0
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
    await res.arrayBuffer()
    status = res.status
  } catch {
    status = 0 // timed out or refused
  }
  samples.push({ at: started, ms: performance.now() - started, status })
  await new Promise((resolve) => setTimeout(resolve, intervalMs))
}
parentPort.postMessage(samples)
