// The issuance commit: the statement that writes credentials.issued only while the connection can
// still issue (issuance.repository.ts), and the service's audited fallback (commitIssuance and
// unusableReason in credentials.service.ts, by line range: keep the ranges on those functions).
import { strykerConfig } from './shared.mjs'

export default strykerConfig({
  target: 'issuance',
  mutate: [
    'src/modules/credentials/issuance.repository.ts',
    'src/modules/credentials/credentials.service.ts:101-127',
    'src/modules/credentials/credentials.service.ts:272-277'
  ],
  testFiles: [
    'test/modules/issuance-hardening.test.ts',
    'test/modules/credentials.test.ts',
    'test/modules/revocation.test.ts'
  ]
})
