import { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { FleetSteps, RecordSteps } from '../lambdas/domain/steps';
import { checkTiming, lambdaStep, standardWorkflow, type WorkflowCommonProps } from './workflow-kit';

/** Terminal errors a rollout reports as `RolloutRejected`: nothing was changed. */
const REJECTION_ERRORS = [
  'ImageRejectedError',
  'FleetNotFoundError',
  'UnsupportedFleetError',
  'FleetBusyError',
  'InvalidFleetSettingError',
];

export interface RolloutWorkflowProps extends WorkflowCommonProps {
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
   * How long a batch may take to become InService and healthy before the rollout rolls back.
   * @default Duration.minutes(10)
   */
  readonly batchHealthTimeout?: Duration;
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
    const maxHealthChecks = checkTiming('RolloutWorkflow', {
      timeout,
      pollInterval,
      healthTimeout: batchHealthTimeout,
      healthTimeoutName: 'batchHealthTimeout',
    });

    const step = (
      fn: lambda.IFunction,
      name: string,
      resultPath: string,
      extra: Record<string, unknown> = {},
      stepName: string = name,
    ) => lambdaStep(this, fn, name, resultPath, extra, stepName);
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
    // The gating alarms (tag `phoenix:alarms`): in ALARM before the start rejects the rollout;
    // after a batch (and its warm-up) or after the bake, it rolls back.
    const checkAlarms = (name: string, phase: string) =>
      step(props.fleetFunction, name, '$.alarmCheck', { phase }, FleetSteps.CheckAlarms);
    const checkAlarmsBeforeStart = checkAlarms('CheckAlarmsBeforeStart', 'start');
    checkAlarmsBeforeStart.addCatch(reportRejected, {
      errors: ['AlarmBreachedError'],
      resultPath: '$.error',
    });
    checkAlarmsBeforeStart.addCatch(reportFailed, { errors: ['States.ALL'], resultPath: '$.error' });
    const checkAlarmsAfterBatch = checkAlarms('CheckAlarmsAfterBatch', 'batch');
    const checkAlarmsAfterBake = checkAlarms('CheckAlarmsAfterBake', 'bake');
    // Warm-up and bake are Wait states (scaled by the local runtime like every Wait), so they run
    // in the workflow's time, not the step's clock.
    const warmUp = new sfn.Wait(this, 'WarmUpBatch', {
      time: sfn.WaitTime.secondsPath('$.fleetState.warmupSeconds'),
    });
    const bake = new sfn.Wait(this, 'Bake', { time: sfn.WaitTime.secondsPath('$.fleetState.bakeSeconds') });
    for (const task of [
      reconcileLaunchTemplate,
      launchBatch,
      checkBatchHealth,
      checkAlarmsAfterBatch,
      retireBatch,
      checkAlarmsAfterBake,
    ]) {
      rollbackOnFailure(task);
    }

    const commit = record(RecordSteps.CommitRollout, '$.report');
    commit.addCatch(reportFailed, { errors: ['States.ALL'], resultPath: '$.error' });
    commit.next(succeeded);

    const definition = acquireLock.next(validateImage).next(
      new sfn.Choice(this, 'FleetAlreadyOnImage?')
        .when(sfn.Condition.booleanEquals('$.fleetState.upToDate', true), commit)
        .otherwise(
          checkAlarmsBeforeStart
            .next(reconcileLaunchTemplate)
            .next(launchBatch)
            .next(waitForBatch)
            .next(checkBatchHealth)
            .next(
              new sfn.Choice(this, 'BatchHealthy?')
                .when(
                  sfn.Condition.booleanEquals('$.progress.ready', true),
                  warmUp
                    .next(checkAlarmsAfterBatch)
                    .next(retireBatch)
                    .next(
                      new sfn.Choice(this, 'OldInstancesLeft?')
                        .when(sfn.Condition.numberGreaterThan('$.progress.remainingOld', 0), launchBatch)
                        .otherwise(bake.next(checkAlarmsAfterBake).next(commit)),
                    ),
                )
                .otherwise(waitForBatch),
            ),
        ),
    );

    const workflow = standardWorkflow(this, {
      definition,
      timeout,
      removalPolicy: props.removalPolicy,
      logRetention: props.logRetention,
      comment: 'Phoenix rollout: one fleet onto one image, surge first, all or nothing',
      alarms: {
        failed: 'A Phoenix rollout ended failed, rolled back or rejected',
        throttled: 'Phoenix rollout executions are throttled',
        aborted: 'A Phoenix rollout was aborted',
        timedOut: 'A Phoenix rollout timed out: its fleet may be half-rolled and needs attention',
      },
    });
    this.stateMachine = workflow.stateMachine;
    this.logGroup = workflow.logGroup;
    this.alarms = workflow.alarms;
  }
}
