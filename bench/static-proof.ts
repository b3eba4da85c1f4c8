// `npm run bench:static-proof`: the static proof's time on adversarial trust policies
// (static-proof-policies.ts: the 126 generated ones and issue 17's many-star glob), analysed in
// this thread as the analysis itself costs, then what running it in deputy's worker thread adds
// (src/modules/connections/static-analysis.ts: the event loop waits for none of it). Prints each
// figure, the slowest policies, and the machine.
import { loadavg } from 'node:os'
import { analyseTrustPolicy } from '../src/iam/trust-policy-analysis/analyse.js'
import { vendorRequestInput, type VendorRequest } from '../src/iam/trust-policy-analysis/vendor-request.js'
import { createStaticAnalyser, STATIC_PROOF_DEADLINE_MS } from '../src/modules/connections/static-analysis.js'
import { machine } from './report.js'
import { adversarialPolicies, issue17Policy } from './static-proof-policies.js'

const VENDOR = 'arn:aws:iam::111111111111:user/deputy'
const OURS = '6f1c9a2e-1b7d-4c3f-9a55-2d1e8b7c4a10'
const REQUEST: VendorRequest = { vendorPrincipalArn: VENDOR, ours: [OURS], sessionName: 'deputy-probe.bench', sourceIdentity: 'deputy.probe' }
const input = vendorRequestInput(REQUEST)

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0
const policies = [...adversarialPolicies(VENDOR, OURS), ...[8, 10, 12, 15].map((stars) => issue17Policy(VENDOR, OURS, stars))]

console.log(machine())
console.log(`load average before: ${loadavg()[0]?.toFixed(2)}`)
const rows = policies.map(({ name, document }) => {
  const text = JSON.stringify(document)
  const started = performance.now()
  const verdict = analyseTrustPolicy(text, input)
  return { name, chars: text.length, verdict: verdict.verdict, ms: performance.now() - started }
})
rows.sort((a, b) => b.ms - a.ms)
console.log(`in this thread, ${rows.length} policies; verdicts: ${JSON.stringify(Object.fromEntries(['proved', 'violation', 'unknown'].map((v) => [v, rows.filter((r) => r.verdict === v).length])))}`)
for (const row of rows.filter((r) => r.name.startsWith('issue 17'))) console.log(`  ${row.ms.toFixed(0)} ms  ${row.name}, ${row.chars} chars -> ${row.verdict}`)
console.log('slowest 5:')
for (const row of rows.slice(0, 5)) console.log(`  ${row.ms.toFixed(0)} ms  ${row.name}, ${row.chars} chars -> ${row.verdict}`)
console.log(`median ${median(rows.map((r) => r.ms)).toFixed(1)} ms, worst ${rows[0]?.ms.toFixed(0)} ms`)

// The worker: its start, then each policy again through it (round trip, deadline enforced).
const analyser = createStaticAnalyser({ workers: 1 })
const kit = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: VENDOR }, Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'], Condition: { StringEquals: { 'sts:ExternalId': OURS } } }] })
let started = performance.now()
await analyser.analyse(kit, REQUEST)
console.log(`worker: first analysis (the worker starts) ${(performance.now() - started).toFixed(0)} ms`)
const kitTimes: number[] = []
for (let i = 0; i < 50; i++) {
  started = performance.now()
  await analyser.analyse(kit, REQUEST)
  kitTimes.push(performance.now() - started)
}
const inThread: number[] = []
for (let i = 0; i < 50; i++) {
  started = performance.now()
  analyseTrustPolicy(kit, input)
  inThread.push(performance.now() - started)
}
console.log(`worker: the kit's policy ${median(kitTimes).toFixed(2)} ms through the worker vs ${median(inThread).toFixed(2)} ms in this thread (medians of 50): the worker's cost per analysis`)
const through: number[] = []
let deadlines = 0
for (const { document } of policies) {
  started = performance.now()
  const verdict = await analyser.analyse(JSON.stringify(document), REQUEST)
  through.push(performance.now() - started)
  if (verdict.verdict === 'unknown' && /took longer than/.test(verdict.detail)) deadlines++
}
console.log(`worker: ${policies.length} policies, median ${median(through).toFixed(1)} ms, worst ${Math.max(...through).toFixed(0)} ms, ${deadlines} stopped at the ${STATIC_PROOF_DEADLINE_MS} ms deadline`)
await analyser.close()
