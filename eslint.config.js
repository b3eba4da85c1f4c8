import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'web/console/dist/**', 'web/console/src/api/schema.d.ts', 'src/generated/**', 'scratch/**', 'node_modules/**', '.data/**', '.tap/**', 'reports/**', '.stryker-tmp/**'] })
]
