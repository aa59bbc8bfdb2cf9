import { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { DetailTypes } from '../lambdas/domain/contract';
import { FLUSH_POLL_SECONDS } from '../lambdas/domain/drain';
import { DrainSteps, ReplaceSteps, RetireInstanceStep } from '../lambdas/domain/steps';
import { checkTiming, lambdaStep, standardWorkflow, type WorkflowCommonProps } from './workflow-kit';

export interface ReplaceWorkflowProps extends WorkflowCommonProps {
  /** The function behind every step: see `ReplaceSteps`. */
  readonly replaceFunction: lambda.IFunction;
  /** The function behind the drain steps: see `DrainSteps` (DeregisterInstance, StartFlush, CheckFlush). */
  readonly drainFunction: lambda.IFunction;
  /**
   * How long one replacement may run in all, waiting for a slot of the disruption budget included.
   * @default Duration.hours(1)
   */
  readonly timeout?: Duration;
  /**
   * How long a new instance may take to serve, and the group to be back at its desired capacity.
   * @default Duration.minutes(10)
   */
  readonly healthTimeout?: Duration;
}

/**
 * The Replace workflow: one instance of a fleet terminated and replaced by a fresh one from the
 * group's launch template, within the fleet's disruption budget, surge first when the group's
 * maximum allows. JSONPath only (see DESIGN.md §5).
 *
 * Input: `{ fleet, instanceId, cause, reason, requestId }`. Every step re-reads the real state; the
 * workflow carries what it must remember: the group as it was (`$.instance`), the slot (`$.slot`),
 * the replacement (`$.replacement`), the drain (`$.drain`) and the group's health (`$.health`).
 * Every end reports an outcome: `InstanceReplaced`, `ReplacementSkipped` or `ReplacementFailed`
 * (slot released).
 *
 * Before the old instance goes (surge or terminate), it is drained: deregistered from the target
 * groups that hold it, then a Wait of the longest deregistration delay (`$.drain.delaySeconds`: 0
 * for a Spot interruption), then the flush document of the fleet, if any, polled until it ends or
 * its timeout passes. A flush that fails or times out does not stop the replacement.
 */
export class ReplaceWorkflow extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly logGroup: logs.LogGroup;
  /** Alarms on failed, throttled, aborted and timed-out executions. */
  public readonly alarms: cloudwatch.Alarm[];
  /** How long one run of the workflow may take before it gives up (its deadline), defaults applied. */
  public readonly timeout: Duration;

  constructor(scope: Construct, id: string, props: ReplaceWorkflowProps) {
    super(scope, id);
    const timeout = props.timeout ?? Duration.hours(1);
    this.timeout = timeout;
    const pollInterval = props.pollInterval ?? Duration.seconds(15);
    const healthTimeout = props.healthTimeout ?? Duration.minutes(10);
    const maxChecks = checkTiming('ReplaceWorkflow', {
      timeout,
      pollInterval,
      healthTimeout,
      healthTimeoutName: 'healthTimeout',
    });

    const step = (
      name: string,
      resultPath: string,
      extra: Record<string, unknown> = {},
      stepName: string = name,
    ) => lambdaStep(this, props.replaceFunction, name, resultPath, extra, stepName);
    const drainStep = (name: string, resultPath: string, extra: Record<string, unknown> = {}) =>
      lambdaStep(this, props.drainFunction, name, resultPath, extra);
    const wait = (name: string) => new sfn.Wait(this, name, { time: sfn.WaitTime.duration(pollInterval) });

    // Ends.
    const replaced = new sfn.Succeed(this, 'InstanceReplaced');
    const skipped = new sfn.Succeed(this, 'ReplacementSkipped');
    const failed = new sfn.Fail(this, 'ReplacementFailed', {
      error: 'ReplacementFailed',
      causePath: '$.error.Cause',
    });
    const release = ReplaceSteps.ReleaseReplacementSlot;
    const reportFailed = step(
      'ReportFailed',
      '$.report',
      { outcome: DetailTypes.ReplacementFailed },
      release,
    );
    reportFailed.addCatch(failed, { resultPath: '$.reportError' });
    reportFailed.next(failed);
    const reportSkipped = step(
      'ReportSkipped',
      '$.report',
      { outcome: DetailTypes.ReplacementSkipped },
      release,
    );
    reportSkipped.addCatch(reportFailed, { resultPath: '$.error' });
    reportSkipped.next(skipped);

    /** Catch every terminal error of a step: remember the step, release the slot, report the failure. */
    const failOnError = (task: tasks.LambdaInvoke) => {
      const remember = new sfn.Pass(this, `${task.id}Failed`, {
        result: sfn.Result.fromString(task.id),
        resultPath: '$.failedStep',
      });
      remember.next(reportFailed);
      task.addCatch(remember, { errors: ['States.ALL'], resultPath: '$.error' });
      return task;
    };

    const resolve = failOnError(step(ReplaceSteps.ResolveInstance, '$.instance'));
    const taint = failOnError(step(ReplaceSteps.TaintInstance, '$.taint'));
    const acquire = failOnError(step(ReplaceSteps.AcquireReplacementSlot, '$.slot'));
    const waitForSlot = wait('WaitForSlot');
    const replace = failOnError(step(ReplaceSteps.ReplaceInstance, '$.replacement', { maxChecks }));
    const waitForNewInstance = wait('WaitForNewInstance');
    const waitBeforeCheck = wait('WaitBeforeHealthCheck');
    const checkHealth = failOnError(step(ReplaceSteps.WaitForReplacement, '$.health', { maxChecks }));
    const reportReplaced = failOnError(
      step('ReportReplaced', '$.report', { outcome: DetailTypes.InstanceReplaced }, release),
    );
    reportReplaced.next(replaced);

    // Drain, then retire the old instance.
    const deregister = failOnError(drainStep(DrainSteps.DeregisterInstance, '$.drain'));
    const waitForDeregistration = new sfn.Wait(this, 'WaitForDeregistration', {
      time: sfn.WaitTime.secondsPath('$.drain.delaySeconds'),
    });
    const retire = failOnError(step(RetireInstanceStep, '$.replacement'));
    const flushExtra = { pollSeconds: FLUSH_POLL_SECONDS };
    const startFlush = drainStep(DrainSteps.StartFlush, '$.drain.flush', flushExtra);
    const checkFlush = drainStep(DrainSteps.CheckFlush, '$.drain.flush', flushExtra);
    const waitForFlush = new sfn.Wait(this, 'WaitForFlush', {
      time: sfn.WaitTime.duration(Duration.seconds(FLUSH_POLL_SECONDS)),
    });
    // A flush that cannot be run or checked never blocks the replacement: it is reported.
    const flushFailed = new sfn.Pass(this, 'FlushFailed', {
      parameters: { status: 'Failed', 'reason.$': '$.flushError.Cause' },
      resultPath: '$.drain.flush',
    });
    flushFailed.next(retire);
    for (const task of [startFlush, checkFlush]) {
      task.addCatch(flushFailed, { errors: ['States.ALL'], resultPath: '$.flushError' });
    }
    const flushRunning = new sfn.Choice(this, 'FlushRunning?')
      .when(sfn.Condition.stringEquals('$.drain.flush.status', 'Running'), waitForFlush)
      .otherwise(retire);
    startFlush.next(flushRunning);
    waitForFlush.next(checkFlush);
    checkFlush.next(flushRunning);
    deregister.next(waitForDeregistration);
    waitForDeregistration.next(
      new sfn.Choice(this, 'FlushToRun?')
        .when(sfn.Condition.stringEquals('$.drain.flush.status', 'Pending'), startFlush)
        .otherwise(retire),
    );
    // Check at once after the retirement (a surge already serves), then poll.
    retire.next(checkHealth);

    waitForSlot.next(acquire);
    waitForNewInstance.next(replace);
    waitBeforeCheck.next(checkHealth);
    checkHealth.next(
      new sfn.Choice(this, 'GroupServing?')
        .when(sfn.Condition.booleanEquals('$.health.ready', true), reportReplaced)
        .otherwise(waitBeforeCheck),
    );
    replace.next(
      new sfn.Choice(this, 'OldInstanceGone?')
        .when(sfn.Condition.booleanEquals('$.replacement.done', true), waitBeforeCheck)
        .when(sfn.Condition.isPresent('$.replacement.retire'), deregister)
        .when(sfn.Condition.isPresent('$.replacement.again'), replace)
        .otherwise(waitForNewInstance),
    );
    acquire.next(
      new sfn.Choice(this, 'SlotAcquired?')
        .when(sfn.Condition.isPresent('$.slot.skip'), reportSkipped)
        .when(sfn.Condition.booleanEquals('$.slot.acquired', true), replace)
        .otherwise(waitForSlot),
    );
    const definition = resolve.next(
      new sfn.Choice(this, 'StillInFleet?')
        .when(sfn.Condition.isPresent('$.instance.skip'), reportSkipped)
        .otherwise(taint.next(acquire)),
    );

    const workflow = standardWorkflow(this, {
      definition,
      timeout,
      removalPolicy: props.removalPolicy,
      logRetention: props.logRetention,
      comment:
        'Phoenix replace: one instance of a fleet replaced by a fresh one, within the disruption budget',
      alarms: {
        failed:
          'A Phoenix replacement failed: an instance that should have been replaced may still be serving',
        throttled: 'Phoenix replacement executions are throttled',
        aborted: 'A Phoenix replacement was aborted: its disruption-budget slot may still be held',
        timedOut: 'A Phoenix replacement timed out (waiting for a slot or for the group): it needs attention',
      },
    });
    this.stateMachine = workflow.stateMachine;
    this.logGroup = workflow.logGroup;
    this.alarms = workflow.alarms;
  }
}
