/**
 * What every capability construct shares: its common props, the Phoenix function it builds, the
 * dead-letter queues and their alarms, the Describe policies and the cdk-nag acknowledgements.
 *
 * Where a capability's resources live: in the control plane's scope, not under the capability.
 * CDK derives a resource's logical id from its construct path, and a deployed stack must update in
 * place (test/infra/logical-ids.test.ts). So each capability is a construct of its own in the
 * tree (`<control plane>/IntakeCapability`, ...), which groups and exposes its resources, but it
 * creates them in `scope`, the control plane, as `PhoenixFunction` creates its log group, queue
 * and role beside itself: their paths, and so their logical ids, are those of the flat control
 * plane, whatever stack holds it, with no logical id written by hand.
 */
import { ArnFormat, Duration, type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct, IConstruct } from 'constructs';
import { GREEN_GROUP_NAME_PATTERN } from '../../lambdas/domain/adoption';
import { Env, type HandlerName, Tags } from '../../lambdas/domain/contract';
import type { EventPattern } from '../../lambdas/domain/sources';
import { skipCheckov } from '../checkov';
import { wildcardResourceFinding } from '../compliance';
import { grantRuleDeadLetterEncryption } from '../encryption';
import { PhoenixFunction, SSE_SQS_SKIP } from '../phoenix-function';
import type { PhoenixState } from './state';

/** What every capability takes from the control plane. */
export interface CapabilityProps {
  /** The fleet table and the Phoenix bus: every function gets their names in its environment. */
  readonly state: PhoenixState;
  /**
   * How long function and execution logs are kept.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the log groups (and state machines) when they leave the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * A customer-managed KMS key for the functions' log groups, queues and environments, the rules'
   * dead-letter queues and the workflows' log groups (the table's is the state's).
   * @default - AWS-owned and AWS managed encryption
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Reserved concurrent executions by handler (validated by `PhoenixControlPlane`).
   * @default - `DEFAULT_RESERVED_CONCURRENCY` for each handler not named
   */
  readonly reservedConcurrency?: Partial<Readonly<Record<HandlerName, number>>>;
}

/**
 * A Phoenix function in `scope` with the table and the bus in its environment, its reserved
 * concurrency, and the use of the state's key through DynamoDB when the table has one.
 */
export function capabilityFunction(
  scope: Construct,
  id: string,
  handlerName: HandlerName,
  props: CapabilityProps,
): PhoenixFunction {
  const fn = new PhoenixFunction(scope, id, {
    handlerName,
    environment: {
      [Env.tableName]: props.state.table.tableName,
      [Env.eventBusName]: props.state.eventBus.eventBusName,
    },
    logRetention: props.logRetention,
    removalPolicy: props.removalPolicy,
    encryptionKey: props.encryptionKey,
    reservedConcurrentExecutions: props.reservedConcurrency?.[handlerName],
  });
  props.state.grantTableEncryption(fn);
  return fn;
}

/**
 * An SQS dead-letter queue: TLS only, 14 days to look at what failed; encrypted with
 * `encryptionKey` when given, else SSE-SQS (SQS-managed).
 */
