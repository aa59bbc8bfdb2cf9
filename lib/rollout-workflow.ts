import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { FleetSteps, RecordSteps, TRANSIENT_ERRORS } from '../lambdas/domain/steps';

/** Terminal errors a rollout reports as `RolloutRejected`: nothing was changed. */
const REJECTION_ERRORS = [
  'ImageRejectedError',
  'FleetNotFoundError',
  'UnsupportedFleetError',
  'FleetBusyError',
];

export interface RolloutWorkflowProps {
  /** The function behind the fleet steps (EC2 + Auto Scaling): see `FleetSteps`. */
  readonly fleetFunction: lambda.IFunction;
  /** The function behind the record steps (DynamoDB + EventBridge): see `RecordSteps`. */
  readonly recordFunction: lambda.IFunction;
  /**
   * How long one rollout may run in all. The fleet lock expires after this too, so a rollout that
   * dies without releasing it cannot block the fleet for longer.
   * @default Duration.hours(2)
   */
  readonly timeout?: Duration;
  /**
   * How long the workflow waits between two health checks of a batch (and of a rollback).
   * The local runtime scales it down by its time scale.
   * @default Duration.seconds(15)
   */
  readonly pollInterval?: Duration;
  /**
   * How long a batch may take to become InService and healthy before the rollout rolls back.
   * @default Duration.minutes(10)
   */
  readonly batchHealthTimeout?: Duration;
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
 * The Rollout workflow: rolls one fleet onto one image, batch by batch and surge first, or leaves
 * it on its previous image with its capacity restored. JSONPath only (see DESIGN.md §5).
 *
 * Input: `{ fleet, imageId, channel, cause, requestId }`. Every step re-reads the fleet's real state
 * (reconcile by identity); the workflow carries only what it must remember: the fleet's original
 * shape (`$.fleetState`), the launch template version it made (`$.launchTemplate`) and where the
 * batches stand (`$.progress`).
 */
export class RolloutWorkflow extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly logGroup: logs.LogGroup;
  /** Alarms on failed, throttled, aborted and timed-out executions. */
  public readonly alarms: cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: RolloutWorkflowProps) {
    super(scope, id);
    const timeout = props.timeout ?? Duration.hours(2);
    const pollInterval = props.pollInterval ?? Duration.seconds(15);
    const batchHealthTimeout = props.batchHealthTimeout ?? Duration.minutes(10);
    const problems: string[] = [];
    if (!timeout.isUnresolved() && timeout.toSeconds() < 60) {
      problems.push(`timeout must be at least 60 seconds, got ${timeout.toSeconds()}`);
    }
    if (!pollInterval.isUnresolved() && pollInterval.toSeconds() < 1) {
      problems.push(`pollInterval must be at least 1 second, got ${pollInterval.toSeconds()}`);
    }
    if (!batchHealthTimeout.isUnresolved() && batchHealthTimeout.toSeconds() < pollInterval.toSeconds()) {
      problems.push(
        `batchHealthTimeout (${batchHealthTimeout.toSeconds()} s) must be at least pollInterval (${pollInterval.toSeconds()} s)`,
      );
    }
    if (problems.length > 0) throw new Error(`Invalid RolloutWorkflow props: ${problems.join('; ')}`);
    const maxHealthChecks = Math.ceil(batchHealthTimeout.toSeconds() / pollInterval.toSeconds());

    const step = (
      fn: lambda.IFunction,
      name: string,
      resultPath: string,
      extra: Record<string, unknown> = {},
      stepName: string = name,
    ) => {
      const task = new tasks.LambdaInvoke(this, name, {
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
    };
    const fleet = (name: string, resultPath: string, extra?: Record<string, unknown>) =>
      step(props.fleetFunction, name, resultPath, extra);
    const record = (name: string, resultPath: string, extra?: Record<string, unknown>) =>
      step(props.recordFunction, name, resultPath, extra);
    /** Report an outcome (`ReportOutcome` step), then end the execution with the given terminal state. */
    const report = (stateName: string, outcome: string, end: sfn.Fail) => {
      const task = step(props.recordFunction, stateName, '$.report', { outcome }, RecordSteps.ReportOutcome);
      task.addCatch(end, { resultPath: '$.reportError' });
      return task.next(end);
    };

    // Terminal states.
    const succeeded = new sfn.Succeed(this, 'RolloutSucceeded');
    const rejected = new sfn.Fail(this, 'RolloutRejected', {
      error: 'RolloutRejected',
      causePath: '$.error.Cause',
    });
    const rolledBack = new sfn.Fail(this, 'RolloutRolledBack', {
      error: 'RolloutRolledBack',
      causePath: '$.error.Cause',
    });
    const failed = new sfn.Fail(this, 'RolloutFailed', {
      error: 'RolloutFailed',
      causePath: '$.error.Cause',
    });

    const reportRejected = report('ReportRejected', 'RolloutRejected', rejected);
    const reportRolledBack = report('ReportRolledBack', 'RolloutRolledBack', rolledBack);
    const reportFailed = report('ReportFailed', 'RolloutFailed', failed);

    // Rollback: point the group back at its previous launch template version, restore the old
    // image's capacity, wait for it to be healthy, then remove the new instances.
    const startRollback = fleet(FleetSteps.StartRollback, '$.rollback');
    const waitForRollback = new sfn.Wait(this, 'WaitForRollbackCapacity', {
      time: sfn.WaitTime.duration(pollInterval),
    });
    const checkRollback = fleet(FleetSteps.CheckRollbackCapacity, '$.rollback', {
      maxChecks: maxHealthChecks,
    });
    const finishRollback = fleet(FleetSteps.FinishRollback, '$.rollback');
    for (const task of [startRollback, checkRollback, finishRollback]) {
      task.addCatch(reportFailed, { resultPath: '$.rollbackError' });
    }
    startRollback.next(waitForRollback);
    waitForRollback.next(checkRollback);
    checkRollback.next(
      new sfn.Choice(this, 'RollbackCapacityRestored?')
        .when(sfn.Condition.booleanEquals('$.rollback.ready', true), finishRollback)
        .otherwise(waitForRollback),
    );
    finishRollback.next(reportRolledBack);

    /** Catch terminal errors of a step that may have changed the fleet: remember the step, roll back. */
    const rollbackOnFailure = (task: tasks.LambdaInvoke) => {
      const remember = new sfn.Pass(this, `${task.id}Failed`, {
        result: sfn.Result.fromString(task.id),
        resultPath: '$.failedStep',
      });
      remember.next(startRollback);
      task.addCatch(remember, { errors: ['States.ALL'], resultPath: '$.error' });
    };

    // The happy path.
    const acquireLock = record(RecordSteps.AcquireFleetLock, '$.lock', { lockSeconds: timeout.toSeconds() });
    acquireLock.addCatch(reportRejected, { errors: ['FleetBusyError'], resultPath: '$.error' });
    acquireLock.addCatch(reportFailed, { errors: ['States.ALL'], resultPath: '$.error' });

    const validateImage = fleet(FleetSteps.ValidateImage, '$.fleetState', { maxChecks: maxHealthChecks });
    validateImage.addCatch(reportRejected, { errors: REJECTION_ERRORS, resultPath: '$.error' });
    validateImage.addCatch(reportFailed, { errors: ['States.ALL'], resultPath: '$.error' });

    const reconcileLaunchTemplate = fleet(FleetSteps.ReconcileLaunchTemplate, '$.launchTemplate');
    const launchBatch = fleet(FleetSteps.LaunchBatch, '$.progress');
    const waitForBatch = new sfn.Wait(this, 'WaitForBatch', { time: sfn.WaitTime.duration(pollInterval) });
    const checkBatchHealth = fleet(FleetSteps.CheckBatchHealth, '$.progress');
    const retireBatch = fleet(FleetSteps.RetireBatch, '$.progress');
    for (const task of [reconcileLaunchTemplate, launchBatch, checkBatchHealth, retireBatch]) {
      rollbackOnFailure(task);
    }

    const commit = record(RecordSteps.CommitRollout, '$.report');
    commit.addCatch(reportFailed, { errors: ['States.ALL'], resultPath: '$.error' });
    commit.next(succeeded);

    const definition = acquireLock.next(validateImage).next(
      new sfn.Choice(this, 'FleetAlreadyOnImage?')
        .when(sfn.Condition.booleanEquals('$.fleetState.upToDate', true), commit)
        .otherwise(
          reconcileLaunchTemplate
            .next(launchBatch)
            .next(waitForBatch)
            .next(checkBatchHealth)
            .next(
              new sfn.Choice(this, 'BatchHealthy?')
                .when(
                  sfn.Condition.booleanEquals('$.progress.ready', true),
                  retireBatch.next(
                    new sfn.Choice(this, 'OldInstancesLeft?')
                      .when(sfn.Condition.numberGreaterThan('$.progress.remainingOld', 0), launchBatch)
                      .otherwise(commit),
                  ),
                )
                .otherwise(waitForBatch),
            ),
        ),
    );

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      queryLanguage: sfn.QueryLanguage.JSON_PATH,
      timeout,
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
      comment: 'Phoenix rollout: one fleet onto one image, surge first, all or nothing',
    });

    const alarm = (id: string, metric: cloudwatch.Metric, description: string) =>
      new cloudwatch.Alarm(this, id, {
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
    const period = { period: Duration.minutes(5), statistic: 'Sum' };
    this.alarms = [
      alarm(
        'ExecutionsFailedAlarm',
        this.stateMachine.metricFailed(period),
        'A Phoenix rollout ended failed, rolled back or rejected',
      ),
      alarm(
        'ExecutionsThrottledAlarm',
        this.stateMachine.metricThrottled(period),
        'Phoenix rollout executions are throttled',
      ),
      alarm(
        'ExecutionsAbortedAlarm',
        this.stateMachine.metricAborted(period),
        'A Phoenix rollout was aborted',
      ),
      alarm(
        'ExecutionsTimedOutAlarm',
        this.stateMachine.metricTimedOut(period),
        'A Phoenix rollout timed out: its fleet may be half-rolled and needs attention',
      ),
    ];
  }
}
