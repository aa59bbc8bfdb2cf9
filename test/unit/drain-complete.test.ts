/**
 * Completing the termination lifecycle action (CompleteLifecycleAction, CONTINUE): the emulator
 * (moto 5.2.5) does not implement it, so its answers are mocked with aws-sdk-client-mock: success,
 * a token that is no longer valid (already completed, or timed out), throttling (a TransientAwsError
 * the workflow retries), and any other error passed on. The step reports InstanceDrained.
 */
import {
  AutoScalingClient,
  AutoScalingServiceException,
  CompleteLifecycleActionCommand,
} from '@aws-sdk/client-auto-scaling';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DetailTypes, DRAIN_HOOK_NAME, Env } from '../../lambdas/domain/contract';
import { TransientAwsError } from '../../lambdas/domain/errors';
import { completeLifecycleAction } from '../../lambdas/aws/drain';
import { runDrainStep } from '../../lambdas/steps/drain';

const autoScaling = mockClient(AutoScalingClient);
const events = mockClient(EventBridgeClient);

const serviceError = (name: string, message: string, status: number) =>
  new AutoScalingServiceException({
    name,
    message,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
  });

const action = {
  groupName: 'my-asg',
  hookName: DRAIN_HOOK_NAME,
  instanceId: 'i-1234567890abcdef0',
  token: '87654321-4321-4321-4321-210987654321',
};

beforeEach(() => {
  autoScaling.reset();
  events.reset();
  events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
  process.env[Env.eventBusName] = 'phoenix';
  process.env['AWS_REGION'] ??= 'us-east-1';
});

afterEach(() => {
  autoScaling.reset();
  events.reset();
});

describe('CompleteLifecycleAction', () => {
  it('completes with CONTINUE and the action token', async () => {
    autoScaling.on(CompleteLifecycleActionCommand).resolves({});
    expect(await completeLifecycleAction(action)).toBe('completed');
    const calls = autoScaling.commandCalls(CompleteLifecycleActionCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args[0].input).toEqual({
      AutoScalingGroupName: 'my-asg',
      LifecycleHookName: DRAIN_HOOK_NAME,
      InstanceId: 'i-1234567890abcdef0',
      LifecycleActionToken: action.token,
      LifecycleActionResult: 'CONTINUE',
    });
  });

  it('a token no longer valid (completed already, or the heartbeat ran out) counts as completed', async () => {
    autoScaling
      .on(CompleteLifecycleActionCommand)
      .rejects(
        serviceError('ValidationError', `No active Lifecycle Action found with token ${action.token}`, 400),
      );
    expect(await completeLifecycleAction(action)).toBe('already-completed');
  });

  it('throttling becomes a TransientAwsError (the workflow retries), and the retry completes', async () => {
    autoScaling
      .on(CompleteLifecycleActionCommand)
      .rejectsOnce(serviceError('Throttling', 'Rate exceeded', 400))
      .resolves({});
    await expect(completeLifecycleAction(action)).rejects.toBeInstanceOf(TransientAwsError);
    expect(await completeLifecycleAction(action)).toBe('completed');
    expect(autoScaling.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(2);
  });

  it('any other error is passed on (the workflow reports DrainFailed)', async () => {
    autoScaling
      .on(CompleteLifecycleActionCommand)
      .rejects(
        serviceError('AccessDenied', 'not authorized to perform autoscaling:CompleteLifecycleAction', 403),
      );
    await expect(completeLifecycleAction(action)).rejects.toMatchObject({ name: 'AccessDenied' });
  });

  it('the step completes the action whatever the flush did, and reports InstanceDrained with the flush', async () => {
    autoScaling.on(CompleteLifecycleActionCommand).resolves({});
    const result = await runDrainStep({
      step: 'CompleteLifecycleAction',
      execution: 'i-1234567890abcdef0--87654321',
      state: {
        ...action,
        requestId: 'evt-1',
        drain: {
          fleet: 'web',
          deregisteredFrom: [],
          delaySeconds: 0,
          flush: { status: 'Failed', reason: 'SendCommand flush-logs: InvalidDocument' },
        },
      },
    });
    expect(result).toEqual({ lifecycleAction: 'completed' });
    const put = events.commandCalls(PutEventsCommand);
    expect(put).toHaveLength(1);
    const entry = put[0]!.args[0].input.Entries![0]!;
    expect(entry.DetailType).toBe(DetailTypes.InstanceDrained);
    expect(JSON.parse(entry.Detail!)).toMatchObject({
      fleet: 'web',
      groupName: 'my-asg',
      instanceId: 'i-1234567890abcdef0',
      flush: { status: 'Failed', reason: 'SendCommand flush-logs: InvalidDocument' },
      lifecycleAction: 'completed',
      eventId: 'evt-1',
    });
  });
});
