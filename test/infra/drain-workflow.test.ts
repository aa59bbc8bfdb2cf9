/**
 * The Drain state machine (termination lifecycle hook) and its rule, as synthesized.
 */
import aslValidator from 'asl-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DRAIN_HOOK_NAME } from '../../lambdas/domain/contract';
import { DrainSteps, TRANSIENT_ERRORS } from '../../lambdas/domain/steps';
import { allStates, renderDefinition, unsupportedLocally } from './asl';
import { synthPhoenix, type Json, type SynthesizedPhoenix } from './support';

let phoenix: SynthesizedPhoenix;
let stateMachine: Record<string, Json>;
let definition: Json;

beforeAll(() => {
  phoenix = synthPhoenix();
  stateMachine =
    phoenix.resources[phoenix.logicalId(phoenix.stack.controlPlane.drainWorkflow.stateMachine)]!.Properties!;
  definition = renderDefinition(stateMachine.DefinitionString, phoenix.resources);
});
afterAll(() => phoenix.dispose());

const tasks = () => allStates(definition).filter(({ state }) => state.Type === 'Task');

describe('Drain state machine', () => {
  it('is a Standard workflow (logs ALL, traced) whose timeout is above the longest hook heartbeat', () => {
    expect(stateMachine.StateMachineType).toBe('STANDARD');
    expect(stateMachine.LoggingConfiguration).toMatchObject({ Level: 'ALL', IncludeExecutionData: true });
    expect(stateMachine.TracingConfiguration).toStrictEqual({ Enabled: true });
    expect(definition.TimeoutSeconds).toBe(7200);
    expect(phoenix.stack.controlPlane.drainWorkflow.alarms).toHaveLength(4);
  });

  it('has a definition that asl-validator accepts, in JSONPath only', () => {
    const result = aslValidator(definition, { checkPaths: true, checkArn: true });
    expect(result.errorsText('\n')).toBe('');
    expect(unsupportedLocally(definition)).toEqual([]);
  });

  it('runs every drain step of the hook from the drain function, retrying transient errors', () => {
    const fn = `arn:aws:lambda:us-east-1:123456789012:function:${phoenix.logicalId(phoenix.stack.controlPlane.drainFunction)}`;
    const steps = new Set<string>();
    for (const { path, state } of tasks()) {
      expect(state.Resource, path).toBe(fn);
      const retried = (state.Retry ?? []).flatMap((r: { ErrorEquals: string[] }) => r.ErrorEquals);
      expect(retried, `${path} Retry`).toEqual(expect.arrayContaining([...TRANSIENT_ERRORS]));
      steps.add(state.Parameters.step);
    }
    expect([...steps].sort()).toEqual(
      Object.values(DrainSteps)
        .filter((s) => s !== DrainSteps.DeregisterInstance)
        .sort(),
    );
  });

  it('completes the lifecycle action on every path before the end', () => {
    const states = definition.States as Record<string, Json>;
    for (const name of ['ResolveFailed', 'FlushFailed'])
      expect(states[name]!.Next).toBe('CompleteLifecycleAction');
    expect(states['FlushToRun?']!.Default).toBe('CompleteLifecycleAction');
    expect(states['FlushRunning?']!.Default).toBe('CompleteLifecycleAction');
    expect(states['CompleteLifecycleAction']!.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'ReportDrainFailed' },
    ]);
  });

  it("is started by one rule on the default bus: Auto Scaling's terminate lifecycle action of phoenix-drain", () => {
    const rule = phoenix.resources[phoenix.logicalId(phoenix.stack.controlPlane.rules['DrainHookRule']!)]!;
    expect(rule.Properties!.EventPattern).toStrictEqual({
      source: ['aws.autoscaling'],
      'detail-type': ['EC2 Instance-terminate Lifecycle Action'],
      detail: { LifecycleHookName: [DRAIN_HOOK_NAME] },
    });
    expect(rule.Properties!.EventBusName).toBeUndefined();
  });
});
