/**
 * The Replace state machine as synthesized by the CDK app, executed locally (aws-local-stepfunctions
 * through the local Step Functions service), its Lambda tasks bound to scripted step doubles: the
 * definition's routing (order of steps, waits, Retry, Catch, outcome path), not the steps themselves
 * (test/integration/replace-steps.test.ts has those).
 */
import { describe, expect, it } from 'vitest';
import { DetailTypes, Handlers } from '../../lambdas/domain/contract';
import { fail, type Script, useWorkflow } from '../support/workflow-harness';

/** Default behaviour: the instance is in the fleet, a slot is free, surge succeeds at the first check. */
function happyScripts(): Record<string, Script> {
  return {
    ResolveInstance: () => ({
      groupName: 'web-asg',
      imageId: 'ami-00000000000000001',
      desiredCapacity: 4,
      maxSize: 5,
      originalInstanceIds: ['i-0123456789abcdef0', 'i-0123456789abcdef1'],
      budget: 1,
    }),
    TaintInstance: () => ({ tainted: 'health' }),
    AcquireReplacementSlot: () => ({ acquired: true, deferred: false, attempts: 1, inFlight: 1, budget: 1 }),
    ReplaceInstance: (p) => {
      const checks = p['state'].replacement === undefined ? 0 : p['state'].replacement.checks + 1;
      return { mode: 'surge', done: checks >= 1, checks };
    },
    WaitForReplacement: (p) => ({
      ready: true,
      checks: (p['state'].health?.checks ?? 0) + 1,
      replacementInstanceId: 'i-0123456789abcdef9',
    }),
    ReleaseReplacementSlot: (p) => ({ outcome: p['outcome'], released: true }),
  };
}

const wf = useWorkflow('Replace', happyScripts);

const input = {
  fleet: 'web',
  instanceId: 'i-0123456789abcdef0',
  cause: 'health',
  reason: 'EC2 status check failed',
  requestId: 'event-1',
};

const run = (name: string, overrides: Partial<typeof input> = {}) => wf.run(name, { ...input, ...overrides });

const steps = () => wf.calls.map((c) => c.step);
const outcomes = () =>
  wf.calls.filter((c) => c.step === 'ReleaseReplacementSlot').map((c) => c.payload['outcome']);

