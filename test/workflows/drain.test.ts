/**
 * The Drain state machine (termination lifecycle hook `phoenix-drain`) as synthesized by the CDK
 * app, executed locally with its Lambda tasks bound to scripted step doubles: the routing (flush,
 * polls, the lifecycle action completed whatever the flush did, DrainFailed when it cannot be).
 */
import { describe, expect, it } from 'vitest';
import { Handlers } from '../../lambdas/domain/contract';
import { fail, type Scripts, useWorkflow } from '../support/workflow-harness';

function scripts(): Scripts {
  return {
    ResolveLifecycleAction: () => ({
      deregisteredFrom: [],
      delaySeconds: 0,
      fleet: 'web',
      drained: false,
      flush: { status: 'Pending', document: 'flush-logs', timeoutSeconds: 120, polls: 0 },
    }),
    StartFlush: (p) => ({ ...p['state'].drain.flush, status: 'Running', commandId: 'c-1', polls: 0 }),
    CheckFlush: (p, n) => ({
      ...p['state'].drain.flush,
      status: n === 0 ? 'Running' : 'Success',
      polls: n + 1,
    }),
    CompleteLifecycleAction: () => ({ lifecycleAction: 'completed' }),
    ReportDrainFailed: () => ({ reported: true }),
  };
}

const wf = useWorkflow('Drain', scripts);

const input = {
  instanceId: 'i-1234567890abcdef0',
  groupName: 'my-asg',
  hookName: 'phoenix-drain',
  token: '87654321-4321-4321-4321-210987654321',
  requestId: '12345678-1234-1234-1234-123456789012',
};
const run = (name: string) => wf.run(name, input);
const steps = () => wf.calls.map((c) => c.step);
const completion = () => wf.calls.find((c) => c.step === 'CompleteLifecycleAction')?.payload['state'];

describe('Drain workflow (synthesized definition)', () => {
  it('runs the flush, polls it until it ends, then completes the lifecycle action', async () => {
    const result = await run('flush');
    expect(result.status).toBe('SUCCEEDED');
    expect(steps()).toEqual([
      'ResolveLifecycleAction',
      'StartFlush',
      'CheckFlush',
      'CheckFlush',
      'CompleteLifecycleAction',
    ]);
    expect(new Set(wf.calls.map((c) => c.handler))).toEqual(new Set([Handlers.drain]));
    expect(completion()).toMatchObject({ token: input.token, drain: { flush: { status: 'Success' } } });
  });

  it('an instance Phoenix drained itself: completes at once, no flush', async () => {
    wf.scripts['ResolveLifecycleAction'] = () => ({
      deregisteredFrom: [],
      delaySeconds: 0,
      drained: true,
      flush: { status: 'Skipped', reason: 'Phoenix drained the instance itself' },
    });
    const result = await run('drained');
    expect(result.status).toBe('SUCCEEDED');
    expect(steps()).toEqual(['ResolveLifecycleAction', 'CompleteLifecycleAction']);
  });

  it('completes the action even when the flush cannot be sent', async () => {
    wf.scripts['StartFlush'] = () => {
      throw fail('AccessDeniedException', 'not authorized to perform ssm:SendCommand');
    };
    const result = await run('flush-fails');
    expect(result.status).toBe('SUCCEEDED');
    expect(steps()).toEqual(['ResolveLifecycleAction', 'StartFlush', 'CompleteLifecycleAction']);
    expect(completion().drain.flush).toMatchObject({ status: 'Failed' });
  });

  it('completes the action even when resolving it fails', async () => {
    wf.scripts['ResolveLifecycleAction'] = () => {
      throw fail('AccessDenied', 'not authorized to perform ec2:DescribeInstances');
    };
    const result = await run('resolve-fails');
    expect(result.status).toBe('SUCCEEDED');
    expect(steps()).toEqual(['ResolveLifecycleAction', 'CompleteLifecycleAction']);
    expect(completion().drain.flush.status).toBe('Failed');
  });

  it('retries a throttled completion, and reports DrainFailed (execution fails) when it cannot complete', async () => {
    wf.scripts['CompleteLifecycleAction'] = (_p, n) => {
      if (n === 0) throw fail('TransientAwsError', 'CompleteLifecycleAction: Throttling: Rate exceeded');
      return { lifecycleAction: 'completed' };
    };
    expect((await run('throttled')).status).toBe('SUCCEEDED');
    expect(steps().filter((s) => s === 'CompleteLifecycleAction')).toHaveLength(2);

    wf.calls = [];
    wf.scripts['CompleteLifecycleAction'] = () => {
      throw fail('AccessDenied', 'not authorized to perform autoscaling:CompleteLifecycleAction');
    };
    const result = await run('cannot-complete');
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('DrainFailed');
    expect(steps().at(-1)).toBe('ReportDrainFailed');
    expect(wf.calls.at(-1)!.payload['state'].error.Error).toBe('AccessDenied');
  });
});