export function deadLetterQueue(scope: Construct, id: string, encryptionKey?: kms.IKey): sqs.Queue {
  const queue = new sqs.Queue(scope, id, {
    ...(encryptionKey
      ? { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: encryptionKey }
      : { encryption: sqs.QueueEncryption.SQS_MANAGED }),
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  if (!encryptionKey) skipCheckov(queue, SSE_SQS_SKIP);
  return queue;
}

export interface RuleTargetOptions {
  /** How many times EventBridge retries a failed delivery. */
  readonly retryAttempts: number;
  /** How long EventBridge keeps retrying. */
  readonly maxEventAge: Duration;
  /** What the rule's dead-letter queue holds, for its acknowledgement: e.g. `sweeps EventBridge could not start`. */
  readonly dropped: string;
}

/**
 * Targets `fn` from `rule`, with a dead-letter queue `<rule id>DeadLetterQueue` beside the rule,
 * encrypted as the function's own queue is (with its key, which EventBridge may then use).
 */
export function targetWithDeadLetterQueue(
  rule: events.Rule,
  fn: PhoenixFunction,
  options: RuleTargetOptions,
): sqs.Queue {
  const key = fn.encryptionKey;
  const queue = deadLetterQueue(rule.node.scope as Construct, `${rule.node.id}DeadLetterQueue`, key);
  if (key) grantRuleDeadLetterEncryption(rule, key);
  acknowledge(queue, 'AwsSolutions-SQS3', [
    `This queue is itself the dead-letter queue of the ${rule.node.id} target (${options.dropped}); a DLQ of a DLQ would only move the problem. An alarm watches it.`,
  ]);
  rule.addTarget(
    new targets.LambdaFunction(fn, {
      deadLetterQueue: queue,
      retryAttempts: options.retryAttempts,
      maxEventAge: options.maxEventAge,
    }),
  );
  return queue;
}

/** One alarm per dead-letter queue (`<queue id>Alarm`, beside the queue): at least one message visible in 5 minutes. */
export function deadLetterAlarms(queues: readonly sqs.Queue[]): cloudwatch.Alarm[] {
  return queues.map((queue) =>
    queue
      .metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' })
      .createAlarm(queue.node.scope as Construct, `${queue.node.id}Alarm`, {
        alarmDescription: `Phoenix: messages in the dead-letter queue ${queue.node.path}: events or invocations were dropped`,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
  );
}

/**
 * Read-only Describe actions that support no resource-level permissions, in a policy of their own
 * so that their `Resource: *` acknowledgement covers them and nothing else.
 */
export function describePolicy(
  scope: Construct,
  fn: PhoenixFunction,
  id: string,
  actions: string[],
): iam.Policy {
  const policy = new iam.Policy(scope, id, {
    roles: [fn.role],
    statements: [new iam.PolicyStatement({ actions, resources: ['*'] })],
  });
  // The function must not run before it may read.
  fn.node.addDependency(policy);
  acknowledge(policy, 'AwsSolutions-IAM5[Resource::*]', [
    `${actions.join(', ')} support no resource-level permissions (the Service Authorization Reference lists no resource type for them), so they need Resource *; they are read-only.`,
  ]);
  return policy;
}

/** Acknowledges the cdk-nag finding `id` on `scope`, for the reasons given (joined by spaces). */
export function acknowledge(scope: IConstruct, id: string, reasons: string[]): void {
  Validations.of(scope).acknowledge({ id, reason: reasons.join(' ') });
}

/** Every Auto Scaling group of this account and region (mutations are conditioned on tags). */
export function autoScalingGroupArns(scope: IConstruct): string {
  return Stack.of(scope).formatArn({
    service: 'autoscaling',
    resource: 'autoScalingGroup',
    resourceName: '*:autoScalingGroupName/*',
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/**
 * The blue-green green groups of this account and region, by the names Phoenix generates for them
 * (`greenGroupName`: phoenix-<fleet>-<12 hex digits>, `GREEN_GROUP_NAME_PATTERN`).
 */
export function greenGroupArns(scope: IConstruct): string {
  return Stack.of(scope).formatArn({
    service: 'autoscaling',
    resource: 'autoScalingGroup',
    resourceName: `*:autoScalingGroupName/${GREEN_GROUP_NAME_PATTERN}`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/** Every EC2 instance of this account and region. */
export function instanceArns(scope: IConstruct): string {
  return Stack.of(scope).formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' });
}

/**
 * Conditions, one set per statement (IAM ORs statements), that an EC2 instance belongs to a fleet:
 * it carries `phoenix:fleet` (fleets propagate it at launch: the adoption contract), or Auto
 * Scaling launched it into a green group of a blue-green rollout (`aws:autoscaling:groupName`,
 * a tag nobody but Auto Scaling can write, matches the generated green name).
 * `tagKey` is the condition key prefix the action takes (`aws:ResourceTag`, `ssm:resourceTag`).
 */
export function fleetInstanceConditions(tagKey: string): Record<string, Record<string, string>>[] {
  return [
    { StringLike: { [`${tagKey}/${Tags.fleet}`]: '*' } },
    { StringLike: { [`${tagKey}/aws:autoscaling:groupName`]: GREEN_GROUP_NAME_PATTERN } },
  ];
}

/** The top-level fields of an EventBridge pattern (JSON form) and their `events.EventPattern` names. */
const EVENT_PATTERN_FIELDS: Readonly<Record<string, keyof events.EventPattern>> = {
  version: 'version',
  id: 'id',
  'detail-type': 'detailType',
  source: 'source',
  account: 'account',
  time: 'time',
  region: 'region',
  resources: 'resources',
  detail: 'detail',
};

/**
 * An EventBridge pattern in its JSON form (`detail-type` in kebab case) as CDK's `events.EventPattern`,
 * which CDK renders back to the same JSON. Values pass through as they are (content filters such
 * as `{ prefix }` included); a top-level field CDK cannot express is an error, not a silent drop.
 */
export function toCdkEventPattern(pattern: EventPattern, where = 'pattern'): events.EventPattern {
  const out: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(pattern)) {
    const name = EVENT_PATTERN_FIELDS[field];
    if (name === undefined) {
      throw new Error(
        `${where}: top-level field ${JSON.stringify(field)} is not one of ${Object.keys(EVENT_PATTERN_FIELDS).join(', ')}`,
      );
    }
    out[name] = value;
  }
  return out;
}

/**
 * The acknowledgements of a workflow's role (its policies are granted by Step Functions): logging
 * and X-Ray need `Resource: *`; each LambdaInvoke task may invoke any version of its function.
 */
export function acknowledgeWorkflowRole(
  scope: IConstruct,
  role: iam.IRole,
  invoked: readonly PhoenixFunction[],
): void {
  acknowledge(role, 'AwsSolutions-IAM5[Resource::*]', [
    'Step Functions logging (logs:CreateLogDelivery and the other log-delivery actions) and X-Ray tracing (xray:PutTraceSegments, GetSamplingRules ...) support no resource-level permissions.',
  ]);
  for (const target of invoked) {
    acknowledge(role, wildcardResourceFinding(scope, `${target.functionArn}:*`), [
      `The LambdaInvoke tasks may invoke any version or alias of the ${target.handlerName} function (<arn>:*), and no other function.`,
    ]);
  }
}
