// src/iam/, part two: the policy documents deputy writes and checks (policy-document.ts), the
// identity-policy evaluator the emulator's GetRole uses, and the revocation deny policy.
import { strykerConfig } from './shared.mjs'

export default strykerConfig({
  target: 'iam-documents',
  mutate: ['src/iam/policy-document.ts', 'src/iam/identity-policy.ts', 'src/iam/deny-policy.ts'],
  testFiles: ['test/iam/policy-document.test.ts', 'test/iam/identity-policy.test.ts', 'test/iam/deny-policy.test.ts', 'test/modules/onboarding-kit.test.ts', 'test/aws/iam-get-role.test.ts']
})
