import aslValidator from 'asl-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRANSIENT_ERRORS } from '../../lambdas/domain/steps';
import { allStates, renderDefinition, unsupportedLocally } from './asl';
import { synthPhoenix, type Json, type SynthesizedPhoenix } from './support';

let phoenix: SynthesizedPhoenix;
let stateMachine: Record<string, Json>;
let definition: Json;

beforeAll(() => {
  phoenix = synthPhoenix();
  stateMachine =
    phoenix.resources[phoenix.logicalId(phoenix.stack.controlPlane.rolloutWorkflow.stateMachine)]!
      .Properties!;
  definition = renderDefinition(stateMachine.DefinitionString, phoenix.resources);
});
afterAll(() => phoenix.dispose());

describe('Rollout state machine', () => {
  it('is a Standard workflow that logs ALL to its own log group and traces', () => {
    const logGroupId = phoenix.logicalId(phoenix.stack.controlPlane.rolloutWorkflow.logGroup);
    expect(stateMachine.StateMachineType).toBe('STANDARD');
    expect(stateMachine.LoggingConfiguration).toMatchObject({
      Level: 'ALL',
      Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [logGroupId, 'Arn'] } } }],
    });
    expect(stateMachine.TracingConfiguration).toStrictEqual({ Enabled: true });
  });

  it('has a definition that asl-validator accepts', () => {
    const result = aslValidator(definition, { checkPaths: true, checkArn: true });
    expect(result.errorsText('\n')).toBe('');
    expect(result.isValid).toBe(true);
  });

  it('uses JSONPath only: no JSONata, no Assign, no Arguments/Output anywhere', () => {
    expect(unsupportedLocally(definition)).toEqual([]);
  });

  it('retries transient errors and catches everything else in every Task state', () => {
    const tasks = allStates(definition).filter(({ state }) => state.Type === 'Task');
    expect(tasks.length).toBeGreaterThan(0);
    for (const { path, state } of tasks) {
      const retried = (state.Retry ?? []).flatMap((r: { ErrorEquals: string[] }) => r.ErrorEquals);
      expect(retried, `${path} Retry`).toEqual(expect.arrayContaining([...TRANSIENT_ERRORS]));
      expect(state.Catch ?? [], `${path} Catch`).not.toHaveLength(0);
    }
  });

  it('invokes only the rollout functions', () => {
    const cp = phoenix.stack.controlPlane;
    const allowed = [cp.rolloutFleetFunction, cp.rolloutRecordFunction].map(
      (fn) => `arn:aws:lambda:us-east-1:123456789012:function:${phoenix.logicalId(fn)}`,
    );
    for (const { path, state } of allStates(definition).filter(({ state }) => state.Type === 'Task')) {
      // A direct function ARN (payloadResponseOnly) or the lambda:invoke integration naming one.
      const invoked =
        state.Resource === 'arn:aws:states:::lambda:invoke' ? state.Parameters?.FunctionName : state.Resource;
      expect(allowed, path).toContain(invoked);
    }
  });
});

describe('every state machine of the template', () => {
  it('uses JSONPath only (aws-local-stepfunctions would silently ignore JSONata and Assign)', () => {
    const machines = Object.entries(phoenix.resources).filter(
      ([, r]) => r.Type === 'AWS::StepFunctions::StateMachine',
    );
    // Rollout and Replace at least: a new workflow is covered without changing this test.
    expect(machines.length).toBeGreaterThanOrEqual(2);
    for (const [id, machine] of machines) {
      const rendered = renderDefinition(machine.Properties!.DefinitionString, phoenix.resources);
      expect(unsupportedLocally(rendered), id).toEqual([]);
      expect(aslValidator(rendered, { checkPaths: true, checkArn: true }).errorsText('\n'), id).toBe('');
    }
  });
});

describe('the JSONPath-only check', () => {
  // The check must be able to fail: these are what aws-local-stepfunctions would silently ignore.
  const base = () => ({
    StartAt: 'Fan',
    States: {
      Fan: {
        Type: 'Map',
        ItemProcessor: { StartAt: 'Inner', States: { Inner: { Type: 'Pass', End: true } } },
        End: true,
      },
    },
  });

  it('rejects Assign in a nested state', () => {
    const d: Json = base();
    d.States.Fan.ItemProcessor.States.Inner.Assign = { x: 1 };
    expect(unsupportedLocally(d)).toEqual(['$.States.Fan.ItemProcessor.States.Inner.Assign']);
  });

  it('rejects a JSONata query language, top level or per state', () => {
    const top: Json = { ...base(), QueryLanguage: 'JSONata' };
    expect(unsupportedLocally(top)).toEqual(['$.QueryLanguage = JSONata']);
    const state: Json = base();
    state.States.Fan.QueryLanguage = 'JSONata';
    expect(unsupportedLocally(state)).toEqual(['$.States.Fan.QueryLanguage = JSONata']);
  });

  it('rejects the JSONata fields Arguments and Output', () => {
    const d: Json = base();
    d.States.Fan.ItemProcessor.States.Inner.Output = '{% $states.input %}';
    d.States.Fan.Arguments = {};
    expect(unsupportedLocally(d)).toEqual([
      '$.States.Fan.Arguments (JSONata field)',
      '$.States.Fan.ItemProcessor.States.Inner.Output (JSONata field)',
    ]);
  });

  it('accepts plain JSONPath', () => {
    expect(unsupportedLocally({ ...base(), QueryLanguage: 'JSONPath' })).toEqual([]);
  });
});
