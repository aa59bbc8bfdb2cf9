/**
 * Re-replacement (aws/executions.ts startReplace) against the local Step Functions endpoint: an
 * instance whose Replace execution ended without replacing it (failed, aborted, skipped) gets the
 * next attempt `<name>-2`, `-3`…; a running or successful attempt makes every repeat a duplicate.
 *
 * The state machine here is a one-task stand-in whose task ends as the test plans (its output
 * carries `report.outcome` as the Replace workflow's does): the subject is the naming and the
 * decisions of startReplace through the real SDK client and endpoint, not the workflow (see
 * test/e2e/replace.test.ts for the whole path).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReplace } from '../../lambdas/aws/executions';
import { DetailTypes } from '../../lambdas/domain/contract';
import {
  attemptStanding,
  MAX_REPLACE_ATTEMPTS,
  replaceAttemptName,
  replaceExecutionName,
  type ReplaceInput,
} from '../../lambdas/domain/replace';
import { silentLogger } from '../../local/log';
import { LocalStepFunctions } from '../../local/stepfunctions';

const TASK = 'arn:aws:lambda:us-east-1:123456789012:function:stand-in';
const ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:replace-stand-in';

type Plan = 'replaced' | 'skipped' | 'fail' | 'hold';
/** What the next task invocation of each execution name does (default: replaced). */
const plans = new Map<string, Plan>();
const held = new Map<string, () => void>();

let service: LocalStepFunctions;
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  service = await LocalStepFunctions.start({
    log: silentLogger,
    invoker: {
      resolveFunction: (arn) => (arn === TASK ? { arn } : undefined),
      invoke: async (_arn, payload) => {
        const name = (payload as { execution: string }).execution;
        const plan = plans.get(name) ?? 'replaced';
        if (plan === 'hold') await new Promise<void>((resolve) => held.set(name, resolve));
        if (plan === 'fail') {
          const error = new Error('planned failure');
          error.name = 'ReplacementNotHealthyError';
          throw error;
        }
        return {
          outcome: plan === 'skipped' ? DetailTypes.ReplacementSkipped : DetailTypes.InstanceReplaced,
        };
      },
    },
  });
  service.registerStateMachine({
    name: 'replace-stand-in',
    arn: ARN,
    definition: {
      StartAt: 'Work',
      States: {
        Work: {
          Type: 'Task',
          Resource: TASK,
          Parameters: { 'execution.$': '$$.Execution.Name' },
          ResultPath: '$.report',
          End: true,
        },
      },
    },
  });
  for (const key of ['AWS_ENDPOINT_URL_SFN', 'PHOENIX_REPLACE_STATE_MACHINE_ARN', 'AWS_REGION'])
    saved[key] = process.env[key];
  process.env['AWS_ENDPOINT_URL_SFN'] = service.endpoint;
  process.env['PHOENIX_REPLACE_STATE_MACHINE_ARN'] = ARN;
  process.env['AWS_REGION'] = 'us-east-1';
});

