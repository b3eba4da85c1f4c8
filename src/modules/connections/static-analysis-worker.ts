// The worker thread behind static-analysis.ts: runs the static proof (pure, in src/iam/) on each
// trust policy it is sent and posts the verdict back. Nothing else lives here, so terminating it
// at a deadline loses nothing but the analysis in hand.
import { parentPort } from 'node:worker_threads'
import { analyseTrustPolicy, type AnalysisVerdict } from '../../iam/trust-policy-analysis/analyse.js'
import { vendorRequestInput, type VendorRequest } from '../../iam/trust-policy-analysis/vendor-request.js'

export interface AnalysisJob { id: number, trustPolicy: string, request: VendorRequest }
export type AnalysisAnswer = { id: number, verdict: AnalysisVerdict } | { id: number, error: string }

const port = parentPort
if (port === null) throw new Error('static-analysis-worker runs only as a worker thread')
port.on('message', (job: AnalysisJob) => {
  let answer: AnalysisAnswer
  try {
    answer = { id: job.id, verdict: analyseTrustPolicy(job.trustPolicy, vendorRequestInput(job.request)) }
  } catch (error) {
    answer = { id: job.id, error: error instanceof Error ? error.message : String(error) }
  }
  port.postMessage(answer)
})
port.postMessage('ready')
