/**
 * vitest setupFiles (integration and e2e tiers): when PHOENIX_RECORD_AWS_CALLS=1, record every AWS
 * call the handlers make to test-results/aws-calls/<test file>.jsonl (test/support/aws-call-recorder.ts),
 * for the IAM must-allow check (test/infra/iam-must-allow.test.ts). Otherwise it does nothing.
 */
import * as path from 'node:path';
import { beforeAll, expect } from 'vitest';
import { enableHandlerContext } from '../../lambdas/aws/call-context';
import { installAwsCallRecorder, RECORDINGS_DIR } from '../support/aws-call-recorder';

if (process.env.PHOENIX_RECORD_AWS_CALLS === '1') {
  enableHandlerContext();
  beforeAll(() => {
    const testFile = path.relative(
      path.resolve(__dirname, '..', '..'),
      expect.getState().testPath ?? 'unknown',
    );
    const file = path.join(RECORDINGS_DIR, `${testFile.replace(/[\\/]/g, '__')}.jsonl`);
    installAwsCallRecorder({ file, testFile });
  });
}
