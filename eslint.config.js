import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'src/generated/**', 'scratch/**', 'node_modules/**', '.data/**', '.tap/**'] })
]
