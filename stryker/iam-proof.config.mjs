// src/iam/, part one: the static proof (trust-policy-analysis/) and the trust-policy evaluator it
// and the STS emulator share, judged by the unit and oracle tests that call them directly. The
// app-level tests reach the evaluator too (through the emulator) but take seconds each: left out.
import { strykerConfig } from './shared.mjs'

export default strykerConfig({
  target: 'iam-proof',
  mutate: ['src/iam/trust-policy-evaluator.ts', 'src/iam/trust-policy-analysis/*.ts'],
  testFiles: ['test/iam/*.test.ts', 'test/aws/trust-policy.test.ts']
})
