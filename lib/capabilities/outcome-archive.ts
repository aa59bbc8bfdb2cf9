/**
 * The outcome archive: every outcome event Phoenix puts on its bus (`source: phoenix`) is written,
 * whole, into a CloudWatch Logs log group by a rule on the bus. `phoenix events` reads it
 * (FilterLogEvents), in AWS and against `phoenix local` alike (the emulator's EventBridge delivers
 * to log-group targets itself). Resources in `scope`: see ./shared.ts.
 */
import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { OUTCOME_SOURCE } from '../../lambdas/domain/contract';
import { skipCheckov } from '../checkov';
import { grantLogGroupEncryption, grantRuleDeadLetterEncryption } from '../encryption';
import { acknowledge, deadLetterAlarms, deadLetterQueue } from './shared';
import type { PhoenixState } from './state';

/** The archive's log group name for a bus: `/aws/events/<bus>/outcomes` (EventBridge's prefix). */
export function outcomeLogGroupName(eventBusName: string): string {
  return `/aws/events/${eventBusName}/outcomes`;
}

export interface OutcomeArchiveProps {
  /** The Phoenix bus whose outcomes are archived. */
  readonly state: PhoenixState;
  /**
   * How long outcomes are kept.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the log group when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * A customer-managed KMS key for the log group and the rule's dead-letter queue.
   * @default - CloudWatch Logs' own encryption; SSE-SQS for the dead-letter queue
   */
  readonly encryptionKey?: kms.IKey;
}

/**
 * Archives Phoenix's outcome events into a log group: rule `OutcomeArchiveRule` on the Phoenix bus,
 * log group `OutcomeArchiveLogs` (its resource policy lets only this rule write), dead-letter queue
 * `OutcomeArchiveRuleDeadLetterQueue` with its alarm.
 */
export class OutcomeArchive extends Construct {
  /** The outcome events, one log event per outcome (the whole EventBridge event as JSON). */
  public readonly logGroup: logs.LogGroup;
  /** The rule on the Phoenix bus: `source: phoenix`. */
  public readonly rule: events.Rule;
  /** The resource policy that lets EventBridge write into the log group for `rule`. */
  public readonly resourcePolicy: logs.ResourcePolicy;
  /** The rule target's dead-letter queue. */
  public readonly deadLetterQueues: readonly sqs.Queue[];
  /** One alarm per dead-letter queue. */
  public readonly deadLetterAlarms: readonly cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: OutcomeArchiveProps) {
    super(scope, id);
    const key = props.encryptionKey;
    const bus = props.state.eventBus;
    this.logGroup = new logs.LogGroup(scope, 'OutcomeArchiveLogs', {
      logGroupName: outcomeLogGroupName(bus.eventBusName),
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      encryptionKey: key,
    });
    if (key) grantLogGroupEncryption(scope, key);
    else {
      skipCheckov(this.logGroup, {
        id: 'CKV_AWS_158',
        comment:
          "CloudWatch Logs encrypts every log group at rest with its own keys; the outcome archive holds Phoenix's decisions (fleet names, instance and image ids, reasons), no secrets. Give the control plane's encryptionKey to use a customer-managed key.",
      });
    }

    this.rule = new events.Rule(scope, 'OutcomeArchiveRule', {
      description: 'Phoenix: every outcome event (source phoenix) into the outcome archive log group',
      eventBus: bus,
      eventPattern: { source: [OUTCOME_SOURCE] },
    });
    const queue = deadLetterQueue(scope, 'OutcomeArchiveRuleDeadLetterQueue', key);
    if (key) grantRuleDeadLetterEncryption(this.rule, key);
    acknowledge(queue, 'AwsSolutions-SQS3', [
      'This queue is itself the dead-letter queue of the OutcomeArchiveRule target (outcomes EventBridge could not write into the archive); a DLQ of a DLQ would only move the problem. An alarm watches it.',
    ]);
    const stack = Stack.of(scope);
    // The ARN a log-group target takes: without the `:*` of `logGroupArn`.
    const targetArn = stack.formatArn({
      service: 'logs',
      resource: 'log-group',
      resourceName: this.logGroup.logGroupName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const rule = this.rule;
    rule.addTarget({
      bind: () => {
        targets.addToDeadLetterQueueResourcePolicy(rule, queue);
        return {
          arn: targetArn,
          deadLetterConfig: { arn: queue.queueArn },
          retryPolicy: { maximumRetryAttempts: 8, maximumEventAgeInSeconds: Duration.hours(2).toSeconds() },
        };
      },
    });

    // EventBridge writes through the log group's resource policy (no role), for this rule only. Until
    // the policy exists, a delivery fails and is retried (retryPolicy above).
    this.resourcePolicy = new logs.ResourcePolicy(scope, 'OutcomeArchiveLogsPolicy', {
      policyStatements: [
        new iam.PolicyStatement({
          principals: [
            new iam.ServicePrincipal('events.amazonaws.com'),
            new iam.ServicePrincipal('delivery.logs.amazonaws.com'),
          ],
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [this.logGroup.logGroupArn],
          conditions: { ArnEquals: { 'aws:SourceArn': rule.ruleArn } },
        }),
      ],
    });

    this.deadLetterQueues = [queue];
    this.deadLetterAlarms = deadLetterAlarms(this.deadLetterQueues);
  }
}
