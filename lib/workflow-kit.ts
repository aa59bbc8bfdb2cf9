/**
 * What every Phoenix workflow shares: props validation, a Standard state machine that logs ALL,
 * traces, times out and raises alarms, continue-as-new, and the workflow vocabulary (lib/workflow/:
 * typed Lambda steps, error routes, poll loops, the flush loop). Constructs are created in the
 * workflow's own scope, with the ids each workflow always used.
 */
import { Aws, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import type { HistoryBudget } from '../lambdas/domain/rollout';
import { skipCheckov } from './checkov';
import { grantLogGroupEncryption } from './encryption';
import { retryTransient } from './workflow/kit';

export * from './workflow/flush-loop';
export * from './workflow/kit';
export * from './workflow/state';

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
  /**
   * A customer-managed KMS key for the execution log group (CloudWatch Logs is granted its use in
   * the key's policy).
   * @default - CloudWatch Logs' own encryption
   */
  readonly encryptionKey?: kms.IKey;
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
    encryptionKey: props.encryptionKey,
  });
  if (props.encryptionKey) grantLogGroupEncryption(scope, props.encryptionKey);
  else {
    skipCheckov(logGroup, {
      id: 'CKV_AWS_158',
      comment:
        "CloudWatch Logs encrypts every log group at rest with its own keys; the execution logs hold fleet records, instance and image ids, no secrets. Give the control plane's encryptionKey to use a customer-managed key.",
    });
  }
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

/**
 * Continue-as-new: a Task that starts a fresh execution of this very state machine (its ARN from
 * the context object, `$$.StateMachine.Id`: no reference to the construct, so no circular
 * dependency) named by `namePath`, with the whole state as its input. Not `.sync`: the
 * predecessor ends once its continuation has started. Retries the transient errors (the Step
 * Functions API's throttling and 5xx among them); the caller adds the Catch.
 */
export function continueAsNewStep(
  scope: Construct,
  name: string,
  props: { namePath: string; resultPath: string },
): sfn.CustomState {
  const state = new sfn.CustomState(scope, name, {
    stateJson: {
      Type: 'Task',
      Resource: `arn:${Aws.PARTITION}:states:::states:startExecution`,
      Parameters: {
        'StateMachineArn.$': '$$.StateMachine.Id',
        'Name.$': props.namePath,
        'Input.$': '$',
      },
      ResultSelector: { 'executionArn.$': '$.ExecutionArn' },
      ResultPath: props.resultPath,
    },
  });
  retryTransient(state, STEP_FUNCTIONS_TRANSIENT_ERRORS);
  return state;
}

/** Errors of the Step Functions API (as a service integration names them) that a retry may cure. */
export const STEP_FUNCTIONS_TRANSIENT_ERRORS = [
  'StepFunctions.SdkClientException',
  'StepFunctions.ThrottlingException',
  'StepFunctions.ServiceUnavailableException',
  'StepFunctions.InternalServerErrorException',
] as const;

/**
 * The most history events any Rollout execution may record in the worst case (AWS's hard limit is
 * 25,000; Phoenix keeps each execution well under 2,500 so that a 1,000-instance fleet rolled one
 * instance at a time stays readable and cheap). Transient retries (3 events each) use the rest.
 */
export const HISTORY_EVENT_BUDGET = 2000;

/**
 * How many lock-wait intervals a rollout waits at most before its deadline (the wait interval
 * follows): each wait for the lock (WaitForFleetLock) or for a global slot (WaitForRolloutSlot,
 * when it is not woken) lasts one interval.
 */
export const MAX_LOCK_WAITS = 60;

/**
 * The most fast checks of one poll loop (a rolling batch, a replacement's surge): the checks
 * within half a target group's health-check interval while the loop waits for its targets'
 * initial health checks alone (lambdas/domain/pacing.ts). Ten cover a healthy threshold of 5 at
 * two checks per interval; the Rollout workflow allows fewer when its history budget is short.
 */
