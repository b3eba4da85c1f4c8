// Checks, without a Stryker run, whether new tests kill the survivors of the last one:
//   node scripts/mutation-check.mjs <mutation.json> <scratch copy of the repo> <test file>...
// Applies each Survived / NoCoverage mutant of the report to the scratch copy (src/ and test/
// copied, node_modules linked), runs the test files (`node --import tsx`), restores the file, and
// prints one JSON line per mutant with the first test that failed on it (killedBy), or null.
// The lines with a killedBy go into stryker/killed-since-run.json until the next Stryker run.
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'

const [report, root, ...tests] = process.argv.slice(2)
const { files } = JSON.parse(readFileSync(report, 'utf8'))
for (const [file, { source, mutants }] of Object.entries(files)) {
  const lines = source.split('\n')
  const offset = (pos) => lines.slice(0, pos.line - 1).reduce((n, l) => n + l.length + 1, 0) + pos.column - 1
  for (const m of mutants.filter((m) => m.status === 'Survived' || m.status === 'NoCoverage')) {
    const start = offset(m.location.start)
    const end = offset(m.location.end)
    writeFileSync(`${root}/${file}`, source.slice(0, start) + m.replacement + source.slice(end))
    let killedBy = null
    try {
      for (const test of tests) {
        const run = spawnSync('node', ['--import', 'tsx', test], { cwd: root, encoding: 'utf8', timeout: 60_000, env: { ...process.env, TAP_TIMEOUT: '60' } })
        if (run.status !== 0) {
          killedBy = test
          break
        }
      }
    } finally {
      writeFileSync(`${root}/${file}`, source)
    }
    console.log(JSON.stringify({ file, line: m.location.start.line, mutator: m.mutatorName, original: source.slice(start, end), replacement: m.replacement, killedBy }))
  }
}
