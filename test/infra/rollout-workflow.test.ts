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
    const tasks = allStates(definition).filter(({ state }) => state.Type === 'Task');
    for (const { path, state } of tasks.filter(
      ({ state }) => !String(state.Resource).includes(':states:::states:'),
    )) {
      // A direct function ARN (payloadResponseOnly) or the lambda:invoke integration naming one
      // (request-response, or the callback pattern: WaitForRolloutSlot).
      const invoked = /^arn:aws:states:::lambda:invoke(\.waitForTaskToken)?$/.test(String(state.Resource))
        ? state.Parameters?.FunctionName
        : state.Resource;
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

describe('Rollout state machine: timeout, continue-as-new', () => {
  it('times out only after the rollout timeout plus the rollback allowance, and the lock covers the whole execution', () => {
    const workflow = phoenix.stack.controlPlane.rolloutWorkflow;
    // 2 h + batchHealthTimeout (10 min) + pollInterval (15 s) + 10 min for the rollback's steps.
    expect(definition.TimeoutSeconds).toBe(7200 + 600 + 15 + 600);
    expect(workflow.executionTimeout.toSeconds()).toBe(definition.TimeoutSeconds);
    // A direct function ARN (payloadResponseOnly): Parameters is the payload.
    const lock = definition.States.AcquireFleetLock.Parameters;
    expect(lock.lockSeconds).toBe(definition.TimeoutSeconds);
    expect(lock.timeoutSeconds).toBe(7200);
    expect(lock['startedAt.$']).toBe('$$.Execution.StartTime');
    expect(definition.States.TakeOverFleetLock.Parameters.lockSeconds).toBe(definition.TimeoutSeconds);
  });

  it('continues as a new execution of itself (startExecution, not .sync) where the history budget says so', () => {
    const workflow = phoenix.stack.controlPlane.rolloutWorkflow;
    const task = definition.States.ContinueAsNew;
    expect(task.Type).toBe('Task');
    expect(task.Resource).toBe('arn:aws:states:::states:startExecution');
    expect(task.Parameters).toStrictEqual({
      'StateMachineArn.$': '$$.StateMachine.Id',
      'Name.$': '$.safePoint.continuation.name',
      'Input.$': '$',
    });
    // The costs of the definition's states, as AWS counts history events (Task 5, callback Task 6,
    // others 2), with 40 checks per batch (10 min / 15 s) and 60 + 1 lock waits (2 h / 120 s, and
    // the one woken), each AcquireFleetLock + WaitForRolloutSlot: passed to CheckSafePoint. A
    // batch may take MAX_FAST_CHECKS (10) fast checks on top of its 40 (the budget has room).
    expect(workflow.historyBudget).toStrictEqual({
      budget: 2000,
      firstStart: 709,
      continuationStart: 9,
      perBatch: 28,
      perCheck: 9,
      maxChecks: 50,
      worstEnd: 384,
    });
    // CheckBatchHealth paces the batch: WaitForHealthyBatch waits what it asked for, and a result
    // without its pace waits one poll interval.
    expect(definition.States.CheckBatchHealth.Parameters.pacing).toStrictEqual({
      pollSeconds: 15,
      fastChecks: 10,
    });
    expect(definition.States.WaitForHealthyBatch).toMatchObject({
      SecondsPath: '$.progress.nextCheckSeconds',
    });
    expect(definition.States.WaitForHealthyBatchInterval).toMatchObject({
      Seconds: 15,
      Next: 'CheckBatchHealth',
    });
    expect(definition.States['BatchHealthy?'].Choices[1]).toStrictEqual({
      Not: { Variable: '$.progress.nextCheckSeconds', IsPresent: true },
      Next: 'WaitForHealthyBatchInterval',
    });
    expect(definition.States.CheckSafePoint.Parameters.historyBudget).toStrictEqual(workflow.historyBudget);
    expect(definition.States.WaitForFleetLock.Seconds).toBe(120);
    expect(definition.States.WaitForRolloutSlot.TimeoutSeconds).toBe(120);
    // The first execution's worst case fits: start, one batch at its bound, the worst end.
    const b = workflow.historyBudget;
    expect(b.firstStart + b.perBatch + b.perCheck * b.maxChecks + b.worstEnd).toBeLessThanOrEqual(b.budget);
    const choice = definition.States['ContinueAsNew?'];
    expect(choice.Choices[0]).toMatchObject({
      Variable: '$.safePoint.continueNow',
      BooleanEquals: true,
      Next: 'ContinueAsNew',
    });
    // A continuation starts by taking the lock from its predecessor, then goes on batching.
    expect(definition.StartAt).toBe('ContinuesARollout?');
    expect(definition.States.TakeOverFleetLock.Next).toBe('LaunchBatch');
  });

  it('lets the state machine start executions of itself only (a policy of its own: no circular dependency)', () => {
    const workflow = phoenix.stack.controlPlane.rolloutWorkflow;
    const smId = phoenix.logicalId(workflow.stateMachine);
    const policies = Object.values(phoenix.resources).filter(
      (r) =>
        r.Type === 'AWS::IAM::Policy' &&
        JSON.stringify(r.Properties!.PolicyDocument).includes('states:StartExecution') &&
        JSON.stringify(r.Properties!.Roles).includes(phoenix.logicalId(workflow.stateMachine.role)),
    );
    expect(policies).toHaveLength(1);
    expect(policies[0]!.Properties!.PolicyDocument.Statement).toStrictEqual([
      { Action: 'states:StartExecution', Effect: 'Allow', Resource: { Ref: smId } },
    ]);
  });

  it('suspends the scaling processes before the first change and stops cleanly at safe points', () => {
    // The rolling path reaches its first change (ReconcileLaunchTemplate) only through the suspension.
    expect(definition.States.SuspendScalingProcesses.Next).toBe('ReconcileLaunchTemplate');
    const into = (target: string) =>
      Object.entries(definition.States as Record<string, Json>)
        .filter(
          ([, st]) =>
            st.Next === target ||
            st.Default === target ||
            (st.Choices ?? []).some((c: Json) => c.Next === target),
        )
        .map(([name]) => name);
    expect(into('ReconcileLaunchTemplate')).toEqual(['SuspendScalingProcesses']);
    expect(definition.States.RetireBatch.Next).toBe('CheckSafePoint');
    expect(definition.States['StopAtSafePoint?'].Choices[0]).toMatchObject({
      Variable: '$.safePoint.outcome',
      IsPresent: true,
      Next: 'ReleaseFleetAtSafePoint',
    });
    // A rollout that waits for a global slot waits for a wake-up (the callback pattern); one that
    // waits for the fleet (supersede, replacements in flight) loops on the plain Wait.
    expect(definition.States.AcquireFleetLock.Catch.slice(0, 2)).toMatchObject([
      { ErrorEquals: ['RolloutSlotQueuedError'], Next: 'WaitForRolloutSlot', ResultPath: '$.queued' },
      { ErrorEquals: ['RolloutQueuedError'], Next: 'WaitForFleetLock', ResultPath: '$.queued' },
    ]);
  });

  it('waits for a global rollout slot with the callback pattern: woken or after one lock-wait interval, it asks again', () => {
    const workflow = phoenix.stack.controlPlane.rolloutWorkflow;
    const wait = definition.States.WaitForRolloutSlot;
    expect(wait.Type).toBe('Task');
    expect(wait.Resource).toBe('arn:aws:states:::lambda:invoke.waitForTaskToken');
    expect(wait.Parameters.Payload).toMatchObject({
      step: 'WaitForRolloutSlot',
      'execution.$': '$$.Execution.Name',
      'state.$': '$',
      'token.$': '$$.Task.Token',
    });
    expect(wait.TimeoutSeconds).toBe(120);
    expect(wait.ResultPath).toBe('$.slotWait');
    expect(wait.Next).toBe('AcquireFleetLock');
    // Timed out (a lost wake-up costs one interval, as the plain wait did) → ask again; the
    // registration failed → the plain wait.
    expect(wait.Catch).toStrictEqual([
      { ErrorEquals: ['States.Timeout'], ResultPath: '$.slotWaitError', Next: 'AcquireFleetLock' },
      { ErrorEquals: ['States.ALL'], ResultPath: '$.slotWaitError', Next: 'WaitForFleetLock' },
    ]);
    expect(wait.Retry[0].ErrorEquals).not.toContain('States.Timeout');
    // The record function may wake them: SendTaskSuccess (no resource-level permissions: Resource
    // *, the token is the capability), in a policy of its own, and nothing else of the task API.
    const recordRole = phoenix.logicalId(phoenix.stack.controlPlane.rolloutRecordFunction.role);
    const policies = Object.values(phoenix.resources).filter(
      (r) =>
        r.Type === 'AWS::IAM::Policy' &&
        JSON.stringify(r.Properties!.PolicyDocument).includes('states:SendTask') &&
        JSON.stringify(r.Properties!.Roles).includes(recordRole),
    );
    expect(policies).toHaveLength(1);
    expect(policies[0]!.Properties!.PolicyDocument.Statement).toStrictEqual([
      { Action: 'states:SendTaskSuccess', Effect: 'Allow', Resource: '*' },
    ]);
    void workflow;
  });
});
