/**
 * The scan a user's security team runs: Checkov (pinned in requirements-checkov.txt, its own
 * environment .venv/checkov/) on the synthesized template, with and without the customer-managed
 * key. No check may fail: each one is fixed, or skipped in the resource's metadata
 * (`Metadata.checkov.skip`, see lib/checkov.ts) with the reason a reviewer reads.
 *
 * Checkov runs from `checkovPath()`: `$PHOENIX_CHECKOV` when set, else `.venv/checkov/bin/checkov`,
 * installed here on first use (`ensureScannerEnv`, as `node bin/phoenix.js setup` does for .venv).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PhoenixControlPlane } from '../../lib';
import { checkovPath, ensureScannerEnv, REPO_ROOT } from '../../local/python-env';
import { synthPhoenix } from '../infra/support';

/** What Checkov's JSON report says (the fields read here). */
interface CheckovCheck {
  readonly check_id: string;
  readonly check_name: string;
  readonly resource: string;
  readonly check_result: { readonly result: string; readonly suppress_comment?: string };
}
interface CheckovReport {
  readonly summary: { passed: number; failed: number; skipped: number; parsing_errors: number };
  readonly results: {
    readonly passed_checks: CheckovCheck[];
    readonly failed_checks: CheckovCheck[];
    readonly skipped_checks: CheckovCheck[];
  };
}

/** The encryption checks that the customer-managed key answers (skipped only without it), by resource type. */
const ENCRYPTION_CHECKS: Readonly<Record<string, string>> = {
  CKV_AWS_27: 'AWS::SQS::Queue',
  CKV_AWS_119: 'AWS::DynamoDB::Table',
  CKV_AWS_158: 'AWS::Logs::LogGroup',
  CKV_AWS_173: 'AWS::Lambda::Function',
};

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'phoenix-checkov-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** Runs Checkov on a template (CloudFormation framework only) and returns its report. */
function scan(name: string, template: unknown): CheckovReport {
  const file = path.join(scratch, `${name}.template.json`);
  fs.writeFileSync(file, JSON.stringify(template, null, 1));
  const checkov = checkovPath();
  const result = spawnSync(
    checkov,
    ['--file', file, '--framework', 'cloudformation', '--output', 'json', '--compact', '--skip-download'],
    { cwd: REPO_ROOT, encoding: 'utf8', timeout: 300_000, maxBuffer: 64 * 1024 * 1024 },
  );
  if (result.error) throw new Error(`could not run ${checkov}: ${result.error.message}`);
  // Exit code 1 means failed checks (the assertions below say which); anything else is no report.
  if (result.status !== 0 && result.status !== 1) {
    throw new Error(`${checkov} exited with ${String(result.status)}: ${result.stderr}`);
  }
  const parsed = JSON.parse(result.stdout) as CheckovReport | CheckovReport[];
  const report = Array.isArray(parsed) ? parsed.find((r) => 'results' in r) : parsed;
  if (report === undefined) throw new Error(`no CloudFormation report in ${result.stdout.slice(0, 500)}`);
  return report;
}

const failures = (report: CheckovReport) =>
  report.results.failed_checks.map((c) => `${c.check_id} (${c.check_name}) at ${c.resource}`);

let plain: CheckovReport;
let keyed: CheckovReport;
/** How many resources of each type the keyed template has. */
let keyedTypes: Record<string, number>;

beforeAll(async () => {
  await ensureScannerEnv();
  const phoenix = synthPhoenix();
  try {
    plain = scan('Phoenix', phoenix.template.toJSON());
  } finally {
    phoenix.dispose();
  }
  const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'PhoenixKeyed');
  const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
  new PhoenixControlPlane(stack, 'ControlPlane', { encryptionKey: key });
  const template = Template.fromStack(stack).toJSON() as { Resources: Record<string, { Type: string }> };
  keyedTypes = {};
  for (const r of Object.values(template.Resources)) keyedTypes[r.Type] = (keyedTypes[r.Type] ?? 0) + 1;
  keyed = scan('PhoenixKeyed', template);
}, 900_000);

describe('checkov on the synthesized template', () => {
  it('fails no check on the default stack', () => {
    expect(plain.summary.parsing_errors).toBe(0);
    expect(failures(plain)).toStrictEqual([]);
    expect(plain.summary.failed).toBe(0);
    expect(plain.summary.passed).toBeGreaterThan(0);
  });

  it('gives every skip a reason a reviewer can read', () => {
    for (const check of [...plain.results.skipped_checks, ...keyed.results.skipped_checks]) {
      const comment = check.check_result.suppress_comment ?? '';
      expect(comment.length, `${check.check_id} at ${check.resource}`).toBeGreaterThanOrEqual(40);
    }
  });

  it('fails no check with the customer-managed key, and skips no encryption check there', () => {
    expect(keyed.summary.parsing_errors).toBe(0);
    expect(failures(keyed)).toStrictEqual([]);
    const skippedEncryption = keyed.results.skipped_checks
      .filter((c) => c.check_id in ENCRYPTION_CHECKS)
      .map((c) => `${c.check_id} at ${c.resource}`);
    expect(skippedEncryption).toStrictEqual([]);
    // The key answers them: each passes on every table, queue, log group and function.
    for (const [id, type] of Object.entries(ENCRYPTION_CHECKS)) {
      const passed = keyed.results.passed_checks.filter((c) => c.check_id === id).length;
      expect(passed, `${id} on ${type}`).toBe(keyedTypes[type]);
      expect(passed, `${id} on ${type}`).toBeGreaterThan(0);
    }
  });
});
