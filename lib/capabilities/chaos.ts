import { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ratePeriodSeconds } from '../../lambdas/domain/chaos';
import { Env, Handlers, Tags } from '../../lambdas/domain/contract';
import { wildcardResourceFinding } from '../compliance';
import type { PhoenixFunction } from '../phoenix-function';
import {
  acknowledge,
  autoScalingGroupArns,
  type CapabilityProps,
  capabilityFunction,
  deadLetterAlarms,
  describePolicy,
  targetWithDeadLetterQueue,
} from './shared';

/** Chaos mode's period when `chaosSchedule` is not given. */
export const DEFAULT_CHAOS_PERIOD = Duration.hours(1);

export interface ChaosCapabilityProps extends CapabilityProps {
  /**
   * When chaos mode runs: a `rate(...)` schedule, whose rate is the chaos period (validated by
   * `PhoenixControlPlane`).
   * @default events.Schedule.rate(DEFAULT_CHAOS_PERIOD) - every hour
   */
  readonly schedule?: events.Schedule;
}

/**
 * Chaos mode: one period per invocation, on a schedule (default bus). In each period, each fleet
 * tagged `phoenix:chaos=<mean days>` loses a random instance with probability period / mean.
 * Resources in `scope`: see ./shared.ts.
 */
export class ChaosCapability extends Construct {
  /** Chaos mode: one period per invocation (on `rule`'s schedule). */
  public readonly function: PhoenixFunction;
  /** Chaos mode's schedule (default bus): its rate is the chaos period. */
  public readonly rule: events.Rule;
  /** The rule target's and the function's dead-letter queues. */
  public readonly deadLetterQueues: readonly sqs.Queue[];
  /** One alarm per dead-letter queue. */
  public readonly deadLetterAlarms: readonly cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: ChaosCapabilityProps) {
    super(scope, id);
    const schedule = props.schedule ?? events.Schedule.rate(DEFAULT_CHAOS_PERIOD);
    this.function = capabilityFunction(scope, 'ChaosFunction', Handlers.chaos, props);
    this.function.addEnvironment(
      Env.chaosPeriodSeconds,
      // An unresolved schedule cannot be read at synth: the default period then.
      String(ratePeriodSeconds(schedule.expressionString) ?? DEFAULT_CHAOS_PERIOD.toSeconds()),
    );
    this.rule = new events.Rule(scope, 'ChaosRule', {
      description: `Phoenix chaos mode: fleets tagged ${Tags.chaos} may lose a random instance, once per period`,
      schedule,
    });
    const ruleQueue = targetWithDeadLetterQueue(this.rule, this.function, {
      retryAttempts: 2,
      maxEventAge: Duration.minutes(10),
      dropped: 'chaos periods EventBridge could not start',
    });
    this.deadLetterQueues = [ruleQueue, this.function.deadLetterQueue];
    this.deadLetterAlarms = deadLetterAlarms(this.deadLetterQueues);

    const fn = this.function;
    describePolicy(scope, fn, 'ChaosDescribePolicy', ['autoscaling:DescribeAutoScalingGroups']);
    // Terminate (never scale): only groups that are managed AND opted into chaos by their tag.
    const autoScalingGroups = autoScalingGroupArns(scope);
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['autoscaling:TerminateInstanceInAutoScalingGroup'],
        resources: [autoScalingGroups],
        conditions: {
          StringLike: { [`aws:ResourceTag/${Tags.fleet}`]: '*', [`aws:ResourceTag/${Tags.chaos}`]: '*' },
        },
      }),
    );
    acknowledge(fn.role, wildcardResourceFinding(scope, autoScalingGroups), [
      `Fleets opt into chaos at run time by tag; TerminateInstanceInAutoScalingGroup (the only mutation) is conditioned on aws:ResourceTag/${Tags.fleet} and aws:ResourceTag/${Tags.chaos}, so only managed groups that opted into chaos can lose an instance.`,
    ]);
    // Fleet records only: read in batches, the one-kill-per-period claim by conditional update.
    props.state.grantFleetRecords(fn, 'dynamodb:BatchGetItem', 'dynamodb:UpdateItem');
    props.state.eventBus.grantPutEventsTo(fn);
  }
}
