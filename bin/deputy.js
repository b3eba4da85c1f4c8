#!/usr/bin/env node
// Runs the compiled CLI (npm run build writes dist/). Node's compile cache (in the OS's temporary
// directory, or NODE_COMPILE_CACHE) keeps the compiled modules between starts, so a restart
// does not compile them again (bench/RESULTS.md, goal 4); where it cannot be written, nothing
// changes but the start-up time.
import { enableCompileCache } from 'node:module'

enableCompileCache?.()
await import('../dist/cli/index.js')
