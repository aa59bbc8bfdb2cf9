import { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { DetailTypes } from '../lambdas/domain/contract';
import { ValidateSteps, type ValidateStep } from '../lambdas/domain/steps';
import type { ValidateState } from '../lambdas/domain/validation';
import { standardWorkflow, type StatePath, type WorkflowCommonProps, WorkflowKit } from './workflow-kit';

export interface ValidateWorkflowProps extends WorkflowCommonProps {
  /** The function behind every step: see `ValidateSteps`. */
  readonly validateFunction: lambda.IFunction;
  /**
   * The longest validation timeout of any channel: the execution's own deadline adds the cleanup
   * and a margin to it.
   * @default Duration.minutes(30)
   */
  readonly validationTimeout?: Duration;
}

/** Failed ends (a human is needed): the ExecutionsFailed alarm counts them. */
export const ValidateFailures = {
  /** The validation instance could not be cleaned up (the group still holds it). */
  cleanup: 'ValidationCleanupFailed',
  /** The verdict could not be recorded or reported. */
  report: 'ValidationReportFailed',
} as const;

/**
 * The Validate workflow (issue 13 §2): before an image enters its channel's fleets, one instance
 * is launched from it in the channel's validation group and the deployer's test runs on it.
 * JSONPath and Lambda tasks only (docs/architecture.md, "Toolchain facts").
 *
 * Input: `ValidateInput` (the image, the channel, its validation, the publication). Prepare (a
 * launch template version with the image, desired capacity 1) → poll for the instance InService
 * and healthy → the test (SSM command polled to a final status, and/or the test function) →
 * **always** the cleanup (desired 0, poll until the instance is gone; every failure of an earlier
 * step goes there too, remembered at `$.error`/`$.failedStep`) → the verdict (ReportValidation:
 * the rollouts, or the quarantine). A failed validation is a handled end (Succeed
 * `ImageValidationFailed`); only a cleanup or a report that fails for good ends FAILED.
 */
export class ValidateWorkflow extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly logGroup: logs.LogGroup;
  /** Alarms on failed, throttled, aborted and timed-out executions. */
  public readonly alarms: cloudwatch.Alarm[];
  /** How long one run of the workflow may take. */
  public readonly timeout: Duration;

  constructor(scope: Construct, id: string, props: ValidateWorkflowProps) {
    super(scope, id);
    const pollInterval = props.pollInterval ?? Duration.seconds(15);
    const validationTimeout = props.validationTimeout ?? Duration.minutes(30);
    // The validation's own deadline (checked by the steps), the cleanup's (15 minutes), a margin.
    const timeout = Duration.seconds(validationTimeout.toSeconds() + 30 * 60);
    this.timeout = timeout;

    const k = new WorkflowKit<ValidateState>(this, { pollInterval });
    const step = (s: ValidateStep, resultPath: StatePath<ValidateState>) =>
      k.lambdaStep({ fn: props.validateFunction, step: s, resultPath });

    const cleanupFailed = new sfn.Fail(this, ValidateFailures.cleanup, {
      error: ValidateFailures.cleanup,
      causePath: '$.cleanupError.Cause',
    });
    const reportFailed = new sfn.Fail(this, ValidateFailures.report, {
      error: ValidateFailures.report,
      causePath: '$.error.Cause',
    });

    const prepare = step(ValidateSteps.PrepareValidation, '$.target');
    const instance = k.pollUntil('InstanceLoop', {
      check: {
        fn: props.validateFunction,
        step: ValidateSteps.CheckValidationInstance,
        resultPath: '$.instance',
      },
      until: k.when.isTrue('$.instance.ready'),
      choice: 'ValidationInstanceReady?',
      wait: 'WaitForValidationInstance',
      waitFirst: true,
    });
    const startTest = step(ValidateSteps.StartValidationTest, '$.test');
    const test = k.pollUntil('TestLoop', {
      check: { fn: props.validateFunction, step: ValidateSteps.CheckValidationTest, resultPath: '$.test' },
      until: k.when.isTrue('$.test.done'),
      choice: 'TestDone?',
      wait: 'WaitForTest',
    });
    const cleanup = step(ValidateSteps.CleanUpValidation, '$.cleanup');
    const cleanupLoop = k.pollUntil('CleanupLoop', {
      check: {
        fn: props.validateFunction,
        step: ValidateSteps.CheckValidationCleanup,
        resultPath: '$.cleanup',
      },
      until: k.when.isTrue('$.cleanup.gone'),
      choice: 'ValidationInstanceGone?',
      wait: 'WaitForCleanup',
      waitFirst: true,
    });
    const report = step(ValidateSteps.ReportValidation, '$.report');

    // Whatever fails before the cleanup goes through the cleanup (and the verdict: failed).
    k.onFailure([prepare, instance.check, startTest, test.check], cleanup);
    k.catch(cleanup, cleanupFailed, { resultPath: '$.cleanupError' });
    k.catch(cleanupLoop.check, cleanupFailed, { resultPath: '$.cleanupError' });
    k.catch(report, reportFailed, { resultPath: '$.error' });

    const validated = k.succeed(DetailTypes.ImageValidated);
    const failed = k.handledEnd(DetailTypes.ImageValidationFailed, { reason: '$.report.reason' });

    const definition = prepare.next(instance);
    instance.next(startTest).next(test);
    test.next(cleanup);
    cleanup.next(cleanupLoop);
    cleanupLoop.next(report);
    report.next(k.choice('ImagePassed?').when(k.when.isTrue('$.report.passed'), validated).otherwise(failed));

    const workflow = standardWorkflow(this, {
      definition,
      timeout,
      removalPolicy: props.removalPolicy,
      logRetention: props.logRetention,
      encryptionKey: props.encryptionKey,
      comment:
        'Phoenix validate: one instance launched from a new image, the channel test run on it, then cleaned up',
      alarms: {
        failed:
          'A Phoenix validation failed for good: its validation instance may still run (cleanup) or its verdict was not reported',
        throttled: 'Phoenix validation executions are throttled',
        aborted:
          'A Phoenix validation was aborted: its validation instance may still run (set the group to 0)',
        timedOut:
          'A Phoenix validation timed out: its validation instance may still run (set the group to 0)',
      },
    });
    this.stateMachine = workflow.stateMachine;
    this.logGroup = workflow.logGroup;
    this.alarms = workflow.alarms;
  }
}
