// `npm run bench:static-proof`: how long the static proof of a trust policy holds deputy's event
// loop on adversarial policies (interleaved globs, prefix globs, `?` runs, on up to 20 statements,
// up to ~5,000 characters: past IAM's 4,096-character limit for trust policies). The analysis is
// synchronous, so its time is the event loop's; the caps in src/iam/trust-policy-analysis/ bound
// it. Prints each shape's verdict and time, and the worst.
import { analyseTrustPolicy } from '../src/iam/trust-policy-analysis/analyse.js'
import { vendorRequestInput } from '../src/iam/trust-policy-analysis/vendor-request.js'
import { machine } from './report.js'

const VENDOR = 'arn:aws:iam::111111111111:user/deputy'
const OURS = '6f1c9a2e-1b7d-4c3f-9a55-2d1e8b7c4a10'
const ACTIONS = ['sts:AssumeRole', 'sts:SetSourceIdentity']
const CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789'
const input = vendorRequestInput({ vendorPrincipalArn: VENDOR, ours: [OURS], sessionName: 'deputy-probe.bench', sourceIdentity: 'deputy.probe' })

const char = (i: number): string => CHARS[i % CHARS.length] ?? 'a'
const GLOBS: Record<string, (i: number) => string> = {
  interleaved: (i) => `*${char(i)}*${char(i + 7)}*${char(i + 13)}*`,
  prefix: (i) => `${char(i)}?${char(i + 1)}*`,
  question: (i) => `*${'?'.repeat(i % 5)}${char(i)}*`
}

function policy (shape: string, globs: number, statements: number): object {
  const patterns = Array.from({ length: globs }, (_, i) => GLOBS[shape]?.(i) ?? '*')
  const extra = Array.from({ length: statements }, (_, j) => ({
    Effect: j % 3 === 2 ? 'Deny' : 'Allow',
    Principal: { AWS: VENDOR },
    Action: ACTIONS,
    Condition: { [j % 2 === 1 ? 'StringNotLike' : 'StringLike']: { 'sts:ExternalId': patterns.slice(j % globs) }, StringLike: { 'sts:RoleSessionName': [`*${char(j)}*`, 'deputy*'] } }
  }))
  return { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: VENDOR }, Action: ACTIONS, Condition: { StringEquals: { 'sts:ExternalId': OURS } } }, ...extra] }
}

const rows: Array<{ shape: string, globs: number, statements: number, chars: number, verdict: string, ms: number }> = []
for (const shape of Object.keys(GLOBS)) {
  for (let globs = 1; globs <= 14; globs++) {
    for (const statements of [1, 5, 20]) {
      const document = policy(shape, globs, statements)
      const started = performance.now()
      const verdict = analyseTrustPolicy(document, input)
      rows.push({ shape, globs, statements, chars: JSON.stringify(document).length, verdict: verdict.verdict, ms: performance.now() - started })
    }
  }
}
rows.sort((a, b) => b.ms - a.ms)
console.log(machine())
console.log(`${rows.length} policies; verdicts: ${JSON.stringify(Object.fromEntries(['proved', 'violation', 'unknown'].map((v) => [v, rows.filter((r) => r.verdict === v).length])))}`)
console.log('slowest 5:')
for (const row of rows.slice(0, 5)) console.log(`  ${row.ms.toFixed(0)} ms  ${row.shape}, ${row.globs} globs, ${row.statements} statements, ${row.chars} chars -> ${row.verdict}`)
const sorted = rows.map((r) => r.ms).sort((a, b) => a - b)
console.log(`median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(1)} ms, worst ${rows[0]?.ms.toFixed(0)} ms`)
