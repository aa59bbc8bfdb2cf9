import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addCompliance } from '../../lib';
import { synthPhoenix, type SynthesizedPhoenix } from './support';

let phoenix: SynthesizedPhoenix;

beforeAll(() => {
  // As bin/app.ts does: the AwsSolutions pack registered as a validation plugin of the app. An
  // unacknowledged finding makes the synthesis (here, in beforeAll) throw `ValidationFailed`.
  phoenix = synthPhoenix({ configure: (app) => addCompliance(app) });
});
afterAll(() => phoenix.dispose());

interface Acknowledgement {
  readonly path: string;
  readonly id: string;
  readonly reason: string;
}

/** Every acknowledgement recorded with `Validations.of(x).acknowledge(...)` under a scope. */
function acknowledgements(scope: IConstruct): Acknowledgement[] {
  return scope.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) =>
        Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({
          path: c.node.path,
          id: id.replace(/^annotation::/i, ''),
          reason,
        })),
      ),
  );
}

/** The AwsSolutions findings of a scope as if nothing were acknowledged. */
function rawFindings(scope: IConstruct) {
  const validations = Validations as unknown as { ACKNOWLEDGED_RULES_METADATA_KEY: string };
  const key = validations.ACKNOWLEDGED_RULES_METADATA_KEY;
  validations.ACKNOWLEDGED_RULES_METADATA_KEY = 'phoenix:test:no-acknowledgements';
  try {
    return new AwsSolutionsChecks().validateScope(scope).violations;
  } finally {
    validations.ACKNOWLEDGED_RULES_METADATA_KEY = key;
  }
}

describe('cdk-nag AwsSolutions', () => {
  it('reports no unacknowledged error or warning', () => {
    const report = new AwsSolutionsChecks().validateScope(phoenix.stack);
    const open = report.violations.map(
      (v) => `${v.severity} ${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
    );
    expect(open).toEqual([]);
    // cdk-nag 3 reports through the validation plugin, not annotations; no other error either.
    expect(
      Annotations.fromStack(phoenix.stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*')),
    ).toEqual([]);
    expect(Annotations.fromStack(phoenix.stack).findError('*', Match.anyValue())).toEqual([]);
  });

  it('acknowledges each finding with a reason of at least 20 characters, IAM5 per finding', () => {
    const acks = acknowledgements(phoenix.stack);
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      expect(ack.reason.trim().length, `${ack.path} ${ack.id}`).toBeGreaterThanOrEqual(20);
      // A bare rule id would acknowledge no IAM5 finding in cdk-nag 3, and a blanket one is banned.
      if (ack.id.startsWith('AwsSolutions-IAM5'))
        expect(ack.id, ack.path).toMatch(/^AwsSolutions-IAM5\[.+\]$/);
    }
  });

  it('has no stale acknowledgement: each one answers a finding at or under where it is made', () => {
    const findings = rawFindings(phoenix.stack);
    for (const ack of acknowledgements(phoenix.stack)) {
      const answered = findings.some(
        (f) =>
          f.ruleName === ack.id &&
          f.violatingResources.some(
            (r) => r.constructPath === ack.path || (r.constructPath ?? '').startsWith(`${ack.path}/`),
          ),
      );
      expect(answered, `${ack.path} acknowledges ${ack.id}, which is not reported there`).toBe(true);
    }
  });
});

describe('addCompliance', () => {
  it('fails the synthesis of an app with an unacknowledged finding', () => {
    const app = new App({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'phoenix-nag-')) });
    try {
      new sqs.Queue(new Stack(app, 'Careless'), 'PlainQueue'); // no DLQ, no TLS enforcement
      addCompliance(app);
      expect(() => app.synth()).toThrow(/AwsSolutions-SQS4/);
    } finally {
      fs.rmSync(app.outdir, { recursive: true, force: true });
    }
  });
});
