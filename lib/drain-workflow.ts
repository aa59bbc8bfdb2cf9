import { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { DetailTypes } from '../lambdas/domain/contract';
import { FLUSH_POLL_SECONDS } from '../lambdas/domain/drain';
import { type DrainStep, DrainSteps } from '../lambdas/domain/steps';
import {
  type DrainWorkflowState,
  FlushLoop,
  standardWorkflow,
  type StatePath,
  type WorkflowCommonProps,
  WorkflowKit,
} from './workflow-kit';

export interface DrainWorkflowProps extends Omit<WorkflowCommonProps, 'pollInterval'> {
  /** The function behind every step: see `DrainSteps`. */
  readonly drainFunction: lambda.IFunction;
  /**
   * How long one lifecycle action may take in all. Above the longest heartbeat of the hook
   * (flush timeout at most 3600 s + 120 s).
   * @default Duration.hours(2)
   */
  readonly timeout?: Duration;
}

/**
 * The Drain workflow: one termination lifecycle action of the hook `phoenix-drain` (a termination
 * Phoenix did not drain itself: scale-in, Auto Scaling's own health replacement, a rollout's
 * retirement). JSONPath only.
 *
 * Input: `{ instanceId, groupName, hookName, token, requestId }` (intake, from the event
 * `EC2 Instance-terminate Lifecycle Action`). ResolveLifecycleAction finds the flush to run (none
 * for an instance Phoenix drained itself, tag `phoenix:drained`), the flush runs and is polled
 * (same steps as the Replace workflow's), and CompleteLifecycleAction lets Auto Scaling go on
 * (CONTINUE) — also when anything before it failed — and reports `InstanceDrained`. If the action
 * cannot be completed: `DrainFailed` and the execution fails (alarm); Auto Scaling continues anyway
 * when the hook's heartbeat times out (default result CONTINUE).
 */
export class DrainWorkflow extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly logGroup: logs.LogGroup;
  /** Alarms on failed, throttled, aborted and timed-out executions. */
  public readonly alarms: cloudwatch.Alarm[];
  /** How long one run of the workflow may take before it gives up (its deadline), defaults applied. */
  public readonly timeout: Duration;

  constructor(scope: Construct, id: string, props: DrainWorkflowProps) {
    super(scope, id);
    const timeout = props.timeout ?? Duration.hours(2);
    this.timeout = timeout;
    if (!timeout.isUnresolved() && timeout.toSeconds() < 3720) {
      throw new Error(
        `Invalid DrainWorkflow props: timeout must be at least 3720 seconds (the longest heartbeat), got ${timeout.toSeconds()}`,
      );
    }
    const k = new WorkflowKit<DrainWorkflowState>(this, {
      pollInterval: Duration.seconds(FLUSH_POLL_SECONDS),
    });
    const step = (step: DrainStep, resultPath: StatePath<DrainWorkflowState>) =>
      k.lambdaStep({ fn: props.drainFunction, step, resultPath });

    // The end: CompleteLifecycleAction (CONTINUE) → InstanceDrained; if it cannot be completed,
    // ReportDrainFailed → DrainFailed.
    const failed = k.fail(DetailTypes.DrainFailed, '$.error.Cause');
    const reportFailed = step(DrainSteps.ReportDrainFailed, '$.report');
    k.catch(reportFailed, failed, { resultPath: '$.reportError' });
    reportFailed.next(failed);
    const complete = step(DrainSteps.CompleteLifecycleAction, '$.completion');
    k.catch(complete, reportFailed, { resultPath: '$.error' });
    complete.next(k.succeed(DetailTypes.InstanceDrained));

    // Top-down: find the flush to run, run it (whatever happens to it), complete the action.
    const resolve = step(DrainSteps.ResolveLifecycleAction, '$.drain');
    const resolveFailed = new sfn.Pass(this, 'ResolveFailed', {
      parameters: {
        deregisteredFrom: [],
        delaySeconds: 0,
        flush: { status: 'Failed', 'reason.$': '$.flushError.Cause' },
      },
      resultPath: '$.drain',
    });
    k.catch(resolve, resolveFailed, { resultPath: '$.flushError' });
    resolveFailed.next(complete);
    const definition = resolve
      .next(new FlushLoop(this, 'Flush', { drainFunction: props.drainFunction }))
      .next(complete);

    const workflow = standardWorkflow(this, {
      definition,
      timeout,
      removalPolicy: props.removalPolicy,
      logRetention: props.logRetention,
      encryptionKey: props.encryptionKey,
      comment:
        'Phoenix drain: the flush of an instance Auto Scaling terminates, then CompleteLifecycleAction (CONTINUE)',
      alarms: {
        failed:
          'A Phoenix termination lifecycle action could not be completed: the termination waits for the hook heartbeat timeout',
        throttled: 'Phoenix drain executions are throttled',
        aborted: 'A Phoenix drain was aborted: its lifecycle action waits for the heartbeat timeout',
        timedOut: 'A Phoenix drain timed out: its lifecycle action was left to the heartbeat timeout',
      },
    });
    this.stateMachine = workflow.stateMachine;
    this.logGroup = workflow.logGroup;
    this.alarms = workflow.alarms;
  }
}
