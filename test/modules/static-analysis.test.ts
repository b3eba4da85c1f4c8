// The static proof in worker threads (src/modules/connections/static-analysis.ts): verdicts come
// back from the worker as the analysis gives them, and a worker that overruns its deadline,
// crashes or exits is answered `unknown` with the reason, then replaced, so the next analysis
// still gets a real verdict. Fixture workers in fixtures/ play the misbehaving analysis.
import t from 'tap'
import { createStaticAnalyser, type StaticAnalyser } from '../../src/modules/connections/static-analysis.js'
import type { VendorRequest } from '../../src/iam/trust-policy-analysis/vendor-request.js'

const VENDOR = 'arn:aws:iam::111111111111:user/deputy'
const OURS = '6f1c9a2e-1b7d-4c3f-9a55-2d1e8b7c4a10'
const REQUEST: VendorRequest = { vendorPrincipalArn: VENDOR, ours: [OURS], sessionName: 'deputy-probe.test', sourceIdentity: 'deputy.probe' }
const ACTIONS = ['sts:AssumeRole', 'sts:SetSourceIdentity']
const trust = (...conditions: object[]): string => JSON.stringify({ Version: '2012-10-17', Statement: conditions.map((Condition) => ({ Effect: 'Allow', Principal: { AWS: VENDOR }, Action: ACTIONS, Condition })) })
const KIT = trust({ StringEquals: { 'sts:ExternalId': OURS } })
const PREFIX = trust({ StringLike: { 'sts:ExternalId': `${OURS}*` } })
const fixture = (name: string): URL => new URL(`./fixtures/static-analysis-${name}.mjs`, import.meta.url)

function analyser (t: Tap, options: Parameters<typeof createStaticAnalyser>[0] = {}): StaticAnalyser {
  const made = createStaticAnalyser(options)
  t.teardown(() => made.close())
  return made
}
type Tap = Pick<typeof t, 'teardown'>

t.test('verdicts come back from the worker (the source is loaded as TypeScript here)', async (t) => {
  const a = analyser(t)
  t.match(await a.analyse(KIT, REQUEST), { verdict: 'proved' })
  const prefix = await a.analyse(PREFIX, REQUEST)
  t.match(prefix, { verdict: 'violation', statement: 'statement 0' })
  t.match(await a.analyse('{"Statement": [', REQUEST), { verdict: 'unknown', detail: /cannot be read/ }, 'a policy that is not JSON')
  const both = await Promise.all([a.analyse(KIT, REQUEST), a.analyse(PREFIX, REQUEST), a.analyse(KIT, REQUEST)])
  t.same(both.map((v) => v.verdict), ['proved', 'violation', 'proved'], 'concurrent analyses each get their own answer')
})

t.test('the 12-star policy of issue 17 is analysed, not stalled: a violation', async (t) => {
  const a = analyser(t)
  const policy = trust({ StringLike: { 'sts:ExternalId': `*${'a*'.repeat(11)}c` } }, { StringEquals: { 'sts:ExternalId': 'a'.repeat(32) } })
  const verdict = await a.analyse(policy, REQUEST)
  t.match(verdict, { verdict: 'violation' }, JSON.stringify(verdict).slice(0, 300))
})

t.test('a worker past its deadline is stopped: unknown with the reason, and a new worker answers the next one', async (t) => {
  const hung = analyser(t, { deadlineMs: 200, workerUrl: fixture('hangs') })
  const verdict = await hung.analyse(KIT, REQUEST)
  t.match(verdict, { verdict: 'unknown', statement: null, detail: /took longer than 200 ms and was stopped/ })
  t.match(await hung.analyse(KIT, REQUEST), { verdict: 'unknown', detail: /took longer than 200 ms/ }, 'the replacement is asked in turn (and stopped in turn)')
})

t.test('a worker that crashes or exits: unknown with the reason; the analyser goes on', async (t) => {
  const crashes = analyser(t, { workerUrl: fixture('crashes') })
  t.match(await crashes.analyse(KIT, REQUEST), { verdict: 'unknown', detail: /worker crashed: worker fell over/ })
  t.match(await crashes.analyse(KIT, REQUEST), { verdict: 'unknown', detail: /worker crashed/ }, 'a new worker takes the next job')
  const exits = analyser(t, { workerUrl: fixture('exits') })
  t.match(await exits.analyse(KIT, REQUEST), { verdict: 'unknown', detail: /worker exited \(code 3\)/ })
})

t.test('a worker that never starts: the jobs waiting for it are answered unknown', async (t) => {
  const never = analyser(t, { startTimeoutMs: 300, workerUrl: new URL('data:text/javascript,setInterval(() => {}, 1000)') })
  t.match(await never.analyse(KIT, REQUEST), { verdict: 'unknown', detail: /did not start within 300 ms/ })
})

t.test('after close, nothing runs and what waited is answered', async (t) => {
  const a = createStaticAnalyser({ workerUrl: fixture('hangs'), deadlineMs: 60_000 })
  const waiting = a.analyse(KIT, REQUEST)
  await a.close()
  t.match(await waiting, { verdict: 'unknown', detail: /shutting down/ })
  t.match(await a.analyse(KIT, REQUEST), { verdict: 'unknown', detail: /shutting down/ })
})
