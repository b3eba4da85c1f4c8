// `npm run test:mutation [-- target...]`: runs StrykerJS over each target (stryker/<target>.config.mjs),
// one after another, then writes docs/mutation.md (and the README's copy of its table) from
// Stryker's JSON reports. `--summary-only` rewrites the summary from the last reports.
// Survivors judged harmless are listed, with a reason each, in stryker/accepted-survivors.json;
// any other survivor is printed as "not judged" so nobody mistakes it for an accepted one.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { pathToFileURL } from 'node:url'

export const TARGETS = ['iam-proof', 'iam-documents', 'issuance', 'audit-seal', 'auth'] as const
type Target = typeof TARGETS[number]

const TITLES: Record<Target, string> = {
  'iam-proof': '`src/iam/`: static proof and evaluator',
  'iam-documents': '`src/iam/`: policy documents',
  issuance: 'issuance commit',
  'audit-seal': 'audit seal',
  auth: 'auth plugin'
}

interface Mutant { id: string, mutatorName: string, replacement?: string, status: string, location: { start: { line: number, column: number } } }
interface Report { files: Record<string, { source: string, mutants: Mutant[] }> }
interface RunRecord { finishedAt: string, wallSeconds: number, command: string }
interface Accepted { file: string, line?: number, mutator: string, original: string, replacement: string, reason: string }
/** A survivor of the last run that a test added since kills (checked by applying it by hand). */
interface KilledSince { file: string, line: number, mutator: string, original: string, replacement: string, killedBy: string }

const reportDir = (target: Target): string => `reports/mutation/${target}`
const DETECTED = new Set(['Killed', 'Timeout'])
const VALID = new Set(['Killed', 'Timeout', 'Survived', 'NoCoverage'])

function run (command: string, args: string[], env: Record<string, string> = {}): number {
  // Run directly (not through tap), a test file gets tap's default 30 s timeout; instrumented code is
  // slower, so it gets the suite's own (package.json, 360 s).
  return spawnSync(command, args, { stdio: 'inherit', env: { TAP_TIMEOUT: '360', ...process.env, ...env } }).status ?? 1
}

/** The files a target mutates, as its config lists them. */
async function filesOf (target: Target): Promise<string[]> {
  const config = await import(pathToFileURL(`stryker/${target}.config.mjs`).href) as { default: { mutate: string[] } }
  return config.default.mutate
}

/** A mutate entry without its line range (`file.ts:10-20`). */
const sourceOf = (entry: string): string => entry.replace(/:\d+(:\d+)?-\d+(:\d+)?$/, '')

/** The report directory of one file of a target (as stryker/shared.mjs names it). */
const fileDir = (target: Target, file: string): string => `${reportDir(target)}/${file.replace(/[/.]/g, '_')}`

// One Stryker run per file: each file's report is kept as soon as it is done.
async function mutate (target: Target): Promise<void> {
  for (const file of await filesOf(target)) {
    const started = performance.now()
    const status = run('npx', ['stryker', 'run', `stryker/${target}.config.mjs`], { MUTATION_FILE: file })
    if (status !== 0) throw new Error(`stryker failed on ${file} (exit ${status})`)
    const record: RunRecord = { finishedAt: new Date().toISOString(), wallSeconds: Math.round((performance.now() - started) / 1000), command: `npm run test:mutation -- ${target}` }
    await writeFile(`${fileDir(target, file)}/run.json`, JSON.stringify(record, null, 2))
  }
}

/** Every file under src/iam/ must belong to an iam target, so a new one is not left out silently. */
async function unassignedIamFiles (): Promise<string[]> {
  const assigned = new Set([...await filesOf('iam-proof'), ...await filesOf('iam-documents')])
  const all = (await readdir('src/iam', { recursive: true })).filter((f) => f.endsWith('.ts')).map((f) => `src/iam/${f}`)
  return all.filter((f) => !assigned.has(f)).sort()
}

