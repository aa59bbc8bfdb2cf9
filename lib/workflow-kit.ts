/**
 * What every Phoenix workflow shares: props validation, Lambda steps with the transient-error
 * retry, and a Standard state machine that logs ALL, traces, times out and raises alarms.
 * Constructs are created in the workflow's own scope, with the ids each workflow always used.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { TRANSIENT_ERRORS } from '../lambdas/domain/steps';

/** Props every workflow takes. */
export interface WorkflowCommonProps {
  /**
   * How long the workflow waits between two checks. The local runtime scales it down by its time scale.
   * @default Duration.seconds(15)
   */
  readonly pollInterval?: Duration;
  /**
   * What happens to the execution log group when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * How long execution logs are kept.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * Check the timing props (collecting every problem, skipping unresolved tokens) and return how
 * many checks fit in the health timeout.
 */
export function checkTiming(
  workflow: string,
  timing: { timeout: Duration; pollInterval: Duration; healthTimeout: Duration; healthTimeoutName: string },
): number {
  const { timeout, pollInterval, healthTimeout, healthTimeoutName } = timing;
  const problems: string[] = [];
  if (!timeout.isUnresolved() && timeout.toSeconds() < 60) {
    problems.push(`timeout must be at least 60 seconds, got ${timeout.toSeconds()}`);
  }
  if (!pollInterval.isUnresolved() && pollInterval.toSeconds() < 1) {
    problems.push(`pollInterval must be at least 1 second, got ${pollInterval.toSeconds()}`);
  }
  if (!healthTimeout.isUnresolved() && healthTimeout.toSeconds() < pollInterval.toSeconds()) {
    problems.push(
      `${healthTimeoutName} (${healthTimeout.toSeconds()} s) must be at least pollInterval (${pollInterval.toSeconds()} s)`,
    );
  }
  if (problems.length > 0) throw new Error(`Invalid ${workflow} props: ${problems.join('; ')}`);
  return Math.ceil(healthTimeout.toSeconds() / pollInterval.toSeconds());
}

/**
 * A Lambda task named `name` that passes `{ step, execution, state, ...extra }` to `fn` (the step
 * is `stepName`, default the state's name), puts the result at `resultPath`, and retries the
 * transient errors (the Lambda service's and `TransientAwsError`) with backoff and jitter.
 */
export function lambdaStep(
  scope: Construct,
  fn: lambda.IFunction,
  name: string,
  resultPath: string,
  extra: Record<string, unknown> = {},
  stepName: string = name,
): tasks.LambdaInvoke {
  const task = new tasks.LambdaInvoke(scope, name, {
    stateName: name,
    lambdaFunction: fn,
    payloadResponseOnly: true,
    retryOnServiceExceptions: false,
    payload: sfn.TaskInput.fromObject({
      step: stepName,
      'execution.$': '$$.Execution.Name',
      'state.$': '$',
      ...extra,
    }),
    resultPath,
  });
  task.addRetry({
    errors: [...TRANSIENT_ERRORS],
    interval: Duration.seconds(2),
    backoffRate: 2,
    maxAttempts: 4,
    jitterStrategy: sfn.JitterType.FULL,
  });
  return task;
}

/** What each alarm of a workflow says when it fires. */
export interface WorkflowAlarmDescriptions {
  readonly failed: string;
  readonly throttled: string;
  readonly aborted: string;
  readonly timedOut: string;
}

/**
 * A Standard state machine (JSONPath) with its own log group (logs ALL, with execution data),
 * X-Ray tracing, a timeout, and alarms on failed, throttled, aborted and timed-out executions.
 */
export function standardWorkflow(
  scope: Construct,
  props: WorkflowCommonProps & {
    definition: sfn.IChainable;
    timeout: Duration;
    comment: string;
    alarms: WorkflowAlarmDescriptions;
  },
): { stateMachine: sfn.StateMachine; logGroup: logs.LogGroup; alarms: cloudwatch.Alarm[] } {
  const logGroup = new logs.LogGroup(scope, 'Logs', {
    retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
    removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
  });
  const stateMachine = new sfn.StateMachine(scope, 'StateMachine', {
    stateMachineType: sfn.StateMachineType.STANDARD,
    definitionBody: sfn.DefinitionBody.fromChainable(props.definition),
    queryLanguage: sfn.QueryLanguage.JSON_PATH,
    timeout: props.timeout,
    tracingEnabled: true,
    logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    comment: props.comment,
  });
  const alarm = (id: string, metric: cloudwatch.Metric, description: string) =>
    new cloudwatch.Alarm(scope, id, {
      metric,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
    });
  const period = { period: Duration.minutes(5), statistic: 'Sum' };
  const alarms = [
    alarm('ExecutionsFailedAlarm', stateMachine.metricFailed(period), props.alarms.failed),
    alarm('ExecutionsThrottledAlarm', stateMachine.metricThrottled(period), props.alarms.throttled),
    alarm('ExecutionsAbortedAlarm', stateMachine.metricAborted(period), props.alarms.aborted),
    alarm('ExecutionsTimedOutAlarm', stateMachine.metricTimedOut(period), props.alarms.timedOut),
  ];
  return { stateMachine, logGroup, alarms };
}
