import { Arn, Duration, Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { CHANNEL_PARAMETER_PREFIX, Env, OptionalHandlers } from '../../lambdas/domain/contract';
import type { PromotionRule } from '../../lambdas/domain/promotion';
import type { PhoenixFunction } from '../phoenix-function';
import {
  type CapabilityProps,
  capabilityFunction,
  deadLetterAlarms,
  describePolicy,
  targetWithDeadLetterQueue,
} from './shared';

export interface PromotionCapabilityProps extends CapabilityProps {
  /** The promotion rules of the channels with `promoteFrom` (at least one). */
  readonly rules: readonly PromotionRule[];
  /**
   * When the promotion check runs.
   * @default events.Schedule.rate(Duration.minutes(5))
   */
  readonly schedule?: events.Schedule;
}

/** The promote function reserves one concurrent execution: one check at a time, on a schedule. */
export const PROMOTE_RESERVED_CONCURRENCY = 1;

/**
 * The promotion check (issue 13 §1): on a schedule (default bus), every channel with
 * `promoteFrom` is checked against the evidence of its upstream channel's fleets; an image that
 * earned it is published to the channel's parameter `/phoenix/channels/<channel>` (PutParameter:
 * only on the downstream channels' parameters). Created only when some channel has `promoteFrom`.
 * Resources in `scope`: see ./shared.ts.
 */
export class PromotionCapability extends Construct {
  /** The promotion check (on `rule`'s schedule), also `phoenix promote`. */
  public readonly function: PhoenixFunction;
  /** The check's schedule (default bus). */
  public readonly rule: events.Rule;
  public readonly deadLetterQueues: readonly sqs.Queue[];
  public readonly deadLetterAlarms: readonly cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: PromotionCapabilityProps) {
    super(scope, id);
    this.function = capabilityFunction(scope, 'PromoteFunction', OptionalHandlers.promote, {
      ...props,
      reservedConcurrency: {
        [OptionalHandlers.promote]: props.reservedConcurrency?.promote ?? PROMOTE_RESERVED_CONCURRENCY,
      },
    });
    this.function.addEnvironment(Env.promotionRules, JSON.stringify(props.rules));
    this.rule = new events.Rule(scope, 'PromoteRule', {
      description: 'Phoenix promotion check: images earn their way from a channel to the next',
      schedule: props.schedule ?? events.Schedule.rate(Duration.minutes(5)),
    });
    const ruleQueue = targetWithDeadLetterQueue(this.rule, this.function, {
      retryAttempts: 2,
      maxEventAge: Duration.minutes(10),
      dropped: 'promotion checks EventBridge could not start',
    });
    this.deadLetterQueues = [ruleQueue, this.function.deadLetterQueue];
    this.deadLetterAlarms = deadLetterAlarms(this.deadLetterQueues);

    const fn = this.function;
    describePolicy(scope, fn, 'PromoteDescribePolicy', [
      'autoscaling:DescribeAutoScalingGroups',
      'ec2:DescribeImages',
      'cloudwatch:DescribeAlarms',
    ]);
    // Fleet records read only; channel records (promotions, approvals, notices) read and written.
    props.state.grantFleetRecords(fn, 'dynamodb:BatchGetItem');
    props.state.grantChannelRecords(fn, 'dynamodb:GetItem', 'dynamodb:UpdateItem');
    props.state.eventBus.grantPutEventsTo(fn);
    const stack = Stack.of(scope);
    const parameterArn = (channel: string) =>
      Arn.format(
        {
          service: 'ssm',
          resource: 'parameter',
          resourceName: `${CHANNEL_PARAMETER_PREFIX.slice(1)}${channel}`,
        },
        stack,
      );
    const downstream = [...new Set(props.rules.map((r) => r.channel))];
    const readable = [...new Set(props.rules.flatMap((r) => [r.channel, r.promoteFrom]))];
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ssm:GetParameters'],
        resources: readable.map(parameterArn),
      }),
    );
    // Promotion publishes like any user could, and only to the channels promoted into.
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ssm:PutParameter'],
        resources: downstream.map(parameterArn),
      }),
    );
  }
}