afterAll(async () => {
  for (const [key, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  await service?.close();
});

const input = (instanceId: string, requestId: string): ReplaceInput => ({
  fleet: 'web',
  instanceId,
  cause: 'health',
  reason: 'test',
  requestId,
});

const arnOf = (name: string) => `${ARN.replace(':stateMachine:', ':execution:')}:${name}`;
const ended = (name: string) => service.waitForExecution(arnOf(name), { timeoutMs: 10_000 });
const namesOf = (instanceId: string) =>
  service
    .listExecutions({ stateMachineArn: ARN })
    .map((e) => e.name)
    .filter((n) => n.includes(instanceId))
    .sort();

describe('re-replacement', () => {
  it('after a skipped attempt and a failed one, the next event starts -2, then -3; duplicates start nothing', async () => {
    const id = 'i-0aaaaaaaaaaaaaaa1';
    const base = replaceExecutionName('web', id);
    plans.set(base, 'skipped');
    plans.set(`${base}-2`, 'fail');
    plans.set(`${base}-3`, 'hold');

    const first = await startReplace(base, input(id, 'e1'), { reattempt: true });
    expect(first).toMatchObject({ duplicate: false, execution: base, attempt: 1 });
    expect((await ended(base)).status).toBe('SUCCEEDED');

    const second = await startReplace(base, input(id, 'e2'), { reattempt: true });
    expect(second).toMatchObject({ duplicate: false, execution: `${base}-2`, attempt: 2 });
    expect((await ended(`${base}-2`)).status).toBe('FAILED');

    const third = await startReplace(base, input(id, 'e3'), { reattempt: true });
    expect(third).toMatchObject({ duplicate: false, execution: `${base}-3`, attempt: 3 });

    // While -3 runs, any number of other events start nothing. (The same event again, with the
    // same input, is answered by Step Functions with the running execution itself: intake's
    // idempotency records keep a redelivered event from getting that far.)
    for (const requestId of ['e4', 'e5', 'e6']) {
      expect(await startReplace(base, input(id, requestId), { reattempt: true })).toMatchObject({
        duplicate: true,
        execution: `${base}-3`,
      });
    }
    held.get(`${base}-3`)!();
    expect((await ended(`${base}-3`)).status).toBe('SUCCEEDED');
    // It replaced the instance: later events start nothing either.
    expect(await startReplace(base, input(id, 'e7'), { reattempt: true })).toMatchObject({
      duplicate: true,
      execution: `${base}-3`,
    });
    expect(namesOf(id)).toEqual([base, `${base}-2`, `${base}-3`]);
  });

  it('a successful first replacement: every repeat is a duplicate, whatever the option', async () => {
    const id = 'i-0aaaaaaaaaaaaaaa2';
    const base = replaceExecutionName('web', id);
    await startReplace(base, input(id, 'a'));
    await ended(base);
    expect(await startReplace(base, input(id, 'b'), { reattempt: true })).toMatchObject({ duplicate: true });
    expect(await startReplace(base, input(id, 'c'))).toMatchObject({ duplicate: true });
    expect(namesOf(id)).toEqual([base]);
  });

  it('without reattempt (the instance is not InService), an ended attempt is not followed', async () => {
    const id = 'i-0aaaaaaaaaaaaaaa3';
    const base = replaceExecutionName('web', id);
    plans.set(base, 'fail');
    await startReplace(base, input(id, 'a'));
    await ended(base);
    expect(await startReplace(base, input(id, 'b'))).toMatchObject({ duplicate: true, execution: base });
    expect(namesOf(id)).toEqual([base]);
  });

  it('an aborted attempt is followed; after the last attempt nothing more starts', async () => {
    const id = 'i-0aaaaaaaaaaaaaaa4';
    const base = replaceExecutionName('web', id);
    for (let n = 1; n <= MAX_REPLACE_ATTEMPTS; n++) plans.set(replaceAttemptName(base, n), 'hold');
    await startReplace(base, input(id, 'a'), { reattempt: true });
    service.stopExecution(arnOf(base));
    expect((await ended(base)).status).toBe('ABORTED');
    for (let n = 2; n <= MAX_REPLACE_ATTEMPTS; n++) {
      const started = await startReplace(base, input(id, `e${n}`), { reattempt: true });
      expect(started).toMatchObject({ duplicate: false, attempt: n, execution: replaceAttemptName(base, n) });
      service.stopExecution(arnOf(started.execution));
      await ended(started.execution);
    }
    const last = await startReplace(base, input(id, 'z'), { reattempt: true });
    expect(last).toMatchObject({ duplicate: true, exhausted: true });
    expect(namesOf(id)).toHaveLength(MAX_REPLACE_ATTEMPTS);
    for (const resolve of held.values()) resolve();
  });

  it('concurrent deliveries after a failed attempt start exactly one next attempt', async () => {
    const id = 'i-0aaaaaaaaaaaaaaa5';
    const base = replaceExecutionName('web', id);
    plans.set(base, 'fail');
    plans.set(`${base}-2`, 'hold');
    await startReplace(base, input(id, 'a'), { reattempt: true });
    await ended(base);
    const results = await Promise.all(
      ['b', 'c', 'd', 'e', 'f'].map((r) => startReplace(base, input(id, r), { reattempt: true })),
    );
    expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
    expect(new Set(results.map((r) => r.execution))).toEqual(new Set([`${base}-2`]));
    expect(namesOf(id)).toEqual([base, `${base}-2`]);
    held.get(`${base}-2`)!();
    await ended(`${base}-2`);
  });
});

describe('attempt names and standing (pure)', () => {
  it('names stay within 80 characters of [A-Za-z0-9_-], deterministic', () => {
    const long = replaceExecutionName('f'.repeat(60), `i-${'0'.repeat(40)}`);
    expect(long.length).toBeLessThanOrEqual(80);
    for (let n = 2; n <= MAX_REPLACE_ATTEMPTS; n++) {
      const name = replaceAttemptName(long, n);
      expect(name).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
      expect(name.endsWith(`-${n}`)).toBe(true);
      expect(replaceAttemptName(long, n)).toBe(name);
    }
    expect(replaceAttemptName('web--i-1', 1)).toBe('web--i-1');
  });

  it('only an ended attempt that did not replace the instance is followed', () => {
    const out = (outcome: string) => JSON.stringify({ report: { outcome } });
    expect(attemptStanding('RUNNING', undefined)).toBe('running');
    expect(attemptStanding('SUCCEEDED', out(DetailTypes.InstanceReplaced))).toBe('replaced');
    expect(attemptStanding('SUCCEEDED', out(DetailTypes.ReplacementSkipped))).toBe('not-replaced');
    expect(attemptStanding('SUCCEEDED', 'not json')).toBe('replaced');
    for (const status of ['FAILED', 'ABORTED', 'TIMED_OUT']) {
      expect(attemptStanding(status, undefined)).toBe('not-replaced');
    }
  });
});
