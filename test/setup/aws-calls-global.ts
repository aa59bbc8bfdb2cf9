/**
 * vitest globalSetup (with test/setup/record-aws-calls.ts): when PHOENIX_RECORD_AWS_CALLS=1, start
 * the run with no recordings, so the must-allow check reads only what this run recorded.
 */
import { rmSync } from 'node:fs';
import { RECORDINGS_DIR } from '../support/aws-call-recorder';

export default function setup(): void {
  if (process.env.PHOENIX_RECORD_AWS_CALLS === '1') rmSync(RECORDINGS_DIR, { recursive: true, force: true });
}
