/**
 * The intake of a termination lifecycle action of Phoenix's hook, against the emulator and the
 * local Step Functions service: the real published sample (hook name set to phoenix-drain) starts
 * one Drain execution named after the instance and the token, once.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { DRAIN_HOOK_NAME } from '../../lambdas/domain/contract';
import { runIntake } from '../../lambdas/steps/intake';
import { LocalStepFunctions } from '../../local/stepfunctions';
import { freshWorld, notRunHere } from '../support/control-plane';
import { awsEvent, derive } from '../support/fixtures';

let service: LocalStepFunctions;
let drainStateMachineArn: string;

beforeAll(async () => {
  // Executions start but their tasks are not run here: the workflow has tests of its own.
  const fx = await freshWorld({ outcomes: false, tasks: notRunHere });
  service = fx.service;
  drainStateMachineArn = fx.stateMachineArn('Drain');
  return fx.stop;
});

describe('intake: termination lifecycle action of phoenix-drain', () => {
  it('starts one Drain execution with the action, and a redelivery starts nothing', async () => {
    const event = derive(awsEvent('aws.autoscaling', 'terminate-lifecycle-action'), {
      LifecycleHookName: DRAIN_HOOK_NAME,
    });
    const first = await runIntake(event);
    expect(first).toMatchObject({
      intent: 'drain',
      drain: {
        instanceId: 'i-1234567890abcdef0',
        execution: 'i-1234567890abcdef0--87654321-4321-4321-4321-210987654321',
        duplicate: false,
      },
    });
    const executions = service.listExecutions({ stateMachineArn: drainStateMachineArn });
    expect(executions).toHaveLength(1);
    expect(JSON.parse(executions[0]!.input)).toEqual({
      instanceId: 'i-1234567890abcdef0',
      groupName: 'my-asg',
      hookName: DRAIN_HOOK_NAME,
      token: '87654321-4321-4321-4321-210987654321',
      requestId: '12345678-1234-1234-1234-123456789012',
    });
    // The same event again: handled once.
    expect((await runIntake(event)).duplicateEvent).toBe(true);
    // Another event id for the same action (EventBridge redelivers with the same id, but be safe): same execution.
    const again = await runIntake({ ...event, id: '22345678-1234-1234-1234-123456789012' });
    expect(again.drain?.duplicate).toBe(true);
    expect(service.listExecutions({ stateMachineArn: drainStateMachineArn })).toHaveLength(1);
  });

  it("leaves another hook's action alone (the sample as published)", async () => {
    const result = await runIntake(awsEvent('aws.autoscaling', 'terminate-lifecycle-action'));
    expect(result.intent).toBe('ignore');
  });
});
