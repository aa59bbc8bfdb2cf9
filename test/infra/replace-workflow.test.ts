import aslValidator from 'asl-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DrainSteps, ReplaceSteps, RetireInstanceStep, TRANSIENT_ERRORS } from '../../lambdas/domain/steps';
import { ReplaceWorkflow } from '../../lib';
import { MAX_FAST_CHECKS } from '../../lib/workflow-kit';
import { allStates, renderDefinition, unsupportedLocally } from './asl';
import { synthPhoenix, type Json, type SynthesizedPhoenix } from './support';

let phoenix: SynthesizedPhoenix;
let stateMachine: Record<string, Json>;
let definition: Json;

beforeAll(() => {
  phoenix = synthPhoenix();
  stateMachine =
    phoenix.resources[phoenix.logicalId(phoenix.stack.controlPlane.replaceWorkflow.stateMachine)]!
      .Properties!;
  definition = renderDefinition(stateMachine.DefinitionString, phoenix.resources);
});
afterAll(() => phoenix.dispose());

const tasks = () => allStates(definition).filter(({ state }) => state.Type === 'Task');

describe('Replace state machine', () => {
  it('is a Standard workflow that logs ALL to its own log group, traces, and times out after an hour', () => {
    const logGroupId = phoenix.logicalId(phoenix.stack.controlPlane.replaceWorkflow.logGroup);
    expect(stateMachine.StateMachineType).toBe('STANDARD');
    expect(stateMachine.LoggingConfiguration).toMatchObject({
      Level: 'ALL',
      IncludeExecutionData: true,
      Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [logGroupId, 'Arn'] } } }],
    });
    expect(stateMachine.TracingConfiguration).toStrictEqual({ Enabled: true });
    expect(definition.TimeoutSeconds).toBe(3600);
    expect(phoenix.resources[logGroupId]).toMatchObject({
      Properties: { RetentionInDays: 365 },
      DeletionPolicy: 'Retain',
    });
  });

  it('has a definition that asl-validator accepts, in JSONPath only', () => {
    const result = aslValidator(definition, { checkPaths: true, checkArn: true });
    expect(result.errorsText('\n')).toBe('');
    expect(unsupportedLocally(definition)).toEqual([]);
  });

  it('runs every replace step from the replace function, and the drain steps from the drain function', () => {
    const arn = (f: lambda.IFunction) =>
      `arn:aws:lambda:us-east-1:123456789012:function:${phoenix.logicalId(f)}`;
    const cp = phoenix.stack.controlPlane;
    const drainSteps = new Set<string>([
      DrainSteps.DeregisterInstance,
      DrainSteps.StartFlush,
      DrainSteps.CheckFlush,
    ]);
    const steps = new Set<string>();
    for (const { path, state } of tasks()) {
      const step = state.Parameters.step as string;
      expect(state.Resource, path).toBe(arn(drainSteps.has(step) ? cp.drainFunction : cp.replaceFunction));
      expect(state.Parameters['execution.$'], path).toBe('$$.Execution.Name');
      expect(state.Parameters['state.$'], path).toBe('$');
      steps.add(step);
    }
    expect([...steps].sort()).toEqual(
      [...Object.values(ReplaceSteps), RetireInstanceStep, ...drainSteps].sort(),
    );
  });

  it('drains before the old instance goes: deregistration delay by SecondsPath, flush polled every 5 s', () => {
    const states = definition.States as Record<string, Json>;
    expect(states['WaitForDeregistration']).toMatchObject({
      Type: 'Wait',
      SecondsPath: '$.drain.delaySeconds',
      Next: 'FlushToRun?',
    });
    expect(states['DeregisterInstance']!.Next).toBe('WaitForDeregistration');
    expect(states['WaitForFlush']).toMatchObject({ Type: 'Wait', Seconds: 5, Next: 'CheckFlush' });
    // A failed flush step goes on to retire the instance, it does not fail the replacement.
    for (const name of ['StartFlush', 'CheckFlush']) {
      expect(states[name]!.Catch).toEqual([
        { ErrorEquals: ['States.ALL'], ResultPath: '$.flushError', Next: 'FlushFailed' },
      ]);
    }
    expect(states['FlushFailed']!.Next).toBe(RetireInstanceStep);
  });

  it('retries transient errors and catches everything else in every Task state', () => {
    expect(tasks().length).toBeGreaterThan(0);
    for (const { path, state } of tasks()) {
      const retried = (state.Retry ?? []).flatMap((r: { ErrorEquals: string[] }) => r.ErrorEquals);
      expect(retried, `${path} Retry`).toEqual(expect.arrayContaining([...TRANSIENT_ERRORS]));
      const caught = (state.Catch ?? []).flatMap((c: { ErrorEquals: string[] }) => c.ErrorEquals);
      expect(caught, `${path} Catch`).toContain('States.ALL');
    }
  });

  it('bounds the health checks by the health timeout over the poll interval (10 min / 15 s)', () => {
    const byName = Object.fromEntries(tasks().map(({ state, path }) => [path.split('.').at(-1), state]));
    expect(byName[ReplaceSteps.ReplaceInstance].Parameters.maxChecks).toBe(40);
    expect(byName[ReplaceSteps.WaitForReplacement].Parameters.maxChecks).toBe(40);
    const waits = allStates(definition).filter(({ state }) => state.Type === 'Wait');
    // The poll waits (the surge's paced by ReplaceInstance, SecondsPath, with its one-interval
    // fallback), the deregistration delay (SecondsPath) and the flush poll.
    // (In any order: the order of the definition's walk is not the workflow's.)
    expect(
      Object.fromEntries(
        waits.map(({ path, state }) => [path.split('.').at(-1), state.Seconds ?? state.SecondsPath]),
      ),
    ).toStrictEqual({
      WaitForSlot: 15,
      WaitForNewInstance: '$.replacement.nextCheckSeconds',
      WaitForNewInstanceInterval: 15,
      WaitBeforeHealthCheck: 15,
      WaitForDeregistration: '$.drain.delaySeconds',
      WaitForFlush: 5,
    });
    expect(waits).toHaveLength(6);
    expect(byName[ReplaceSteps.ReplaceInstance].Parameters.pacing).toStrictEqual({
      pollSeconds: 15,
      fastChecks: MAX_FAST_CHECKS,
    });
  });

  it('alarms on failed, throttled, aborted and timed-out executions', () => {
    const alarms = phoenix.stack.controlPlane.replaceWorkflow.alarms.map(
      (a) => phoenix.resources[phoenix.logicalId(a)]!.Properties!,
    );
    expect(alarms.map((a) => a.MetricName).sort()).toEqual([
      'ExecutionThrottled',
      'ExecutionsAborted',
      'ExecutionsFailed',
      'ExecutionsTimedOut',
    ]);
    for (const alarm of alarms) {
      expect(alarm).toMatchObject({ Threshold: 1, EvaluationPeriods: 1, TreatMissingData: 'notBreaching' });
    }
  });

  it('refuses props that make no sense, saying which', () => {
    const stack = new Stack(new App(), 'T');
    const fn = lambda.Function.fromFunctionArn(
      stack,
      'F',
      'arn:aws:lambda:us-east-1:123456789012:function:f',
    );
    expect(
      () =>
        new ReplaceWorkflow(stack, 'R', {
          replaceFunction: fn,
          drainFunction: fn,
          timeout: Duration.seconds(10),
          pollInterval: Duration.seconds(30),
          healthTimeout: Duration.seconds(20),
        }),
    ).toThrow(
      /timeout must be at least 60 seconds, got 10; healthTimeout \(20 s\) must be at least pollInterval/,
    );
  });
});
