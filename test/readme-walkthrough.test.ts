// The README's "Try it", run exactly as written against a fresh sandbox, so the docs cannot rot:
// the real deputy process as `npm start` runs it when nothing is configured (its embedded
// database in a temporary directory, a free port), then, in one bash with `set -euo pipefail` in a
// scratch directory, the `export` line its banner printed followed by every ```sh block of the
// section, unchanged. Only a separator is printed between two blocks, to tell their outputs
// apart. Each block's output must show what the README says it shows (its `# -> ` lines, with …
// standing for anything), and the flow must have done what it claims.
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import t from 'tap'
import { spawnDeputy } from './helpers/process.js'

const README = new URL('../README.md', import.meta.url)

interface Block { source: string, expected: string[] }

/** The ```sh blocks of a `## ` section, with the output each one documents. */
export function sectionBlocks (markdown: string, heading: string): Block[] {
  const start = markdown.indexOf(`\n${heading}\n`)
  if (start < 0) throw new Error(`README.md has no "${heading}" section`)
  const end = markdown.indexOf('\n## ', start + heading.length + 2)
  const section = markdown.slice(start, end < 0 ? undefined : end)
  return [...section.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => {
    const source = m[1] ?? ''
    const expected: string[] = []
    let inOutput = false
    for (const line of source.split('\n')) {
      if (line.startsWith('# -> ')) inOutput = true
      else if (!line.startsWith('#    ')) inOutput = false
      if (inOutput) expected.push(line.slice(5).trim())
    }
    return { source, expected }
  })
}

/** The documented lines, in order, in the output; "…" stands for anything within a line. */
function documented (expected: string[]): RegExp {
  const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  return new RegExp(expected.map((line) => line.split('…').map(escape).join('[^\\n]*?')).join('[\\s\\S]*?'))
}

async function bash (script: string, cwd: string): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const child = spawn('bash', ['-c', script], {
    cwd,
    // This very node first on PATH, for the README's `node -p`; nothing of AWS in the environment.
    env: { PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`, HOME: process.env.HOME ?? '/tmp', _TAPJS_PROCESSINFO_COVERAGE_: '0' }
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  return { code, stdout, stderr }
}

const SEPARATOR = (i: number): string => `\n@@ block ${i} @@\n`

t.test('the README\'s first command is the sandbox: `npm start` builds (all of src) and serves', async (t) => {
  const readme = await readFile(README, 'utf8')
  t.match(readme, /^# deputy\n\n```sh\nnpm ci && npm start {3}# the sandbox/, 'the first command')
  const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> }
  t.equal(pkg.scripts.prestart, 'node scripts/require-node.mjs && npm run build')
  t.equal(pkg.scripts.start, 'node bin/deputy.js serve')
  const build = JSON.parse(await readFile(new URL('../tsconfig.build.json', import.meta.url), 'utf8')) as { include: string[] }
  t.same(build.include, ['src'], 'the build compiles every file under src/, the sandbox included')
})

t.test('"Try it", exactly as written, against a fresh sandbox', async (t) => {
  const blocks = sectionBlocks(await readFile(README, 'utf8'), '## Try it')
  t.ok(blocks.length >= 6, `${blocks.length} blocks`)
  const dataDir = await mkdtemp(join(tmpdir(), 'deputy-walkthrough-data-'))
  const scratch = await mkdtemp(join(tmpdir(), 'deputy-walkthrough-'))
  t.teardown(async () => {
    await rm(dataDir, { recursive: true, force: true })
    await rm(scratch, { recursive: true, force: true })
  })
  // An AWS configuration in the environment that leads nowhere: the sandbox must not use it.
  const deputy = spawnDeputy(['serve'], { DEPUTY_DATA_DIR: dataDir, PORT: '0', AWS_ENDPOINT_URL_STS: 'http://127.0.0.1:1', AWS_ACCESS_KEY_ID: 'AKIAENVIRONMENTKEY00', AWS_SECRET_ACCESS_KEY: 'not-a-real-secret' })
  t.teardown(async () => {
    if (deputy.child.exitCode === null) deputy.child.kill('SIGTERM')
    await deputy.exit
  })
  const started = Date.now()
  let exportLine: string | undefined
  while (exportLine === undefined) {
    exportLine = /^ {3}(export DEPUTY=http:\/\/127\.0\.0\.1:\d+ DEPUTY_TOKEN=dpt_[\w-]{43})$/m.exec(deputy.output())?.[1]
    if (deputy.child.exitCode !== null || Date.now() - started > 90_000) throw new Error(`no banner with an export line:\n${deputy.output()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  t.pass(`the banner printed the export line after ${Date.now() - started} ms`)

  const script = ['set -euo pipefail', exportLine, ...blocks.flatMap((block, i) => [`printf '${SEPARATOR(i).replace(/\n/g, '\\n')}'`, block.source])].join('\n')
  const run = await bash(script, scratch)
  t.equal(run.code, 0, `the walkthrough runs to the end\n${run.stdout}\n${run.stderr}`)
  const outputs = run.stdout.split(/\n@@ block \d+ @@\n/).slice(1)
  t.equal(outputs.length, blocks.length, 'every block ran')

  blocks.forEach((block, i) => {
    if (block.expected.length === 0) return
    t.match(outputs[i], documented(block.expected), `block ${i + 1} shows what the README says:\n${block.source}`)
  })
  const outputOf = (pattern: RegExp): string => outputs[blocks.findIndex((block) => pattern.test(block.source))] ?? ''
  t.match(outputOf(/onboarding/), /Principal:\n\s+AWS: arn:aws:iam::111122223333:user\/deputy-sandbox\n[\s\S]*StringEquals:\n\s+sts:ExternalId: !Ref ExternalId/, 'the kit\'s role trusts the emulated vendor, with the external ID')
  t.match(outputOf(/\/stacks/), /^arn:aws:iam::123456789012:role\/DeputyAccess$/m, 'the stack created the role')
  t.match(outputOf(/verification\.outcome/), /\nread_trust_policy: allowed\npass\nproved\n?$/, 'the probe passed, and the static proof proved the kit\'s trust policy')
  t.match(outputOf(/"purpose":"trying deputy"/), /"accessKeyId":"ASIA[A-Z2-7]{16}"/, 'credentials came back with an access key id')
  t.match(outputOf(/audit-events/), /^credentials\.issued success$/m, 'the audit trail has credentials.issued')
  t.match(outputOf(/\/revoke/), /^200\n/, 'the revoke answered 200')
  t.match(outputOf(/\/revoke/), /"code":"connection_not_active"/, 'and nothing is issued after it')
  t.match(run.stderr, /returned error: 409/, 'curl reported the refusal on stderr, as the README says')
  t.notMatch(run.stderr.replace(/curl: \(22\) The requested URL returned error: 409\n?/, ''), /\S/, 'nothing else on stderr')
})
