import { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { HistoryBudget } from '../lambdas/domain/rollout';
import { FleetSteps, RecordSteps } from '../lambdas/domain/steps';
import { blueGreenStates, isBlueGreen } from './blue-green-states';
import {
  checkTiming,
  continueAsNewStep,
  lambdaStep,
  rolloutHistoryBudget,
  standardWorkflow,
  type WorkflowCommonProps,
} from './workflow-kit';

/** Terminal errors a rollout reports as `RolloutRejected`: nothing was changed. */
const REJECTION_ERRORS = [
  'ImageRejectedError',
  'FleetNotFoundError',
  'UnsupportedFleetError',
  'FleetBusyError',
  'InvalidFleetSettingError',
];

/** Terminal errors of the lock step that reject the rollout: nothing was changed. */
const LOCK_REJECTION_ERRORS = [
  'FleetBusyError',
  'OlderImageError',
  'FleetPausedError',
  'RolloutTimedOutError',
];

/**
 * How long a rollout may run past its deadline to roll back, besides the rollback's own wait for
 * the previous image's capacity (batchHealthTimeout): the deadline is noticed within one poll
 * interval, and the rollback's steps (with their retries) and the report take the rest.
 */
const ROLLBACK_TASK_MARGIN = Duration.minutes(10);

export interface RolloutWorkflowProps extends WorkflowCommonProps {
  /** The function behind the fleet steps (EC2 + Auto Scaling): see `FleetSteps`. */
  readonly fleetFunction: lambda.IFunction;
  /** The function behind the record steps (DynamoDB + EventBridge): see `RecordSteps`. */
  readonly recordFunction: lambda.IFunction;
  /**
   * How long one rollout may run before it is rolled back. The rollout's deadline is its start plus
   * this (set once, carried by its continuations); the waiting steps (the lock wait, the batch
   * health checks, the safe points before a batch or the bake) time out past it with
   * `RolloutTimedOutError` and the rollout rolls back (`RolloutRolledBack`, the reason names the
   * step). Each execution's own timeout is this plus a rollback allowance (`batchHealthTimeout` +
   * one `pollInterval` + 10 minutes for the rollback's steps), see `executionTimeout`; the fleet
   * lock expires after that, so it covers the whole execution.
   * @default Duration.hours(2)
   */
  readonly timeout?: Duration;
  /**
   * How long a batch may take to become InService and healthy before the rollout rolls back. A
   * batch is checked right after its launch and then every `pollInterval`: `batchHealthTimeout /
   * pollInterval` checks (at least 2), the last one `pollInterval` before the timeout is up.
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
  /** How long one run of the workflow may take before it gives up (its deadline), defaults applied. */
  public readonly timeout: Duration;
  /** The state machine's own timeout: the rollout timeout plus the rollback allowance. */
  public readonly executionTimeout: Duration;
  /**
   * Continue-as-new: the history events the definition's states cost, passed to CheckSafePoint,
   * which hands the rollout to a fresh execution of this state machine before one more batch at
   * its worst and the worst end could take an execution past `HISTORY_EVENT_BUDGET` events.
   */
  public readonly historyBudget: HistoryBudget;

  constructor(scope: Construct, id: string, props: RolloutWorkflowProps) {
    super(scope, id);
    const timeout = props.timeout ?? Duration.hours(2);
    this.timeout = timeout;
    const pollInterval = props.pollInterval ?? Duration.seconds(15);
    const batchHealthTimeout = props.batchHealthTimeout ?? Duration.minutes(10);
    const maxHealthChecks = checkTiming('RolloutWorkflow', {
      timeout,
      pollInterval,
      healthTimeout: batchHealthTimeout,
      healthTimeoutName: 'batchHealthTimeout',
    });
    // A batch (and each blue-green gate) is checked once right away, then after each poll interval
    // (see WaitForBatch): at least 2 checks, so that it always gets at least one poll interval.
    const gateChecks = Math.max(2, maxHealthChecks);
    // The rollout times out at its deadline; the execution runs on for the rollback.
    const executionTimeout = Duration.seconds(
      timeout.toSeconds() +
        batchHealthTimeout.toSeconds() +
        pollInterval.toSeconds() +
        ROLLBACK_TASK_MARGIN.toSeconds(),
    );
    this.executionTimeout = executionTimeout;
    const budget = rolloutHistoryBudget({
      timeout,
      pollInterval,
      maxHealthChecks: gateChecks,
    });
    const { lockWaitInterval, ...historyBudget } = budget;
    this.historyBudget = historyBudget;

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
    // After the scaling processes were suspended, a failure resumes them (the fleet's limits are
    // left as they are: it needs a human) before RolloutFailed.
    const releaseAfterFailure = step(
      props.fleetFunction,
      'ReleaseFleetAfterFailure',
      '$.release',
      { restoreLimits: false },
      FleetSteps.ReleaseFleet,
    );
    releaseAfterFailure.addCatch(reportFailed, { resultPath: '$.releaseError' });
    releaseAfterFailure.next(reportFailed);

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
      task.addCatch(releaseAfterFailure, { resultPath: '$.rollbackError' });
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
    const rollbackOnFailure = (task: sfn.TaskStateBase | sfn.CustomState) => {
      const remember = new sfn.Pass(this, `${task.id}Failed`, {
        result: sfn.Result.fromString(task.id),
        resultPath: '$.failedStep',
      });
      remember.next(startRollback);
      task.addCatch(remember, { errors: ['States.ALL'], resultPath: '$.error' });
    };

    // The happy path.
    // The image's CreationDate orders rollouts of a fleet (supersede, late images).
    const readImage = fleet(FleetSteps.ReadImage, '$.image');
    readImage.addCatch(reportRejected, { errors: ['ImageRejectedError'], resultPath: '$.error' });
    readImage.addCatch(reportFailed, { errors: ['States.ALL'], resultPath: '$.error' });

    // The lock holds for the whole execution. A rollout that must wait in line (RolloutQueuedError:
    // an older image's rollout was asked to stop, or no global slot is free) waits and asks again;
    // past its deadline the lock step rejects it (RolloutTimedOutError).
    const acquireLock = record(RecordSteps.AcquireFleetLock, '$.lock', {
      lockSeconds: executionTimeout.toSeconds(),
      timeoutSeconds: timeout.toSeconds(),
      'startedAt.$': '$$.Execution.StartTime',
    });
    const waitForLock = new sfn.Wait(this, 'WaitForFleetLock', {
      time: sfn.WaitTime.duration(lockWaitInterval),
    });
    waitForLock.next(acquireLock);
    acquireLock.addCatch(waitForLock, { errors: ['RolloutQueuedError'], resultPath: '$.queued' });
    acquireLock.addCatch(reportRejected, { errors: LOCK_REJECTION_ERRORS, resultPath: '$.error' });
    acquireLock.addCatch(reportFailed, { errors: ['States.ALL'], resultPath: '$.error' });

    // Continue-as-new: a continuation takes the lock from its predecessor and goes on batching.
    const takeOverLock = record(RecordSteps.TakeOverFleetLock, '$.lock', {
      lockSeconds: executionTimeout.toSeconds(),
    });
    takeOverLock.addCatch(releaseAfterFailure, { errors: ['States.ALL'], resultPath: '$.error' });

    const validateImage = fleet(FleetSteps.ValidateImage, '$.fleetState', { maxChecks: gateChecks });
    validateImage.addCatch(reportRejected, { errors: REJECTION_ERRORS, resultPath: '$.error' });
    validateImage.addCatch(reportFailed, { errors: ['States.ALL'], resultPath: '$.error' });

    // Before the first change: Auto Scaling must not rebalance, scale on alarms or on schedules.
    const suspendProcesses = fleet(FleetSteps.SuspendScalingProcesses, '$.suspended');
    const reconcileLaunchTemplate = fleet(FleetSteps.ReconcileLaunchTemplate, '$.launchTemplate');
    const launchBatch = fleet(FleetSteps.LaunchBatch, '$.progress');
    const waitForBatch = new sfn.Wait(this, 'WaitForBatch', { time: sfn.WaitTime.duration(pollInterval) });
    const checkBatchHealth = fleet(FleetSteps.CheckBatchHealth, '$.progress');
    // A batch is checked once right after its launch, then after each poll interval: a batch that
    // is ready at once (warm pools, the emulator) does not wait a poll for nothing. The immediate
    // check counts towards maxChecks (gateChecks), so the last check comes (maxChecks - 1) polls after
    // the launch: the batch health timeout less one poll interval (at least one poll interval).
    waitForBatch.next(checkBatchHealth);
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
    // A safe point (batch boundary): superseded or paused → stop cleanly; past the deadline → roll
    // back; when one more batch might not fit the history budget → continue as a new execution.
    const checkSafePoint = record(RecordSteps.CheckSafePoint, '$.safePoint', {
      historyBudget: { ...historyBudget },
    });
    const releaseAtSafePoint = step(
      props.fleetFunction,
      'ReleaseFleetAtSafePoint',
      '$.release',
      {},
      FleetSteps.ReleaseFleet,
    );
    const reportStopped = step(
      props.recordFunction,
      'ReportStopped',
      '$.report',
      { 'outcome.$': '$.safePoint.outcome', 'reason.$': '$.safePoint.reason' },
      RecordSteps.ReportOutcome,
    );
    reportStopped.addCatch(reportFailed, { errors: ['States.ALL'], resultPath: '$.error' });
    releaseAtSafePoint
      .next(reportStopped)
      .next(new sfn.Succeed(this, 'RolloutStopped', { comment: 'Superseded or paused at a safe point' }));
    const releaseBeforeCommit = step(
      props.fleetFunction,
      'ReleaseFleetBeforeCommit',
      '$.release',
      {},
      FleetSteps.ReleaseFleet,
    );
    const continueAsNew = continueAsNewStep(this, 'ContinueAsNew', {
      namePath: '$.safePoint.continuation.name',
      resultPath: '$.continued',
    });
    const continued = new sfn.Pass(this, 'HandedOver', {
      parameters: { 'continued.$': '$.safePoint.continuation.name' },
    }).next(new sfn.Succeed(this, 'RolloutContinued', { comment: 'A continuation goes on' }));
    continueAsNew.next(continued);
    for (const task of [
      suspendProcesses,
      checkSafePoint,
      releaseAtSafePoint,
      releaseBeforeCommit,
      continueAsNew,
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
    releaseBeforeCommit.next(commit);

    // The strategy (tag `phoenix:strategy`), right after the start's alarm check: blue-green takes
    // its own branch (lib/blue-green-states.ts); rolling, the default, goes on at SuspendScalingProcesses.
    checkAlarmsBeforeStart.next(
      new sfn.Choice(this, 'BlueGreen?')
        .when(
          isBlueGreen,
          blueGreenStates(this, {
            fleetFunction: props.fleetFunction,
            recordFunction: props.recordFunction,
            pollInterval,
            maxChecks: gateChecks,
            commit,
            reportRolledBack,
            reportFailed,
            failed,
          }),
        )
        .otherwise(suspendProcesses),
    );

    const fresh = readImage
      .next(acquireLock)
      .next(validateImage)
      .next(
        new sfn.Choice(this, 'FleetAlreadyOnImage?')
          .when(sfn.Condition.booleanEquals('$.fleetState.upToDate', true), commit)
          .otherwise(
            // Rolling continues after the strategy choice (below) at SuspendScalingProcesses.
            sfn.Chain.custom(checkAlarmsBeforeStart, [suspendProcesses], suspendProcesses)
              .next(reconcileLaunchTemplate)
              .next(launchBatch)
              .next(checkBatchHealth)
              .next(
                new sfn.Choice(this, 'BatchHealthy?')
                  .when(
                    sfn.Condition.booleanEquals('$.progress.ready', true),
                    warmUp
                      .next(checkAlarmsAfterBatch)
                      .next(retireBatch)
                      .next(checkSafePoint)
                      .next(
                        new sfn.Choice(this, 'StopAtSafePoint?')
                          .when(sfn.Condition.isPresent('$.safePoint.outcome'), releaseAtSafePoint)
                          .otherwise(
                            new sfn.Choice(this, 'OldInstancesLeft?')
                              .when(
                                sfn.Condition.numberEquals('$.progress.remainingOld', 0),
                                bake.next(checkAlarmsAfterBake).next(releaseBeforeCommit),
                              )
                              .otherwise(
                                new sfn.Choice(this, 'ContinueAsNew?')
                                  .when(
                                    sfn.Condition.booleanEquals('$.safePoint.continueNow', true),
                                    continueAsNew,
                                  )
                                  .otherwise(launchBatch),
                              ),
                          ),
                      ),
                  )
                  .otherwise(waitForBatch),
              ),
          ),
      );
    const definition = new sfn.Choice(this, 'ContinuesARollout?')
      .when(sfn.Condition.isPresent('$.safePoint.continuation'), takeOverLock.next(launchBatch))
      .otherwise(fresh);

    const workflow = standardWorkflow(this, {
      definition,
      timeout: executionTimeout,
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
    // Continue-as-new: the state machine may start executions of itself, and only of itself. A
    // policy of its own (not the role's default policy, which the state machine depends on), so
    // that naming the state machine's ARN makes no circular dependency.
    new iam.Policy(this, 'ContinueAsNewPolicy', {
      roles: [workflow.stateMachine.role],
      statements: [
        new iam.PolicyStatement({
          actions: ['states:StartExecution'],
          resources: [workflow.stateMachine.stateMachineArn],
        }),
      ],
    });
    this.alarms = workflow.alarms;
  }
}
