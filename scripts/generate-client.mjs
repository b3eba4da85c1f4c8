// Generates the Prisma client into src/generated/prisma (runs on npm install).
// `prisma generate` never executes Prisma's native schema engine, but the CLI insists on having
// one and downloads it when missing. Unless PRISMA_SCHEMA_ENGINE_BINARY is set, point it at a
// placeholder so generation works offline; deputy applies migrations itself (deputy migrate).
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const placeholder = fileURLToPath(new URL('./no-schema-engine.sh', import.meta.url))
const env = { ...process.env, PRISMA_HIDE_UPDATE_MESSAGE: '1' }
if (!env.PRISMA_SCHEMA_ENGINE_BINARY) env.PRISMA_SCHEMA_ENGINE_BINARY = placeholder

const prisma = fileURLToPath(new URL('../node_modules/prisma/build/index.js', import.meta.url))
const result = spawnSync(process.execPath, [prisma, 'generate'], { stdio: 'inherit', env })
process.exit(result.status ?? 1)
