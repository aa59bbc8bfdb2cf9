/**
 * cfn-lint on the synthesized template (compliant as bin/app.ts builds it): the linter runs from the
 * project's Python environment (.venv), which the emulator tiers' global setup ensures, so this
 * check lives in the integration tier; the cdk-nag checks are unit tests (test/infra/compliance.test.ts).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addCompliance } from '../../lib';
import { synthPhoenix, type SynthesizedPhoenix } from '../infra/support';

const REPO_ROOT = path.join(__dirname, '..', '..');
const CFN_LINT = path.join(REPO_ROOT, '.venv', 'bin', 'cfn-lint');

let phoenix: SynthesizedPhoenix;

beforeAll(() => {
  phoenix = synthPhoenix({ configure: (app) => addCompliance(app) });
});
afterAll(() => phoenix.dispose());

describe('cfn-lint', () => {
  it('passes on the synthesized template', () => {
    if (!fs.existsSync(CFN_LINT)) {
      throw new Error(
        `cfn-lint is not installed at ${path.relative(REPO_ROOT, CFN_LINT)}: run .ci/run or \`node bin/phoenix.js setup\` to create the project's Python environment`,
      );
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'phoenix-cfn-lint-'));
    try {
      const file = path.join(dir, 'Phoenix.template.json');
      fs.writeFileSync(file, JSON.stringify(phoenix.template.toJSON(), null, 1));
      const result = spawnSync(
        CFN_LINT,
        [
          // W3005 (DependsOn already enforced by a GetAtt): CDK itself adds DependsOn on the
          // execution role and its default policy to every Function and StateMachine so that the
          // policy exists before the first invocation. Redundant for the role, harmless, not ours.
          '--ignore-checks',
          'W3005',
          '--',
          file,
        ],
        { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 },
      );
      expect(result.error).toBeUndefined();
      expect(`${result.stdout}${result.stderr}`).toBe('');
      expect(result.status).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
