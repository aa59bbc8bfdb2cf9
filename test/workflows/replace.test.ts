/**
 * The Replace state machine as synthesized by the CDK app, executed locally (aws-local-stepfunctions
 * through the local Step Functions service), its Lambda tasks bound to scripted step doubles: the
 * definition's routing (order of steps, waits, Retry, Catch, outcome path), not the steps themselves
 * (test/integration/replace-steps.test.ts has those).
 */
import { describe, expect, it } from 'vitest';
import { DetailTypes, Handlers } from '../../lambdas/domain/contract';
import { fail, type Scripts, useWorkflow } from '../support/workflow-harness';

/**
 * Default behaviour: the instance is in the fleet, a slot is free, surge succeeds at the first
 * check; the drain finds one target group (delay 30 s) and no flush document.
 */
function happyScripts(): Scripts {
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
      return checks >= 1
        ? { mode: 'surge', done: false, retire: true, checks }
        : { mode: 'surge', done: false, checks };
    },
    DeregisterInstance: () => ({
      deregisteredFrom: [
        'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef',
      ],
      delaySeconds: 30,
      deregistrationDelaySeconds: 30,
      flush: { status: 'None' },
    }),
    StartFlush: (p) => ({ ...p['state'].drain.flush, status: 'Running', commandId: 'c-1', polls: 0 }),
    CheckFlush: (p) => ({ ...p['state'].drain.flush, status: 'Success', polls: 1 }),
    RetireInstance: (p) => ({
      mode: p['state'].replacement.mode,
      done: true,
      checks: p['state'].replacement.checks,
    }),
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

