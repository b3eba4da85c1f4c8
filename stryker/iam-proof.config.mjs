// src/iam/, part one: the static proof (trust-policy-analysis/) and the trust-policy evaluator it
// and the STS emulator share, judged by the unit and oracle tests that call them directly. The
// app-level tests reach the evaluator too (through the emulator) but take seconds each: left out.
import { strykerConfig } from './shared.mjs'

export default strykerConfig({
  target: 'iam-proof',
  mutate: [
    'src/iam/trust-policy-analysis/patterns.ts',
    'src/iam/trust-policy-analysis/key-classes.ts',
    'src/iam/trust-policy-analysis/statements.ts',
    'src/iam/trust-policy-analysis/analyse.ts',
    'src/iam/trust-policy-analysis/vendor-request.ts',
    'src/iam/trust-policy-analysis/duplicate-keys.ts',
    'src/iam/trust-policy-evaluator.ts'
  ],
  testFiles: ['test/iam/*.test.ts', 'test/aws/trust-policy.test.ts']
})
