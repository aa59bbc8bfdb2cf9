import { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { DetailTypes } from '../lambdas/domain/contract';
import { DrainSteps, type ReplaceStep, ReplaceSteps, RetireInstanceStep } from '../lambdas/domain/steps';
import {
  checkTiming,
  FlushLoop,
  MAX_FAST_CHECKS,
  type Outcome,
  type ReplaceWorkflowState,
  standardWorkflow,
  type StatePath,
  type WorkflowCommonProps,
  WorkflowKit,
} from './workflow-kit';

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
 * maximum allows. JSONPath only (see docs/architecture.md, "Toolchain facts").
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

    const k = new WorkflowKit<ReplaceWorkflowState>(this, { pollInterval });
    const step = (
      step: ReplaceStep | typeof RetireInstanceStep,
      resultPath: StatePath<ReplaceWorkflowState>,
      payload?: Record<string, unknown>,
      name?: string,
    ) => k.lambdaStep({ fn: props.replaceFunction, step, resultPath, payload, name });

    // Every end reports its outcome as it releases the slot (ReleaseReplacementSlot); a report
    // that fails ends ReplacementFailed.
    const failed = k.fail(DetailTypes.ReplacementFailed, '$.error.Cause');
    const report = (name: string, outcome: Outcome) =>
      step(ReplaceSteps.ReleaseReplacementSlot, '$.report', { outcome }, name);
    const reportFailed = report('ReportFailed', DetailTypes.ReplacementFailed);
    k.catch(reportFailed, failed, { resultPath: '$.reportError' });
    reportFailed.next(failed);
    const reportSkipped = report('ReportSkipped', DetailTypes.ReplacementSkipped);
    k.catch(reportSkipped, reportFailed, { resultPath: '$.error' });
    reportSkipped.next(k.succeed(DetailTypes.ReplacementSkipped));
    const reportReplaced = report('ReportReplaced', DetailTypes.InstanceReplaced);
    reportReplaced.next(k.succeed(DetailTypes.InstanceReplaced));

    // Top-down: resolve the instance, taint it, wait for a slot of the disruption budget.
    const resolve = step(ReplaceSteps.ResolveInstance, '$.instance');
    const taint = step(ReplaceSteps.TaintInstance, '$.taint');
    // Paced (lambdas/domain/pacing.ts): once the surge waits for its target groups' initial health
    // checks alone, the next check comes within half a health-check interval, at most
    // MAX_FAST_CHECKS times; otherwise every poll interval.
    const replace = step(ReplaceSteps.ReplaceInstance, '$.replacement', {
      maxChecks,
      pacing: { pollSeconds: pollInterval.toSeconds(), fastChecks: MAX_FAST_CHECKS },
    });
    const slot = k.pollUntil('SlotLoop', {
      check: { fn: props.replaceFunction, step: ReplaceSteps.AcquireReplacementSlot, resultPath: '$.slot' },
      exits: [{ when: k.when.isPresent('$.slot.skip'), next: reportSkipped }],
      until: k.when.isTrue('$.slot.acquired'),
      choice: 'SlotAcquired?',
      wait: 'WaitForSlot',
    });
    // The group serving again, at its desired capacity: checked at once after the retirement (a
    // surge already serves), after a poll once the old instance is gone.
    const serving = k.pollUntil('ServingLoop', {
      check: { fn: props.replaceFunction, step: ReplaceSteps.WaitForReplacement, resultPath: '$.health' },
      maxChecks,
      // The group is gone (a rollout retired it with the instance): nothing to replace.
      exits: [{ when: k.when.isPresent('$.health.skip'), next: reportSkipped }],
      until: k.when.isTrue('$.health.ready'),
      choice: 'GroupServing?',
      wait: 'WaitBeforeHealthCheck',
    });
    // Drain, then retire the old instance: deregister it, wait for its connections, flush it.
    const deregister = k.lambdaStep({
      fn: props.drainFunction,
      step: DrainSteps.DeregisterInstance,
      resultPath: '$.drain',
    });
    const waitForDeregistration = k.waitSeconds('WaitForDeregistration', '$.drain.delaySeconds');
    const flush = new FlushLoop(this, 'Flush', { drainFunction: props.drainFunction });
    const retire = step(RetireInstanceStep, '$.replacement');
    k.onFailure(
      [resolve, taint, slot.check, replace, serving.check, reportReplaced, deregister, retire],
      reportFailed,
    );

    const definition = resolve.next(
      k
        .choice('StillInFleet?')
        .when(k.when.isPresent('$.instance.skip'), reportSkipped)
        .otherwise(taint.next(slot)),
    );
    slot.next(replace);
    // Surge first when the group's maximum allows (ReplaceInstance says when the old one may go).
    const waitForNewInstance = k.waitSeconds('WaitForNewInstance', '$.replacement.nextCheckSeconds');
    waitForNewInstance.next(replace);
    // A result without its pace (a step that does not know `pacing`) waits one poll interval.
    const waitForNewInstanceInterval = k.wait('WaitForNewInstanceInterval');
    waitForNewInstanceInterval.next(replace);
    replace.next(
      k
        .choice('OldInstanceGone?')
        .when(k.when.isPresent('$.replacement.skip'), reportSkipped)
        .when(k.when.isTrue('$.replacement.done'), serving.waitState)
        .when(k.when.isPresent('$.replacement.retire'), deregister)
        .when(k.when.isPresent('$.replacement.again'), replace)
        .when(k.when.isNotPresent('$.replacement.nextCheckSeconds'), waitForNewInstanceInterval)
        .otherwise(waitForNewInstance),
    );
    deregister.next(waitForDeregistration).next(flush).next(retire).next(serving).next(reportReplaced);

    const workflow = standardWorkflow(this, {
      definition,
      timeout,
      removalPolicy: props.removalPolicy,
      logRetention: props.logRetention,
      encryptionKey: props.encryptionKey,
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