/** The mutated code, as written in the source (Stryker's report gives its location and replacement). */
function originalOf (source: string, mutant: Mutant & { location: { end?: { line: number, column: number } } }): string {
  const lines = source.split('\n')
  const { start, end } = mutant.location
  if (end === undefined) return ''
  if (start.line === end.line) return (lines[start.line - 1] ?? '').slice(start.column - 1, end.column - 1)
  return [(lines[start.line - 1] ?? '').slice(start.column - 1), ...lines.slice(start.line, end.line - 1), (lines[end.line - 1] ?? '').slice(0, end.column - 1)].join('\n')
}

const oneLine = (code: string): string => code.replace(/\s+/g, ' ').trim()
const cell = (code: string): string => `\`${oneLine(code).replace(/\|/g, '\\|').replace(/`/g, "'").slice(0, 70)}\``

async function summarise (): Promise<void> {
  const accepted = JSON.parse(await readFile('stryker/accepted-survivors.json', 'utf8')) as Accepted[]
  const killedSince = existsSync('stryker/killed-since-run.json') ? JSON.parse(await readFile('stryker/killed-since-run.json', 'utf8')) as KilledSince[] : []
  const killedRows: string[] = []
  const rows: string[] = []
  const acceptedRows: string[] = []
  const unjudged: string[] = []
  const runs: string[] = []
  const missing: string[] = []
  let iam = { valid: 0, detected: 0, since: 0, targets: 0 }
  for (const target of TARGETS) {
    const files: Report['files'] = {}
    const records: RunRecord[] = []
    // A whole-target run (`npx stryker run stryker/<target>.config.mjs`) reports every file at once.
    const whole = existsSync(`${reportDir(target)}/mutation.json`) ? JSON.parse(await readFile(`${reportDir(target)}/mutation.json`, 'utf8')) as Report : undefined
    if (whole !== undefined) {
      const record = JSON.parse(await readFile(`${reportDir(target)}/run.json`, 'utf8').catch(() => 'null')) as RunRecord | null
      if (record !== null) records.push(record)
    }
    for (const file of await filesOf(target)) {
      const path = `${fileDir(target, file)}/mutation.json`
      const fromWhole = whole?.files[sourceOf(file)]
      if (!existsSync(path) && fromWhole !== undefined) {
        files[sourceOf(file)] = fromWhole
        continue
      }
      if (!existsSync(path)) {
        missing.push(file)
        continue
      }
      // Two line ranges of one file (the issuance commit) are two runs of one source file.
      for (const [name, result] of Object.entries((JSON.parse(await readFile(path, 'utf8')) as Report).files)) {
        const seen = files[name]
        files[name] = seen === undefined ? result : { source: result.source, mutants: [...seen.mutants, ...result.mutants] }
      }
      const record = JSON.parse(await readFile(`${fileDir(target, file)}/run.json`, 'utf8').catch(() => 'null')) as RunRecord | null
      if (record !== null) records.push(record)
    }
    if (Object.keys(files).length === 0) continue
    if (records.length > 0) {
      const last = records.map((r) => r.finishedAt).sort().at(-1) ?? ''
      runs.push(`| ${TITLES[target]} | \`${records[0]?.command ?? ''}\` | ${last.slice(0, 16).replace('T', ' ')} UTC | ${records.reduce((sum, r) => sum + r.wallSeconds, 0)} s |`)
    }
    let total = { killed: 0, timeout: 0, survived: 0, noCoverage: 0 }
    let totalSince = 0
    for (const [file, { source, mutants }] of Object.entries(files).sort(([a], [b]) => a.localeCompare(b))) {
      const count = (status: string): number => mutants.filter((m) => m.status === status).length
      const c = { killed: count('Killed'), timeout: count('Timeout'), survived: count('Survived'), noCoverage: count('NoCoverage') }
      total = { killed: total.killed + c.killed, timeout: total.timeout + c.timeout, survived: total.survived + c.survived, noCoverage: total.noCoverage + c.noCoverage }
      const valid = mutants.filter((m) => VALID.has(m.status)).length
      const score = valid === 0 ? 100 : 100 * mutants.filter((m) => DETECTED.has(m.status)).length / valid
      let since = 0
      for (const m of mutants.filter((m) => m.status === 'Survived' || m.status === 'NoCoverage')) {
        const original = oneLine(originalOf(source, m))
        const replacement = oneLine(m.replacement ?? '')
        const judged = accepted.find((a) => a.file === file && (a.line === undefined || a.line === m.location.start.line) && a.mutator === m.mutatorName && oneLine(a.original) === original && oneLine(a.replacement) === replacement)
        const killed = killedSince.find((k) => k.file === file && k.line === m.location.start.line && k.mutator === m.mutatorName && oneLine(k.original) === original && oneLine(k.replacement) === replacement)
        const line = `| \`${file}:${m.location.start.line}\` | ${m.mutatorName} | ${cell(original)} → ${cell(replacement)} |`
        if (killed !== undefined) {
          since++
          killedRows.push(`${line} \`${killed.killedBy}\` |`)
        } else if (judged !== undefined) acceptedRows.push(`${line} ${judged.reason} |`)
        else unjudged.push(`${line} ${m.status} |`)
      }
      totalSince += since
      const after = valid === 0 ? 100 : 100 * (mutants.filter((m) => DETECTED.has(m.status)).length + since) / valid
      rows.push(`| \`${file}\` | ${score.toFixed(1)} % | ${since === 0 ? '' : `${after.toFixed(1)} %`} | ${c.killed} | ${c.timeout} | ${c.survived} | ${c.noCoverage} |`)
    }
    const valid = total.killed + total.timeout + total.survived + total.noCoverage
    const score = valid === 0 ? 100 : 100 * (total.killed + total.timeout) / valid
    const after = valid === 0 ? 100 : 100 * (total.killed + total.timeout + totalSince) / valid
    if (target.startsWith('iam-')) iam = { valid: iam.valid + valid, detected: iam.detected + total.killed + total.timeout, since: iam.since + totalSince, targets: iam.targets + 1 }
    rows.push(`| **${TITLES[target]}** | **${score.toFixed(1)} %** | ${totalSince === 0 ? '' : `**${after.toFixed(1)} %**`} | ${total.killed} | ${total.timeout} | ${total.survived} | ${total.noCoverage} |`)
  }
  if (iam.targets > 1) {
    const pct = (n: number): string => `${(100 * n / iam.valid).toFixed(1)} %`
    rows.push(`| **all of \`src/iam/\` measured** | **${pct(iam.detected)}** | ${iam.since === 0 ? '' : `**${pct(iam.detected + iam.since)}**`} | | | | |`)
  }
  const unassigned = await unassignedIamFiles()
  const table = [
    '| File | Mutants detected | With tests added since | Killed | Timeout | Survived | No coverage |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows
  ].join('\n')
  const page = [
    '# Mutation testing',
    '',
    'For contributors and reviewers: how well deputy\'s tests catch a broken line in the code that',
    'matters most. [StrykerJS](https://stryker-mutator.io) changes one thing at a time (a `<` into `<=`,',
    'a condition into `true`, a string into `""`) and runs the tests that reach it; a mutant the tests',
    'do not notice ("survived") is a bug they would let through. Generated by `scripts/mutation.ts`',
    'from Stryker\'s JSON reports; do not edit by hand.',
    '',
    '"Mutants detected" is Stryker\'s mutation score: (killed + timeout) / (killed + timeout + survived +',
    'no coverage). A timeout is a mutant that made a test loop, which the run counts as caught.',
    '"With tests added since" counts, as well, the survivors of that run that a test written after it',
    'kills: each was applied to the source and the named test failed on it (`scripts/mutation-check.mjs`)',
    '(`stryker/killed-since-run.json`); the next run replaces this column with its own count.',
    '',
    table,
    '',
    ...(missing.length === 0 ? [] : [`Not measured in this summary (no report yet): ${missing.map((f) => `\`${f}\``).join(', ')}.`, '']),
    ...(unassigned.length === 0 ? [] : [`**Under \`src/iam/\` but in no target** (add it to \`stryker/iam-*.config.mjs\`): ${unassigned.map((f) => `\`${f}\``).join(', ')}.`, '']),
    '## Runs',
    '',
    '| Target | Command | Finished | Wall time |',
    '| --- | --- | --- | ---: |',
    ...runs,
    '',
    'Stryker runs in a sandbox (`.stryker-tmp/`), two test processes at a time, each test file with',
    '`node --import tsx`; a mutant runs only the test files that reached it in the first run. One run',
    'per mutated file (wall time above: their sum). Configs: `stryker/<target>.config.mjs`. Reports',
    '(HTML and JSON): `reports/mutation/<target>/<file>/`.',
    'Reruns are incremental: only mutants whose code or tests changed run again.',
    '',
    '## Accepted survivors',
    '',
    'Each judged harmless, with why (`stryker/accepted-survivors.json`).',
    '',
    '| Where | Mutator | Change | Why it may survive |',
    '| --- | --- | --- | --- |',
    ...acceptedRows,
    '',
    '## Survivors killed by tests added since the run',
    '',
    ...(killedRows.length === 0 ? ['None.'] : ['| Where | Mutator | Change | Killed by |', '| --- | --- | --- | --- |', ...killedRows]),
    '',
    '## Survivors not yet judged',
    '',
    unjudged.length === 0 ? 'None.' : 'Each is a change no test notices: kill it with a test of behaviour a user relies on, or accept it with a reason.',
    '',
    ...(unjudged.length === 0 ? [] : ['| Where | Mutator | Change | Status |', '| --- | --- | --- | --- |', ...unjudged, '']),
  ].join('\n')
  await mkdir('docs', { recursive: true })
  await writeFile('docs/mutation.md', page)
  const readme = await readFile('README.md', 'utf8')
  const marked = /<!-- mutation-table:start -->[\s\S]*?<!-- mutation-table:end -->/
  // The README keeps the table and the accepted survivors that are gaps (not equivalent, not
  // unreachable); docs/mutation.md lists them all.
  const gaps = acceptedRows.filter((row) => !/\| (Line \d+[,:] )?(equivalent|unreachable)/i.test(row))
  const readmeBlock = [
    table,
    '',
    `Accepted survivors: ${acceptedRows.length}, each with its reason in [docs/mutation.md](docs/mutation.md#accepted-survivors); ${acceptedRows.length - gaps.length} are equivalent or unreachable, and these ${gaps.length} are gaps accepted for now:`,
    '',
    '| Where | Mutator | Change | Why it may survive |',
    '| --- | --- | --- | --- |',
    ...gaps,
    ...(unjudged.length === 0 ? [] : ['', `Survivors not yet judged: ${unjudged.length} (listed in docs/mutation.md).`])
  ].join('\n')
  if (marked.test(readme)) await writeFile('README.md', readme.replace(marked, () => `<!-- mutation-table:start -->\n${readmeBlock}\n<!-- mutation-table:end -->`))
  console.log(`docs/mutation.md: ${rows.length} rows, ${acceptedRows.length} accepted survivors, ${unjudged.length} not judged, ${missing.length} files without a report`)
  if (unassigned.length > 0) throw new Error(`under src/iam/ but in no mutation target: ${unassigned.join(', ')}`)
}

const args = process.argv.slice(2)
if (!args.includes('--summary-only')) {
  const chosen = args.length === 0 ? [...TARGETS] : args
  const unknown = chosen.filter((t) => !(TARGETS as readonly string[]).includes(t))
  if (unknown.length > 0) throw new Error(`unknown targets ${unknown.join(', ')}; known: ${TARGETS.join(', ')}`)
  // Stryker runs test files as plain node processes: the tap `before` script does not run.
  if (run('npx', ['tsx', 'test/setup/template-database.ts']) !== 0) throw new Error('could not build the template database')
  for (const target of chosen as Target[]) await mutate(target)
}
await summarise()