describe('Replace workflow (synthesized definition)', () => {
  it('surge path: taints, takes a slot, surges, waits for the new instance, checks the group, releases and reports', async () => {
    const result = await run('surge');
    expect(result.status).toBe('SUCCEEDED');
    expect(steps()).toEqual([
      'ResolveInstance',
      'TaintInstance',
      'AcquireReplacementSlot',
      'ReplaceInstance',
      'ReplaceInstance',
      'WaitForReplacement',
      'ReleaseReplacementSlot',
    ]);
    expect(outcomes()).toEqual([DetailTypes.InstanceReplaced]);
    expect(new Set(wf.calls.map((c) => c.handler))).toEqual(new Set([Handlers.replace]));
    expect(wf.calls.every((c) => c.payload['execution'] === 'surge')).toBe(true);
    const last = wf.calls.at(-1)!.payload['state'];
    expect(last.health.replacementInstanceId).toBe('i-0123456789abcdef9');
    expect(last.replacement).toEqual({ mode: 'surge', done: true, checks: 1 });
    // The health checks are bounded (10 min / 15 s).
    expect(wf.calls.find((c) => c.step === 'WaitForReplacement')!.payload['maxChecks']).toBe(40);
  });

  it('terminate path: the old instance goes at once, then the group is checked until it serves', async () => {
    wf.scripts['ReplaceInstance'] = () => ({ mode: 'terminate', done: true, checks: 0 });
    wf.scripts['WaitForReplacement'] = (p, n) => ({
      ready: n === 2,
      checks: (p['state'].health?.checks ?? 0) + 1,
    });
    const result = await run('terminate', { cause: 'interruption' });
    expect(result.status).toBe('SUCCEEDED');
    expect(steps().slice(3)).toEqual([
      'ReplaceInstance',
      'WaitForReplacement',
      'WaitForReplacement',
      'WaitForReplacement',
      'ReleaseReplacementSlot',
    ]);
    expect(outcomes()).toEqual([DetailTypes.InstanceReplaced]);
  });

  it('skips an instance no longer in the fleet, before tainting or taking a slot', async () => {
    wf.scripts['ResolveInstance'] = () => ({ skip: 'instance i-0123456789abcdef0 is already Terminating' });
    const result = await run('skip');
    expect(result.status).toBe('SUCCEEDED');
    expect(steps()).toEqual(['ResolveInstance', 'ReleaseReplacementSlot']);
    expect(outcomes()).toEqual([DetailTypes.ReplacementSkipped]);
  });

  it('skips (slot released by the step) an instance left to the rollout in progress', async () => {
    wf.scripts['AcquireReplacementSlot'] = () => ({
      acquired: false,
      deferred: false,
      attempts: 1,
      skip: 'left to the rollout in progress',
    });
    const result = await run('rollout-in-progress');
    expect(result.status).toBe('SUCCEEDED');
    expect(steps()).toEqual([
      'ResolveInstance',
      'TaintInstance',
      'AcquireReplacementSlot',
      'ReleaseReplacementSlot',
    ]);
    expect(outcomes()).toEqual([DetailTypes.ReplacementSkipped]);
  });

  it('a circuit breaker that opens while it waits for a slot: skipped after tainting, nothing replaced', async () => {
    wf.scripts['AcquireReplacementSlot'] = (p, n) =>
      n === 0
        ? { acquired: false, deferred: true, attempts: 1 }
        : {
            acquired: false,
            deferred: true,
            attempts: (p['state'].slot?.attempts ?? 0) + 1,
            circuitOpen: true,
            skip: 'the circuit breaker of fleet web is open',
          };
    const result = await run('circuit-open');
    expect(result.status).toBe('SUCCEEDED');
    expect(steps()).toEqual([
      'ResolveInstance',
      'TaintInstance',
      'AcquireReplacementSlot',
      'AcquireReplacementSlot',
      'ReleaseReplacementSlot',
    ]);
    expect(outcomes()).toEqual([DetailTypes.ReplacementSkipped]);
  });

  it('deferred, then acquired: waits and asks again, carrying what it reported', async () => {
    wf.scripts['AcquireReplacementSlot'] = (p, n) => ({
      acquired: n === 3,
      deferred: true,
      attempts: (p['state'].slot?.attempts ?? 0) + 1,
    });
    const result = await run('deferred');
    expect(result.status).toBe('SUCCEEDED');
    expect(steps().filter((s) => s === 'AcquireReplacementSlot')).toHaveLength(4);
    // The step sees its previous answer (it reports ReplacementDeferred once).
    const acquires = wf.calls.filter((c) => c.step === 'AcquireReplacementSlot');
    expect(acquires[0]!.payload['state'].slot).toBeUndefined();
    expect(acquires[1]!.payload['state'].slot).toMatchObject({ deferred: true, attempts: 1 });
    expect(steps().indexOf('ReplaceInstance')).toBeGreaterThan(steps().lastIndexOf('AcquireReplacementSlot'));
    expect(outcomes()).toEqual([DetailTypes.InstanceReplaced]);
  });

  it('on a failure: releases the slot and reports ReplacementFailed naming the step, and the execution fails', async () => {
    wf.scripts['ReplaceInstance'] = () => {
      throw fail('ReplacementNotHealthyError', 'after 40 checks, no new instance is InService and healthy');
    };
    const result = await run('failed');
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('ReplacementFailed');
    expect(result.cause).toContain('no new instance');
    expect(steps()).toEqual([
      'ResolveInstance',
      'TaintInstance',
      'AcquireReplacementSlot',
      'ReplaceInstance',
      'ReleaseReplacementSlot',
    ]);
    expect(outcomes()).toEqual([DetailTypes.ReplacementFailed]);
    const state = wf.calls.at(-1)!.payload['state'];
    expect(state.failedStep).toBe('ReplaceInstance');
    expect(state.error.Error).toBe('ReplacementNotHealthyError');
  });

  it('retries a transient error (then goes on), and gives up after the retries', async () => {
    wf.scripts['TaintInstance'] = (_p, n) => {
      if (n === 0) throw fail('TransientAwsError', 'CreateTags: RequestLimitExceeded');
      return { tainted: 'health' };
    };
    expect((await run('transient')).status).toBe('SUCCEEDED');
    expect(steps().filter((s) => s === 'TaintInstance')).toHaveLength(2);

    wf.calls = [];
    wf.scripts['WaitForReplacement'] = () => {
      throw fail('TransientAwsError', 'DescribeAutoScalingGroups: ServiceUnavailable');
    };
    const result = await run('exhausted');
    expect(result.error).toBe('ReplacementFailed');
    expect(steps().filter((s) => s === 'WaitForReplacement')).toHaveLength(5);
    expect(outcomes()).toEqual([DetailTypes.ReplacementFailed]);
  });
});
