// The audit seal: what a seal commits to (seal-hash.ts) and when the sealer may seal (sealer.ts).
import { strykerConfig } from './shared.mjs'

export default strykerConfig({
  target: 'audit-seal',
  mutate: ['src/modules/audit/seal-hash.ts', 'src/modules/audit/sealer.ts'],
  testFiles: [
    'test/modules/audit-seals.test.ts',
    'test/modules/audit.test.ts'
  ]
})
