#!/usr/bin/env node
// Runs the compiled CLI (npm run build writes dist/), with Node's compile cache so a restart does
// not compile deputy's modules again (bench/RESULTS.md, goal 4). The cache holds code this
// process will run, so it lives only in a directory of the user's own that nobody else may write
// (~/.cache/deputy/compile-cache, mode 0700), never the shared temporary directory; when that
// cannot be had, deputy starts without it. NODE_COMPILE_CACHE, if set, is Node's own choice.
// The Node version check comes first; `node:module` is imported whole because a named import of
// an export an older Node lacks fails before any check could run.
import '../scripts/require-node.mjs'
import { mkdirSync, statSync } from 'node:fs'
import * as nodeModule from 'node:module'
import { homedir } from 'node:os'
import { join } from 'node:path'

function privateCacheDir () {
  try {
    const dir = join(homedir(), '.cache', 'deputy', 'compile-cache')
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    const stat = statSync(dir)
    return stat.uid === process.getuid?.() && (stat.mode & 0o077) === 0 ? dir : undefined
  } catch {
    return undefined
  }
}

if (process.env.NODE_COMPILE_CACHE === undefined) {
  const dir = privateCacheDir()
  if (dir !== undefined) nodeModule.enableCompileCache?.(dir)
}
await import('../dist/cli/index.js')
