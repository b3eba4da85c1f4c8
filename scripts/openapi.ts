// Writes openapi.yaml from the route schemas (npm run openapi).
import { writeFile } from 'node:fs/promises'
import { buildOpenApiYaml } from '../src/openapi.js'

await writeFile(new URL('../openapi.yaml', import.meta.url), await buildOpenApiYaml())