export const MAX_FAST_CHECKS = 10;

/**
 * AWS history events of one state: a Task 5 (TaskStateEntered, TaskScheduled, TaskStarted,
 * TaskSucceeded or TaskFailed, TaskStateExited), a callback Task (`.waitForTaskToken`) 6 (one
 * more: TaskSubmitted; TaskSucceeded, TaskFailed or TaskTimedOut), a Wait, Choice, Pass, Succeed
 * or Fail 2.
 */
export const HISTORY_EVENTS = { task: 5, callback: 6, other: 2, execution: 2 } as const;

/**
 * The Rollout workflow's history budget (see `HistoryBudget`), each poll loop at its bound:
 * - a batch: LaunchBatch, WarmUpBatch, CheckAlarmsAfterBatch, RetireBatch, CheckSafePoint and the
 *   three Choices after it, plus per health check WaitForHealthyBatch, CheckBatchHealth, BatchHealthy?
 *   (maxHealthChecks, and the fast checks the rest of the budget allows: `fastChecks`);
 * - the first execution's start: ContinuesARollout?, ReadImage, (MAX_LOCK_WAITS + 1) ×
 *   (AcquireFleetLock, WaitForRolloutSlot: the costlier of the two waits), AcquireFleetLock,
 *   ValidateImage, FleetAlreadyOnImage?, CheckAlarmsBeforeStart, BlueGreen?,
 *   SuspendScalingProcesses, ReconcileLaunchTemplate. The lock waits are bounded by time: every
 *   wait that is not woken lasts one lock-wait interval (at most MAX_LOCK_WAITS before the
 *   deadline), and a woken one (or one that took a slot freed meanwhile) holds a slot, so the
 *   next AcquireFleetLock takes it (+1); a continuation's: ContinuesARollout?, TakeOverFleetLock;
 * - the worst end: a rollback (the step's Failed Pass, StartRollback, maxChecks × (Wait,
 *   CheckRollbackCapacity, Choice), FinishRollback) whose last step fails (ReleaseFleetAfterFailure,
 *   ReportFailed, Fail).
 * Throws when even the first batch cannot fit.
 */
export function rolloutHistoryBudget(args: {
  timeout: Duration;
  pollInterval: Duration;
  maxHealthChecks: number;
}): HistoryBudget & { lockWaitInterval: Duration; fastChecks: number } {
  const { task, callback, other, execution } = HISTORY_EVENTS;
  const checks = args.maxHealthChecks;
  const lockWaitInterval = Duration.seconds(
    Math.max(args.pollInterval.toSeconds(), Math.ceil(args.timeout.toSeconds() / MAX_LOCK_WAITS)),
  );
  const perCheck = other + task + other;
  const perBatch = 4 * task + other + 3 * other;
  const firstStart =
    execution +
    other +
    task +
    (MAX_LOCK_WAITS + 1) * (task + callback) +
    task +
    task +
    other +
    task +
    other +
    2 * task;
  const continuationStart = execution + other + task;
  const worstEnd = other + task + checks * perCheck + task + 2 * task + other;
  const room = HISTORY_EVENT_BUDGET - (firstStart + perBatch + perCheck * checks + worstEnd);
  if (room < 0) {
    throw new Error(
      `Invalid RolloutWorkflow props: ${checks} health checks per batch (batchHealthTimeout / pollInterval) leave no room for a batch in ${HISTORY_EVENT_BUDGET} history events; raise pollInterval or lower batchHealthTimeout`,
    );
  }
  // A batch's fast checks (at most MAX_FAST_CHECKS) take what the budget leaves.
  const fastChecks = Math.min(MAX_FAST_CHECKS, Math.floor(room / perCheck));
  const budget: HistoryBudget = {
    budget: HISTORY_EVENT_BUDGET,
    firstStart,
    continuationStart,
    perBatch,
    perCheck,
    maxChecks: checks + fastChecks,
    worstEnd,
  };
  return { ...budget, lockWaitInterval, fastChecks };
}
