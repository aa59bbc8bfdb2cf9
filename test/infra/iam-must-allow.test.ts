/**
 * Least privilege, proven by simulation (issue 10, "must allow"): every AWS call the handlers made
 * during the integration and e2e tests of this run (recorded by test/support/aws-call-recorder.ts
 * when PHOENIX_RECORD_AWS_CALLS=1), with the actions AWS requires beside it, simulated against the
 * synthesized policy of the role of the function that made it. A call the emulator accepted but
 * AWS would deny (AccessDenied in production) fails here. The policies are those of the deployment
 * the tests' world stands for (`WORLD_DEPLOYMENT`: its golden-AMI parameter prefix, its operators),
 * and a PutEvents on the Phoenix bus is simulated with the bus's resource policy too.
 *
 * Runs after the tiers that record (its own vitest project, last); no recording is a failure.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type RecordedCall, type RecordedRequest, RECORDINGS_DIR } from '../support/aws-call-recorder';
import { simulate, worldPolicies } from '../support/iam-policies';

function readRecordings(): RecordedCall[] {
  if (!existsSync(RECORDINGS_DIR)) return [];
  return readdirSync(RECORDINGS_DIR)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .flatMap((f) =>
      readFileSync(path.join(RECORDINGS_DIR, f), 'utf8')
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as RecordedCall),
    );
}

/** Generated ids (instances, images, templates, group UUIDs, execution names) do not make a call distinct. */
function shape(value: string): string {
  return value
    .replace(/\b(i|ami|lt|sg|subnet|snap|vol|eni)-[0-9a-f]{8,17}\b/g, '$1-…')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '…uuid');
}

interface DistinctCall {
  readonly handler: string;
  readonly request: RecordedRequest;
  readonly operation: string;
  readonly testFile: string;
  readonly count: number;
}

function distinctCalls(calls: readonly RecordedCall[]): DistinctCall[] {
  const byKey = new Map<string, DistinctCall>();
  for (const call of calls) {
    for (const request of call.requests) {
      const context = Object.entries(request.context ?? {}).sort(([a], [b]) => a.localeCompare(b));
      const key = shape(JSON.stringify([call.handler, request.action, request.resource, context]));
      const seen = byKey.get(key);
      byKey.set(
        key,
        seen !== undefined
          ? { ...seen, count: seen.count + 1 }
          : { handler: call.handler, request, operation: call.operation, testFile: call.testFile, count: 1 },
      );
    }
  }
  return [...byKey.values()];
}

const calls = readRecordings();
const distinct = distinctCalls(calls);

describe('IAM simulation: must allow every AWS call the handlers make', () => {
  it('has this run’s recordings of the integration and e2e tests', () => {
    expect(
      calls.length,
      `No AWS call recordings in ${RECORDINGS_DIR}: run the integration and e2e tests with PHOENIX_RECORD_AWS_CALLS=1 first (npm test does)`,
    ).toBeGreaterThan(0);
  });

  it('turns every recorded call into IAM requests (no unmapped operation, no failed lookup)', () => {
    const unresolved = calls.flatMap((c) =>
      (c.unresolved ?? []).map((u) => `${c.handler} ${c.service}:${c.operation} (${c.testFile}): ${u}`),
    );
    expect([...new Set(unresolved)]).toEqual([]);
  });

  it('attributes every call to a Phoenix function of the template', () => {
    const policies = worldPolicies();
    const handlers = new Set(policies.roles.flatMap((r) => r.handler ?? []));
    expect([...new Set(calls.map((c) => c.handler))].filter((h) => !handlers.has(h))).toEqual([]);
  });

  it('allows every distinct recorded call to the role of the function that made it', async () => {
    const policies = worldPolicies();
    const denied: string[] = [];
    for (const call of distinct) {
      const role = policies.roleOfHandler(call.handler);
      const onBus = call.request.action === 'events:PutEvents' && call.request.resource === policies.bus.arn;
      const decision = await simulate(
        role,
        call.request,
        onBus ? { resourcePolicy: policies.bus.policy } : {},
      );
      if (decision !== 'Allowed') {
        denied.push(
          `${call.handler}: ${call.request.action} on ${call.request.resource} ${JSON.stringify(call.request.context ?? {})} — ${decision} (${call.request.why}; ${call.operation} in ${call.testFile}, ${call.count}×)`,
        );
      }
    }
    const perHandler = new Map<string, number>();
    for (const call of distinct) perHandler.set(call.handler, (perHandler.get(call.handler) ?? 0) + 1);
    const byHandler = [...perHandler].sort().map(([handler, n]) => `${handler}: ${n}`);
    // The figures of the closing note: distinct calls simulated, per function.
    process.stderr.write(
      `[iam-must-allow] ${calls.length} recorded calls, ${distinct.length} distinct IAM requests simulated (${byHandler.join(', ')}); denied: ${denied.length}\n`,
    );
    expect(denied).toEqual([]);
  });
});