/** A handled skip: the execution SUCCEEDED with exactly one report, ReplacementSkipped (slot released). */
function expectSkipped(result: { status?: string }): void {
  expect(result.status).toBe('SUCCEEDED');
  expect(outcomes()).toEqual([DetailTypes.ReplacementSkipped]);
}

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
      'DeregisterInstance',
      'RetireInstance',
      'WaitForReplacement',
      'ReleaseReplacementSlot',
    ]);
    expect(outcomes()).toEqual([DetailTypes.InstanceReplaced]);
    // The drain steps are the drain function's, the rest the replace function's.
    expect(wf.calls.filter((c) => c.handler === Handlers.drain).map((c) => c.step)).toEqual([
      'DeregisterInstance',
    ]);
    expect(new Set(wf.calls.map((c) => c.handler))).toEqual(new Set([Handlers.replace, Handlers.drain]));
    expect(wf.calls.every((c) => c.payload['execution'] === 'surge')).toBe(true);
    const last = wf.calls.at(-1)!.payload['state'];
    expect(last.health.replacementInstanceId).toBe('i-0123456789abcdef9');
    expect(last.replacement).toEqual({ mode: 'surge', done: true, checks: 1 });
    expect(last.drain.deregisteredFrom).toHaveLength(1);
    // The health checks are bounded (10 min / 15 s).
    expect(wf.calls.find((c) => c.step === 'WaitForReplacement')!.payload['maxChecks']).toBe(40);
  });

  it('paces the surge: WaitForNewInstance waits what ReplaceInstance asked for; a result without a pace waits one poll interval', async () => {
    // Not yet serving twice: the first time with its pace, the second without; then it may go.
    wf.scripts['ReplaceInstance'] = (p, n) => {
      const checks = (p['state'].replacement?.checks ?? -1) + 1;
      if (n === 0) return { mode: 'surge', done: false, checks, baseline: 2 };
      if (n === 1)
        return { mode: 'surge', done: false, checks, baseline: 2, nextCheckSeconds: 5, fastChecks: 1 };
      if (n === 2) return { mode: 'surge', done: false, checks, baseline: 2 };
      if (n === 3) return { mode: 'surge', done: false, retire: true, checks, baseline: 2 };
      return { mode: 'surge', done: true, checks };
    };
    const result = await run('paced');
    expect(result.status).toBe('SUCCEEDED');
    const waits = result.events
      .filter((e) => e.type.endsWith('StateEntered'))
      .map((e) => (e['stateEnteredEventDetails'] as { name?: string }).name ?? '')
      .filter((name) => name.startsWith('WaitForNewInstance'));
    expect(waits).toEqual(['WaitForNewInstanceInterval', 'WaitForNewInstance', 'WaitForNewInstanceInterval']);
    const replace = wf.calls.find((c) => c.step === 'ReplaceInstance')!;
    expect(replace.payload['pacing']).toStrictEqual({ pollSeconds: 15, fastChecks: 10 });
  });

  it('terminate path: the old instance goes at once, then the group is checked until it serves', async () => {
    wf.scripts['ReplaceInstance'] = () => ({ mode: 'terminate', done: false, retire: true, checks: 0 });
    wf.scripts['WaitForReplacement'] = (p, n) => ({
      ready: n === 2,
      checks: (p['state'].health?.checks ?? 0) + 1,
    });
    const result = await run('terminate', { cause: 'interruption' });
    expect(result.status).toBe('SUCCEEDED');
    expect(steps().slice(3)).toEqual([
      'ReplaceInstance',
      'DeregisterInstance',
      'RetireInstance',
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
    expectSkipped(result);
    expect(steps()).toEqual(['ResolveInstance', 'ReleaseReplacementSlot']);
  });

  it('skips (slot released by the step) an instance left to the rollout in progress', async () => {
    wf.scripts['AcquireReplacementSlot'] = () => ({
      acquired: false,
      deferred: false,
      attempts: 1,
      skip: 'left to the rollout in progress',
    });
    const result = await run('rollout-in-progress');
    expectSkipped(result);
    expect(steps()).toEqual([
      'ResolveInstance',
      'TaintInstance',
      'AcquireReplacementSlot',
      'ReleaseReplacementSlot',
    ]);
  });

  it('skips when the group is gone at ReplaceInstance (a rollout retired it): the slot released, nothing replaced, the execution succeeds', async () => {
    wf.scripts['ReplaceInstance'] = () => ({
      mode: 'terminate',
      done: false,
      checks: 0,
      skip: 'Auto Scaling group web-asg no longer exists',
    });
    const result = await run('group-gone');
    expectSkipped(result);
    expect(steps()).toEqual([
      'ResolveInstance',
      'TaintInstance',
      'AcquireReplacementSlot',
      'ReplaceInstance',
      'ReleaseReplacementSlot',
    ]);
  });

  it('skips when the group is gone while it waits for the group to serve', async () => {
    wf.scripts['ReplaceInstance'] = () => ({ mode: 'terminate', done: true, checks: 0 });
    wf.scripts['WaitForReplacement'] = (_p, n) =>
      n === 0
        ? { ready: false, checks: 1 }
        : { ready: false, checks: 2, skip: 'Auto Scaling group web-asg no longer exists' };
    const result = await run('group-gone-later');
    expectSkipped(result);
    expect(steps().slice(-3)).toEqual(['WaitForReplacement', 'WaitForReplacement', 'ReleaseReplacementSlot']);
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
    expectSkipped(result);
    expect(steps()).toEqual([
      'ResolveInstance',
      'TaintInstance',
      'AcquireReplacementSlot',
      'AcquireReplacementSlot',
      'ReleaseReplacementSlot',
    ]);
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

describe('Replace workflow: drain before the old instance goes', () => {
  const entered = (name: string, events: readonly Record<string, unknown>[]) =>
    events
      .filter((e) => String(e['type']).endsWith('StateEntered'))
      .map((e) => e['stateEnteredEventDetails'] as { name: string; input: string })
      .filter((d) => d.name === name)
      .map((d) => JSON.parse(d.input) as Record<string, any>);

  it('waits the deregistration delay the step found (SecondsPath), then retires the instance', async () => {
    const result = await run('drain-delay');
    expect(result.status).toBe('SUCCEEDED');
    const waits = entered('WaitForDeregistration', result.events);
    expect(waits).toHaveLength(1);
    expect(waits[0]!['drain'].delaySeconds).toBe(30);
    const machine = wf.model.stateMachines.find((m) => m.logicalId.includes('Replace'))!;
    const states = (JSON.parse(machine.definitionString) as { States: Record<string, any> }).States;
    expect(states['WaitForDeregistration']).toMatchObject({
      Type: 'Wait',
      SecondsPath: '$.drain.delaySeconds',
    });
    // Retired only after the drain; InstanceReplaced carries what the drain did.
    expect(steps().indexOf('RetireInstance')).toBeGreaterThan(steps().indexOf('DeregisterInstance'));
    const report = wf.calls.find((c) => c.step === 'ReleaseReplacementSlot')!.payload['state'];
    expect(report.drain).toMatchObject({ delaySeconds: 30, flush: { status: 'None' } });
  });

  it('runs the flush and polls it until it ends, then retires', async () => {
    wf.scripts['DeregisterInstance'] = () => ({
      deregisteredFrom: [],
      delaySeconds: 0,
      flush: { status: 'Pending', document: 'flush-logs', timeoutSeconds: 120, polls: 0 },
    });
    wf.scripts['CheckFlush'] = (p, n) => ({
      ...p['state'].drain.flush,
      status: n < 2 ? 'Running' : 'Success',
      polls: n + 1,
    });
    const result = await run('drain-flush');
    expect(result.status).toBe('SUCCEEDED');
    expect(steps().slice(5, 11)).toEqual([
      'DeregisterInstance',
      'StartFlush',
      'CheckFlush',
      'CheckFlush',
      'CheckFlush',
      'RetireInstance',
    ]);
    expect(wf.calls.find((c) => c.step === 'CheckFlush')!.payload['pollSeconds']).toBe(5);
    const report = wf.calls.find((c) => c.step === 'ReleaseReplacementSlot')!.payload['state'];
    expect(report.drain.flush).toMatchObject({ status: 'Success', commandId: 'c-1' });
    expect(outcomes()).toEqual([DetailTypes.InstanceReplaced]);
  });

  it('a flush that fails (the step itself fails) still replaces the instance, and says so', async () => {
    wf.scripts['DeregisterInstance'] = () => ({
      deregisteredFrom: [],
      delaySeconds: 0,
      flush: { status: 'Pending', document: 'flush-logs', timeoutSeconds: 120, polls: 0 },
    });
    wf.scripts['StartFlush'] = () => {
      throw fail('AccessDeniedException', 'not authorized to perform ssm:SendCommand');
    };
    const result = await run('drain-flush-fails');
    expect(result.status).toBe('SUCCEEDED');
    expect(steps()).toContain('RetireInstance');
    expect(steps()).not.toContain('CheckFlush');
    expect(outcomes()).toEqual([DetailTypes.InstanceReplaced]);
    const report = wf.calls.find((c) => c.step === 'ReleaseReplacementSlot')!.payload['state'];
    expect(report.drain.flush.status).toBe('Failed');
    expect(report.drain.flush.reason).toContain('ssm:SendCommand');
  });

  it('a flush that times out (CheckFlush says so) still replaces the instance', async () => {
    wf.scripts['DeregisterInstance'] = () => ({
      deregisteredFrom: [],
      delaySeconds: 0,
      flush: { status: 'Pending', document: 'flush-logs', timeoutSeconds: 30, polls: 0 },
    });
    wf.scripts['CheckFlush'] = (p, n) => ({
      ...p['state'].drain.flush,
      status: n < 5 ? 'Running' : 'TimedOut',
      polls: n + 1,
    });
    const result = await run('drain-flush-timeout');
    expect(result.status).toBe('SUCCEEDED');
    expect(steps().filter((s) => s === 'CheckFlush')).toHaveLength(6);
    const report = wf.calls.find((c) => c.step === 'ReleaseReplacementSlot')!.payload['state'];
    expect(report.drain.flush.status).toBe('TimedOut');
  });

  it('a deregistration that fails terminally fails the replacement, and the instance is not terminated', async () => {
    wf.scripts['DeregisterInstance'] = () => {
      throw fail('AccessDenied', 'not authorized to perform elasticloadbalancing:DeregisterTargets');
    };
    const result = await run('drain-deregister-fails');
    expect(result.status).toBe('FAILED');
    expect(steps()).not.toContain('RetireInstance');
    expect(outcomes()).toEqual([DetailTypes.ReplacementFailed]);
    expect(wf.calls.at(-1)!.payload['state'].failedStep).toBe('DeregisterInstance');
  });
});
