// What every mutation-testing target shares (`npm run test:mutation`, docs/mutation.md).
// Stryker runs each test file as its own process (`node --import tsx <file>`, not through tap),
// so the template database must exist first: scripts/mutation.ts builds it before Stryker starts.
// Coverage is per test file (the tap runner's unit), so a mutant runs only the files that reach it.

/**
 * MUTATION_FILE (set by scripts/mutation.ts) narrows a run to one of the target's files, with its
 * own report and incremental file: on a loaded machine a target takes long, and each file's result
 * is kept as soon as it is done.
 * @param {{ target: string, mutate: string[], testFiles: string[] }} target
 */
export function strykerConfig ({ target, mutate, testFiles }) {
  const file = process.env.MUTATION_FILE
  if (file !== undefined && !mutate.includes(file)) throw new Error(`${file} is not one of ${target}'s files: ${mutate.join(', ')}`)
  const dir = `reports/mutation/${target}${file === undefined ? '' : `/${file.replace(/[/.]/g, '_')}`}`
  return {
    $schema: '../node_modules/@stryker-mutator/core/schema/stryker-schema.json',
    testRunner: 'tap',
    plugins: ['@stryker-mutator/tap-runner'],
    tap: { testFiles, nodeArgs: ['--import', 'tsx'], forceBail: true },
    mutate: file === undefined ? mutate : [file],
    coverageAnalysis: 'perTest',
    // The machine is shared; two test processes at a time is what the suite itself uses.
    concurrency: 2,
    // A rerun tests only mutants whose code or covering tests changed. The file is a local cache
    // (gitignored with the rest of reports/): it churns on every edit and would conflict on merge.
    incremental: true,
    incrementalFile: `${dir}/incremental.json`,
    reporters: ['json', 'html', 'clear-text', 'progress'],
    jsonReporter: { fileName: `${dir}/mutation.json` },
    htmlReporter: { fileName: `${dir}/mutation.html` },
    clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true },
    // Tests that start an app and a database take seconds; a loaded machine stretches them, and a
    // mutant that loops (an index that never advances) is still caught within these bounds.
    timeoutMS: 15_000,
    timeoutFactor: 2,
    tempDirName: `.stryker-tmp/${target}`,
    cleanTempDir: 'always',
    // The sandbox needs src/, test/, prisma/ (the template database is named after the
    // migrations) and the configs; not the console, benches or docs.
    ignorePatterns: ['.stryker-tmp', 'reports', 'web', 'bench', 'docs', 'coverage', '.tap', 'dist', 'scratch', 'test-output', '.data'],
    thresholds: { high: 90, low: 80, break: null },
    logLevel: 'info',
    fileLogLevel: 'off'
  }
}
