import { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { DetailTypes } from '../lambdas/domain/contract';
import { ErrorNames } from '../lambdas/domain/errors';
import type { HistoryBudget } from '../lambdas/domain/rollout';
import { type FleetStep, FleetSteps, type RecordStep, RecordSteps } from '../lambdas/domain/steps';
import { blueGreenStates, isBlueGreen } from './blue-green-states';
import {
  checkTiming,
  continueAsNewStep,
  type Outcome,
  retryTransient,
  rolloutHistoryBudget,
  type RolloutState,
  standardWorkflow,
  type StatePath,
  type WorkflowCommonProps,
  WorkflowKit,
} from './workflow-kit';

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
 * it on its previous image with its capacity restored. JSONPath only (see docs/architecture.md,
 * "Toolchain facts").
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
    // (see WaitForHealthyBatch): at least 2 checks, so that it always gets at least one poll interval.
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
    const { lockWaitInterval, fastChecks, ...historyBudget } = budget;
    this.historyBudget = historyBudget;

    const definition = new RolloutGraph(this, {
      fleetFunction: props.fleetFunction,
      recordFunction: props.recordFunction,
      pollInterval,
      lockWaitInterval,
      lockSeconds: executionTimeout.toSeconds(),
      timeoutSeconds: timeout.toSeconds(),
      maxHealthChecks,
      gateChecks,
      fastChecks,
      historyBudget,
    }).definition();

    const workflow = standardWorkflow(this, {
      definition,
      timeout: executionTimeout,
      removalPolicy: props.removalPolicy,
      logRetention: props.logRetention,
      encryptionKey: props.encryptionKey,
      comment: 'Phoenix rollout: one fleet onto one image, surge first, all or nothing',
      alarms: {
        failed:
          'A Phoenix rollout failed (RolloutFailed): a rollback or a report failed, the fleet needs a human (rejected, rolled-back, superseded and paused rollouts end SUCCEEDED)',
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

/** Terminal errors that reject a rollout (`RolloutRejected`): nothing was changed. */
const Rejections = {
  /** ReadImage: the image is missing or not an AMI. */
  image: [ErrorNames.ImageRejectedError],
  /** AcquireFleetLock: another rollout holds the fleet, a newer image is rolling, paused, past the deadline. */
  lock: [
    ErrorNames.FleetBusyError,
    ErrorNames.OlderImageError,
    ErrorNames.FleetPausedError,
    ErrorNames.RolloutTimedOutError,
  ],
  /** ValidateImage: the image, the fleet or one of its settings. */
  validation: [
    ErrorNames.ImageRejectedError,
    ErrorNames.FleetNotFoundError,
    ErrorNames.UnsupportedFleetError,
    ErrorNames.FleetBusyError,
    ErrorNames.InvalidFleetSettingError,
  ],
  /** CheckAlarmsBeforeStart: a gating alarm is in ALARM. */
  alarms: [ErrorNames.AlarmBreachedError],
} as const;

interface RolloutGraphProps {
  readonly fleetFunction: lambda.IFunction;
  readonly recordFunction: lambda.IFunction;
  readonly pollInterval: Duration;
  readonly lockWaitInterval: Duration;
  /** How long the fleet lock holds: the whole execution. */
  readonly lockSeconds: number;
  /** The rollout's timeout (its deadline is its start plus this). */
  readonly timeoutSeconds: number;
  /** Checks of a rollback's capacity. */
  readonly maxHealthChecks: number;
  /** Checks of a batch, and of each blue-green gate. */
  readonly gateChecks: number;
  readonly historyBudget: HistoryBudget;
  /** The fast checks a batch may take (see rolloutHistoryBudget, lambdas/domain/pacing.ts). */
  readonly fastChecks: number;
}

/** How a rollout ends after a report. */
interface RolloutEnds {
  /** ReportRejected → RolloutRejected: nothing was changed. */
  readonly reportRejected: sfn.IChainable;
  /** ReportRolledBack → RolloutRolledBack. */
  readonly reportRolledBack: sfn.IChainable;
  /** ReportFailed → RolloutFailed: it needs a human. */
  readonly reportFailed: sfn.IChainable;
  /** The RolloutFailed end. */
  readonly failed: sfn.Fail;
  /** After the scaling processes were suspended: ReleaseFleetAfterFailure → ReportFailed. */
  readonly releaseAfterFailure: sfn.IChainable;
}

/**
 * The Rollout graph, top-down. A sub-chain that several others lead to (the batch loop, commit,
 * rollback, the ends) is built once, on first use, so that the methods read in the order a
 * rollout runs:
 *
 *   ContinuesARollout? ─ continuation: TakeOverFleetLock → batch loop
 *                      └ start: ReadImage → AcquireFleetLock (↺ WaitForRolloutSlot, ↺ WaitForFleetLock) → ValidateImage →
 *                        FleetAlreadyOnImage? (→ commit) → CheckAlarmsBeforeStart → BlueGreen?
 *                        (→ blue-green, lib/blue-green-states.ts) → rolling
 *   rolling:    SuspendScalingProcesses → ReconcileLaunchTemplate → batch loop
 *   batch loop: LaunchBatch → CheckBatchHealth (↺ WaitForHealthyBatch) → WarmUpBatch →
 *               CheckAlarmsAfterBatch → RetireBatch → safe point
 *   safe point: CheckSafePoint → stop (superseded, paused) | finish (no old instance left) |
 *               ContinueAsNew (history budget) | the next batch
 *   finish:     Bake → CheckAlarmsAfterBake → ReleaseFleetBeforeCommit → commit
 *   commit:     CommitRollout → RolloutSucceeded
 *   rollback:   (any failure after the first change) StartRollback → CheckRollbackCapacity
 *               (↺ WaitForRollbackCapacity) → FinishRollback → QuarantineImage → ReportRolledBack
 */
class RolloutGraph {
  private readonly k: WorkflowKit<RolloutState>;
  private endsOf?: RolloutEnds;
  private commitChain?: tasks.LambdaInvoke;
  private rollbackChain?: sfn.IChainable;
  private launchBatchStep?: tasks.LambdaInvoke;
  private batchLoopChain?: sfn.IChainable;

  constructor(
    private readonly scope: Construct,
    private readonly props: RolloutGraphProps,
  ) {
    this.k = new WorkflowKit<RolloutState>(scope, { pollInterval: props.pollInterval });
  }

  /** The whole graph. */
  definition(): sfn.IChainable {
    const { k } = this;
    return k
      .choice('ContinuesARollout?')
      .when(k.when.isPresent('$.safePoint.continuation'), this.continuation())
      .otherwise(this.start());
  }

  /** Continue-as-new: a continuation takes the lock from its predecessor and goes on batching. */
  private continuation(): sfn.IChainable {
    const takeOverLock = this.record(RecordSteps.TakeOverFleetLock, '$.lock', {
      lockSeconds: this.props.lockSeconds,
    });
    this.k.catch(takeOverLock, this.ends().releaseAfterFailure, { resultPath: '$.error' });
    return takeOverLock.next(this.batchLoop());
  }

  /** Read the image, take the fleet lock, validate; then commit at once, or check the alarms and pick the strategy. */
  private start(): sfn.IChainable {
    const { k } = this;
    const { reportRejected, reportFailed } = this.ends();
    // The image's CreationDate orders rollouts of a fleet (supersede, late images).
    const readImage = this.fleet(FleetSteps.ReadImage, '$.image');
    k.catch(readImage, reportRejected, { errors: Rejections.image, resultPath: '$.error' });
    k.catch(readImage, reportFailed, { resultPath: '$.error' });

    // The lock holds for the whole execution. A rollout that must wait in line waits and asks
    // again: for a global slot (RolloutSlotQueuedError) in WaitForRolloutSlot, woken when a slot
    // is given back; for an older image's rollout asked to stop or for replacements in flight
    // (RolloutQueuedError) in WaitForFleetLock. Past its deadline the lock step rejects it
    // (RolloutTimedOutError).
    const acquireLock = this.record(RecordSteps.AcquireFleetLock, '$.lock', {
      lockSeconds: this.props.lockSeconds,
      timeoutSeconds: this.props.timeoutSeconds,
      'startedAt.$': '$$.Execution.StartTime',
    });
    const waitForLock = k.wait('WaitForFleetLock', sfn.WaitTime.duration(this.props.lockWaitInterval));
    waitForLock.next(acquireLock);
    const waitForSlot = this.waitForRolloutSlot(acquireLock, waitForLock);
    k.catch(acquireLock, waitForSlot, {
      errors: [ErrorNames.RolloutSlotQueuedError],
      resultPath: '$.queued',
    });
    k.catch(acquireLock, waitForLock, { errors: [ErrorNames.RolloutQueuedError], resultPath: '$.queued' });
    k.catch(acquireLock, reportRejected, { errors: Rejections.lock, resultPath: '$.error' });
    k.catch(acquireLock, reportFailed, { resultPath: '$.error' });

    const validateImage = this.fleet(FleetSteps.ValidateImage, '$.fleetState', {
      maxChecks: this.props.gateChecks,
    });
    k.catch(validateImage, reportRejected, { errors: Rejections.validation, resultPath: '$.error' });
    k.catch(validateImage, reportFailed, { resultPath: '$.error' });

    // The gating alarms (tag `phoenix:alarms`): in ALARM before the start rejects the rollout;
    // after a batch (and its warm-up) or after the bake, it rolls back.
    const checkAlarmsBeforeStart = this.checkAlarms('CheckAlarmsBeforeStart', 'start');
    k.catch(checkAlarmsBeforeStart, reportRejected, { errors: Rejections.alarms, resultPath: '$.error' });
    k.catch(checkAlarmsBeforeStart, reportFailed, { resultPath: '$.error' });

    return readImage
      .next(acquireLock)
      .next(validateImage)
      .next(
        k
          .choice('FleetAlreadyOnImage?')
          .when(k.when.isTrue('$.fleetState.upToDate'), this.commit())
          .otherwise(
            // The strategy (tag `phoenix:strategy`): blue-green takes its own branch; rolling is the default.
            checkAlarmsBeforeStart.next(
              k.choice('BlueGreen?').when(isBlueGreen, this.blueGreen()).otherwise(this.rolling()),
            ),
          ),
      );
  }

  /**
   * The wait for a global rollout slot, the callback pattern: the record function registers the
   * task token as a waiter (or takes a slot freed meanwhile and wakes the task itself); a release
   * of a slot wakes the oldest waiters (SendTaskSuccess). Woken, timed out after one lock-wait
   * interval (States.Timeout: a lost wake-up costs what the plain wait cost) → AcquireFleetLock;
   * the registration failed → the plain WaitForFleetLock.
   */
  private waitForRolloutSlot(acquireLock: sfn.IChainable, waitForLock: sfn.IChainable): tasks.LambdaInvoke {
    const name = RecordSteps.WaitForRolloutSlot;
    const task = new tasks.LambdaInvoke(this.scope, name, {
      stateName: name,
      lambdaFunction: this.props.recordFunction,
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      retryOnServiceExceptions: false,
      payload: sfn.TaskInput.fromObject({
        step: name,
        'execution.$': '$$.Execution.Name',
        'state.$': '$',
        token: sfn.JsonPath.taskToken,
        lockSeconds: this.props.lockSeconds,
      }),
      taskTimeout: sfn.Timeout.duration(this.props.lockWaitInterval),
      resultPath: '$.slotWait',
    });
    retryTransient(task);
    task.addCatch(acquireLock, { errors: [sfn.Errors.TIMEOUT], resultPath: '$.slotWaitError' });
    task.addCatch(waitForLock, { errors: [sfn.Errors.ALL], resultPath: '$.slotWaitError' });
    task.next(acquireLock);
    return task;
  }

  /** Blue-green (lib/blue-green-states.ts): green next to blue, cut over, retire blue. */
  private blueGreen(): sfn.IChainable {
    const { reportRolledBack, reportFailed, failed } = this.ends();
    return blueGreenStates(this.scope, {
      kit: this.k,
      fleetFunction: this.props.fleetFunction,
      recordFunction: this.props.recordFunction,
      maxChecks: this.props.gateChecks,
      commit: this.commit(),
      reportRolledBack,
      reportFailed,
      failed,
    });
  }

  /** Rolling: Auto Scaling must not rebalance or scale on alarms or schedules; then the new launch template version and the batches. */
  private rolling(): sfn.IChainable {
    const suspendProcesses = this.fleet(FleetSteps.SuspendScalingProcesses, '$.suspended');
    const reconcileLaunchTemplate = this.fleet(FleetSteps.ReconcileLaunchTemplate, '$.launchTemplate');
    this.k.onFailure([suspendProcesses, reconcileLaunchTemplate], this.rollback());
    return suspendProcesses.next(reconcileLaunchTemplate).next(this.batchLoop());
  }

  /** One batch: launch (surge first), wait until healthy, warm up, check the alarms, retire as many old instances. */
  private batchLoop(): sfn.IChainable {
    if (this.batchLoopChain !== undefined) return this.batchLoopChain;
    const { k } = this;
    const launchBatch = this.launchBatch();
    this.batchLoopChain = launchBatch;
    // A batch is checked once right after its launch, then after each poll interval: a batch that
    // is ready at once (warm pools, the emulator) does not wait a poll for nothing. The immediate
    // check counts towards maxChecks (gateChecks), so the last check comes (maxChecks - 1) polls
    // after the launch: the batch health timeout less one poll interval (at least one poll interval).
    // Paced: once the batch waits for its target groups' initial health checks alone, the check
    // asks for the next one within half a health-check interval (a bounded number of times).
    const healthy = k.pollUntil('BatchHealthLoop', {
      check: { fn: this.props.fleetFunction, step: FleetSteps.CheckBatchHealth, resultPath: '$.progress' },
      until: k.when.isTrue('$.progress.ready'),
      choice: 'BatchHealthy?',
      wait: 'WaitForHealthyBatch',
      paced: { secondsPath: '$.progress.nextCheckSeconds', fastChecks: this.props.fastChecks },
    });
    // Warm-up and bake are Wait states (scaled by the local runtime like every Wait), so they run
    // in the workflow's time, not the step's clock.
    const warmUp = k.waitSeconds('WarmUpBatch', '$.fleetState.warmupSeconds');
    const checkAlarmsAfterBatch = this.checkAlarms('CheckAlarmsAfterBatch', 'batch');
    const retireBatch = this.fleet(FleetSteps.RetireBatch, '$.progress');
    k.onFailure([launchBatch, healthy.check, checkAlarmsAfterBatch, retireBatch], this.rollback());
    launchBatch
      .next(healthy)
      .next(warmUp)
      .next(checkAlarmsAfterBatch)
      .next(retireBatch)
      .next(this.safePoint());
    return launchBatch;
  }

  /**
   * A safe point (batch boundary): superseded or paused → stop cleanly; no old instance left →
   * finish; one more batch might not fit the history budget → continue as a new execution; else
   * the next batch. Past the deadline, CheckSafePoint fails: roll back.
   */
  private safePoint(): sfn.IChainable {
    const { k } = this;
    const checkSafePoint = this.record(RecordSteps.CheckSafePoint, '$.safePoint', {
      historyBudget: { ...this.props.historyBudget },
    });
    // Not committed: the group goes back to the launch template version of the desired image.
    const releaseAtSafePoint = this.fleet(
      FleetSteps.ReleaseFleet,
      '$.release',
      { restoreLaunchTemplate: true },
      'ReleaseFleetAtSafePoint',
    );
    const reportStopped = this.record(
      RecordSteps.ReportOutcome,
      '$.report',
      { 'outcome.$': '$.safePoint.outcome', 'reason.$': '$.safePoint.reason' },
      'ReportStopped',
    );
    k.catch(reportStopped, this.ends().reportFailed, { resultPath: '$.error' });
    // Superseded or paused: a handled end (the execution succeeds), the outcome in its output.
    releaseAtSafePoint
      .next(reportStopped)
      .next(
        k.handledEnd(
          { path: '$.safePoint.outcome', name: 'RolloutStopped' },
          { reason: '$.safePoint.reason' },
        ),
      );
    const continueAsNew = continueAsNewStep(this.scope, 'ContinueAsNew', {
      namePath: '$.safePoint.continuation.name',
      resultPath: '$.continued',
    });
    continueAsNew
      .next(
        new sfn.Pass(this.scope, 'HandedOver', {
          parameters: { 'continued.$': '$.safePoint.continuation.name' },
        }),
      )
      .next(k.stop('RolloutContinued', 'A continuation goes on'));
    k.onFailure([checkSafePoint, releaseAtSafePoint, continueAsNew], this.rollback());
    return checkSafePoint.next(
      k
        .choice('StopAtSafePoint?')
        .when(k.when.isPresent('$.safePoint.outcome'), releaseAtSafePoint)
        .otherwise(
          k
            .choice('OldInstancesLeft?')
            .when(k.when.equals('$.progress.remainingOld', 0), this.finish())
            .otherwise(
              k
                .choice('ContinueAsNew?')
                .when(k.when.isTrue('$.safePoint.continueNow'), continueAsNew)
                .otherwise(this.launchBatch()),
            ),
        ),
    );
  }

  /** After the last batch: bake, check the alarms, give the fleet back its limits and processes, commit. */
  private finish(): sfn.IChainable {
    const bake = this.k.waitSeconds('Bake', '$.fleetState.bakeSeconds');
    const checkAlarmsAfterBake = this.checkAlarms('CheckAlarmsAfterBake', 'bake');
    const releaseBeforeCommit = this.fleet(
      FleetSteps.ReleaseFleet,
      '$.release',
      {},
      'ReleaseFleetBeforeCommit',
    );
    this.k.onFailure([releaseBeforeCommit, checkAlarmsAfterBake], this.rollback());
    return bake.next(checkAlarmsAfterBake).next(releaseBeforeCommit).next(this.commit());
  }

  /** CommitRollout → RolloutSucceeded (also for a fleet already on the image, and after blue-green). */
  private commit(): tasks.LambdaInvoke {
    if (this.commitChain !== undefined) return this.commitChain;
    const commit = this.record(RecordSteps.CommitRollout, '$.report');
    this.commitChain = commit;
    this.k.catch(commit, this.ends().reportFailed, { resultPath: '$.error' });
    commit.next(this.k.succeed(DetailTypes.RolloutSucceeded));
    return commit;
  }

  /**
   * Rollback: point the group back at its previous launch template version, restore the old
   * image's capacity, wait for it to be healthy, then remove the new instances. A rollback step
   * that fails: ReleaseFleetAfterFailure → RolloutFailed.
   */
  private rollback(): sfn.IChainable {
    if (this.rollbackChain !== undefined) return this.rollbackChain;
    const { k } = this;
    const { releaseAfterFailure, reportRolledBack } = this.ends();
    const startRollback = this.fleet(FleetSteps.StartRollback, '$.rollback');
    this.rollbackChain = startRollback;
    const restored = k.pollUntil('RollbackCapacityLoop', {
      check: {
        fn: this.props.fleetFunction,
        step: FleetSteps.CheckRollbackCapacity,
        resultPath: '$.rollback',
      },
      maxChecks: this.props.maxHealthChecks,
      until: k.when.isTrue('$.rollback.ready'),
      choice: 'RollbackCapacityRestored?',
      wait: 'WaitForRollbackCapacity',
      waitFirst: true,
    });
    const finishRollback = this.fleet(FleetSteps.FinishRollback, '$.rollback');
    for (const task of [startRollback, restored.check, finishRollback]) {
      k.catch(task, releaseAfterFailure, { resultPath: '$.rollbackError' });
    }
    startRollback.next(restored).next(finishRollback).next(reportRolledBack);
    return startRollback;
  }

  /**
   * The reports and the ends they lead to. Rejected and rolled back are handled ends: the
   * execution SUCCEEDS with `{ outcome, reason, error, step }` (`WorkflowKit.handledEnd`); only
   * RolloutFailed (and a report that itself failed: no outcome event, the lock may be held) ends
   * in a Fail, which the ExecutionsFailed alarm counts.
   */
  private ends(): RolloutEnds {
    if (this.endsOf !== undefined) return this.endsOf;
    const { k } = this;
    const failedEnd = k.fail(DetailTypes.RolloutFailed, '$.error.Cause');
    const report = (name: string, outcome: Outcome, end: sfn.IChainable) => {
      const task = this.record(RecordSteps.ReportOutcome, '$.report', { outcome }, name);
      k.catch(task, failedEnd, { resultPath: '$.reportError' });
      return task.next(end);
    };
    // Every way in has $.error (a Catch's); a rollback also $.failedStep (onFailure).
    const rejected = report(
      'ReportRejected',
      DetailTypes.RolloutRejected,
      k.handledEnd(DetailTypes.RolloutRejected, { reason: '$.error.Cause', error: '$.error.Error' }),
    );
    const reportRolledBack = report(
      'ReportRolledBack',
      DetailTypes.RolloutRolledBack,
      k.handledEnd(DetailTypes.RolloutRolledBack, {
        reason: '$.error.Cause',
        error: '$.error.Error',
        step: '$.failedStep',
      }),
    );
    // Quarantine (lambdas/domain/quarantine.ts): a rollback the image caused tags the AMI before
    // the report (which records it and puts ImageQuarantined). A quarantine that fails is caught
    // and reported in RolloutRolledBack: it never turns a clean rollback into RolloutFailed.
    const quarantine = this.fleet(FleetSteps.QuarantineImage, '$.quarantine');
    k.catch(quarantine, reportRolledBack, { resultPath: '$.quarantineError' });
    const rolledBack = quarantine.next(reportRolledBack);
    const failed = { end: failedEnd, chain: report('ReportFailed', DetailTypes.RolloutFailed, failedEnd) };
    // After the scaling processes were suspended, a failure resumes them (the fleet's limits are
    // left as they are: it needs a human) before RolloutFailed.
    const releaseAfterFailure = this.fleet(
      FleetSteps.ReleaseFleet,
      '$.release',
      { restoreLimits: false },
      'ReleaseFleetAfterFailure',
    );
    k.catch(releaseAfterFailure, failed.chain, { resultPath: '$.releaseError' });
    releaseAfterFailure.next(failed.chain);
    this.endsOf = {
      reportRejected: rejected,
      reportRolledBack: rolledBack,
      reportFailed: failed.chain,
      failed: failed.end,
      releaseAfterFailure,
    };
    return this.endsOf;
  }

  /** A first batch is launched from the rolling start, each next one from the safe point. */
  private launchBatch(): tasks.LambdaInvoke {
    return (this.launchBatchStep ??= this.fleet(FleetSteps.LaunchBatch, '$.progress'));
  }

  /** The gating alarms' check (`CheckAlarms`) at one phase of the rollout. */
  private checkAlarms(name: string, phase: 'start' | 'batch' | 'bake'): tasks.LambdaInvoke {
    return this.fleet(FleetSteps.CheckAlarms, '$.alarmCheck', { phase }, name);
  }

  private fleet(
    step: FleetStep,
    resultPath: StatePath<RolloutState>,
    payload?: Record<string, unknown>,
    name?: string,
  ) {
    return this.k.lambdaStep({ fn: this.props.fleetFunction, step, resultPath, payload, name });
  }

  private record(
    step: RecordStep,
    resultPath: StatePath<RolloutState>,
    payload?: Record<string, unknown>,
    name?: string,
  ) {
    return this.k.lambdaStep({ fn: this.props.recordFunction, step, resultPath, payload, name });
  }
}
