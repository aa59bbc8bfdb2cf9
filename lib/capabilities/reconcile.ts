import { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { Env, Handlers, Tags } from '../../lambdas/domain/contract';
import { wildcardResourceFinding } from '../compliance';
import type { PhoenixFunction } from '../phoenix-function';
import type { ReplaceCapability } from './replace';
import {
  acknowledge,
  autoScalingGroupArns,
  type CapabilityProps,
  capabilityFunction,
  deadLetterAlarms,
  describePolicy,
  targetWithDeadLetterQueue,
} from './shared';

export interface ReconcileCapabilityProps extends CapabilityProps {
  /** The Replace capability: the sweep starts a Replace execution for each instance difference. */
  readonly replace: ReplaceCapability;
  /**
   * When the sweep runs.
   * @default events.Schedule.rate(Duration.minutes(5))
   */
  readonly schedule?: events.Schedule;
}

/**
 * The reconcile sweep: every managed fleet, actual state against desired state, on a schedule
 * (default bus). It starts Replace executions, reclaims dead slots and keeps the termination
 * lifecycle hook `phoenix-drain` on the groups that have a flush document.
 * Resources in `scope`: see ./shared.ts.
 */
export class ReconcileCapability extends Construct {
  /** The reconcile sweep (on `rule`'s schedule). */
  public readonly function: PhoenixFunction;
  /** The sweep's schedule (default bus). */
  public readonly rule: events.Rule;
  /** The rule target's and the function's dead-letter queues. */
  public readonly deadLetterQueues: readonly sqs.Queue[];
  /** One alarm per dead-letter queue. */
  public readonly deadLetterAlarms: readonly cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: ReconcileCapabilityProps) {
    super(scope, id);
    const { replace } = props;
    this.function = capabilityFunction(scope, 'ReconcileFunction', Handlers.reconcile, props);
    this.function.addEnvironment(Env.replaceStateMachineArn, replace.workflow.stateMachine.stateMachineArn);
    // The Replace workflow owns its timeout: a replacement older than that is over.
    this.function.addEnvironment(Env.replaceTimeoutSeconds, String(replace.workflow.timeout.toSeconds()));
    this.rule = new events.Rule(scope, 'ReconcileRule', {
      description: 'Phoenix reconcile sweep: every managed fleet, actual against desired state',
      schedule: props.schedule ?? events.Schedule.rate(Duration.minutes(5)),
    });
    const ruleQueue = targetWithDeadLetterQueue(this.rule, this.function, {
      retryAttempts: 2,
      maxEventAge: Duration.minutes(10),
      dropped: 'sweeps EventBridge could not start',
    });
    this.deadLetterQueues = [ruleQueue, this.function.deadLetterQueue];
    this.deadLetterAlarms = deadLetterAlarms(this.deadLetterQueues);

    const fn = this.function;
    replace.grantDescribeExecutions(fn);
    describePolicy(scope, fn, 'ReconcileDescribePolicy', [
      'ec2:DescribeInstances',
      'ec2:DescribeImages',
      'ec2:DescribeLaunchTemplateVersions',
      'autoscaling:DescribeAutoScalingGroups',
    ]);
    // Fleet records only (desired image, rollout lock, slots to reclaim): never intake's EVENT# items.
    props.state.grantFleetRecords(fn, 'dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:UpdateItem');
    replace.grantStartExecution(fn);
    props.state.eventBus.grantPutEventsTo(fn);
    grantDrainHook(scope, fn);
  }
}

/**
 * The termination lifecycle hook phoenix-drain: put on managed groups tagged phoenix:flush-document
 * (recorded by the group tag phoenix:drain-hook), removed when the tag goes.
 */
function grantDrainHook(scope: Construct, fn: PhoenixFunction): void {
  describePolicy(scope, fn, 'ReconcileHookDescribePolicy', ['autoscaling:DescribeLifecycleHooks']);
  const autoScalingGroups = autoScalingGroupArns(scope);
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['autoscaling:PutLifecycleHook', 'autoscaling:DeleteLifecycleHook'],
      resources: [autoScalingGroups],
      conditions: { StringLike: { [`aws:ResourceTag/${Tags.fleet}`]: '*' } },
    }),
  );
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['autoscaling:CreateOrUpdateTags', 'autoscaling:DeleteTags'],
      resources: [autoScalingGroups],
      conditions: {
        StringLike: { [`aws:ResourceTag/${Tags.fleet}`]: '*' },
        'ForAllValues:StringEquals': { 'aws:TagKeys': [Tags.drainHook] },
        Null: { 'aws:TagKeys': 'false' },
      },
    }),
  );
  acknowledge(fn.role, wildcardResourceFinding(scope, autoScalingGroups), [
    `Fleets opt in at run time by tag; PutLifecycleHook and DeleteLifecycleHook (the hook phoenix-drain), and the tag ${Tags.drainHook} that records it (aws:TagKeys: no other tag), are conditioned on aws:ResourceTag/${Tags.fleet}, so only managed groups get or lose the hook.`,
  ]);
}
