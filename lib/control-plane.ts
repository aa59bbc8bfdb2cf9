import { ArnFormat, Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct, type IConstruct } from 'constructs';
import {
  CHANNEL_PARAMETER_PREFIX,
  COMMAND_SOURCE,
  DetailTypes,
  Env,
  Handlers,
  Tags,
} from '../lambdas/domain/contract';
import { wildcardResourceFinding } from './compliance';
import { PhoenixFunction } from './phoenix-function';
import { RolloutWorkflow } from './rollout-workflow';

/** What EventBridge accepts as a custom bus name (the `default` bus and partner buses excluded). */
const EVENT_BUS_NAME_PATTERN = /^[.\-_A-Za-z0-9]{1,256}$/;

export interface PhoenixControlPlaneProps {
  /**
   * Name of the Phoenix event bus: commands in (`phoenix.command`), outcomes out (`phoenix`).
   * Must be a custom bus name: not `default`, no `/`, at most 256 of `A-Z a-z 0-9 . _ -`.
   * @default 'phoenix'
   */
  readonly eventBusName?: string;
  /**
   * What happens to the stateful resources (the fleet table, the log groups) when they are
   * removed from the stack or the stack is deleted.
   * @default RemovalPolicy.RETAIN - the table and the logs outlive the stack
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * How long one rollout may run in all (passed to `RolloutWorkflow`).
   * @default - the `RolloutWorkflow` default, 2 hours
   */
  readonly rolloutTimeout?: Duration;
  /**
   * How long a rollout waits between two health checks of a batch (passed to `RolloutWorkflow`).
   * @default - the `RolloutWorkflow` default, 15 seconds
   */
  readonly rolloutPollInterval?: Duration;
  /**
   * How long function and execution logs are kept.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The Phoenix control plane: the event bus, the fleet table, the handlers, the Rollout workflow
 * and the EventBridge rules that turn image events into rollouts (DESIGN §2).
 *
 * Least privilege: the handlers may change only Auto Scaling groups tagged `phoenix:fleet`.
 */
export class PhoenixControlPlane extends Construct {
  /** The Phoenix bus: commands in, outcomes out. */
  public readonly eventBus: events.EventBus;
  /** Fleet records (`pk = FLEET#<name>`) and idempotency keys. */
  public readonly table: dynamodb.Table;
  /** Normalizes incoming events into intents and starts workflows. */
  public readonly intakeFunction: PhoenixFunction;
  /** The Rollout workflow's EC2 + Auto Scaling steps. */
  public readonly rolloutFleetFunction: PhoenixFunction;
  /** The Rollout workflow's DynamoDB + EventBridge steps. */
  public readonly rolloutRecordFunction: PhoenixFunction;
  /** The Rollout workflow (Step Functions Standard). */
  public readonly rolloutWorkflow: RolloutWorkflow;
  /** Default bus: an AMI became `available`. */
  public readonly amiAvailableRule: events.Rule;
  /** Default bus: a channel parameter `/phoenix/channels/<channel>` was created or updated. */
  public readonly channelParameterRule: events.Rule;
  /** Phoenix bus: an operator's `PublishImage` command. */
  public readonly publishImageRule: events.Rule;
  /** Every dead-letter queue: one per rule target, one per function (async invocations). */
  public readonly deadLetterQueues: readonly sqs.Queue[];
  /** One alarm per dead-letter queue: at least one message visible in 5 minutes. */
  public readonly deadLetterAlarms: readonly cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: PhoenixControlPlaneProps = {}) {
    super(scope, id);
    const eventBusName = props.eventBusName ?? 'phoenix';
    validateProps({ eventBusName });
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const stack = Stack.of(this);

    this.eventBus = new events.EventBus(this, 'EventBus', {
      eventBusName,
      description: 'Phoenix: commands in (phoenix.command), outcomes out (phoenix)',
    });

    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy,
    });

    const environment = {
      [Env.tableName]: this.table.tableName,
      [Env.eventBusName]: this.eventBus.eventBusName,
    };
    const fn = (constructId: string, handlerName: (typeof Handlers)[keyof typeof Handlers]) =>
      new PhoenixFunction(this, constructId, {
        handlerName,
        environment,
        logRetention: props.logRetention,
        removalPolicy,
      });
    this.intakeFunction = fn('IntakeFunction', Handlers.intake);
    this.rolloutFleetFunction = fn('RolloutFleetFunction', Handlers.rolloutFleet);
    this.rolloutRecordFunction = fn('RolloutRecordFunction', Handlers.rolloutRecord);

    this.rolloutWorkflow = new RolloutWorkflow(this, 'Rollout', {
      fleetFunction: this.rolloutFleetFunction,
      recordFunction: this.rolloutRecordFunction,
      timeout: props.rolloutTimeout,
      pollInterval: props.rolloutPollInterval,
      removalPolicy,
      logRetention: props.logRetention,
    });
    this.intakeFunction.addEnvironment(
      Env.rolloutStateMachineArn,
      this.rolloutWorkflow.stateMachine.stateMachineArn,
    );

    // ---- Rules: image events → intake ------------------------------------------------------
    const ruleDeadLetterQueues: sqs.Queue[] = [];
    const toIntake = (rule: events.Rule) => {
      const queue = deadLetterQueue(this, `${rule.node.id}DeadLetterQueue`);
      Validations.of(queue).acknowledge({
        id: 'AwsSolutions-SQS3',
        reason: `This queue is itself the dead-letter queue of the ${rule.node.id} target (events EventBridge could not deliver to intake); a DLQ of a DLQ would only move the problem. An alarm watches it.`,
      });
      rule.addTarget(
        new targets.LambdaFunction(this.intakeFunction, {
          deadLetterQueue: queue,
          retryAttempts: 8,
          maxEventAge: Duration.hours(2),
        }),
      );
      ruleDeadLetterQueues.push(queue);
      return rule;
    };
    this.amiAvailableRule = toIntake(
      new events.Rule(this, 'AmiAvailableRule', {
        description: 'Phoenix: an AMI became available (it may belong to a channel)',
        eventPattern: {
          source: ['aws.ec2'],
          detailType: ['EC2 AMI State Change'],
          detail: { State: ['available'] },
        },
      }),
    );
    this.channelParameterRule = toIntake(
      new events.Rule(this, 'ChannelParameterRule', {
        description: `Phoenix: a channel parameter ${CHANNEL_PARAMETER_PREFIX}<channel> was created or updated`,
        eventPattern: {
          source: ['aws.ssm'],
          detailType: ['Parameter Store Change'],
          detail: {
            name: events.Match.prefix(CHANNEL_PARAMETER_PREFIX),
            operation: ['Create', 'Update'],
          },
        },
      }),
    );
    this.publishImageRule = toIntake(
      new events.Rule(this, 'PublishImageRule', {
        description: 'Phoenix: an operator published an image to a channel',
        eventBus: this.eventBus,
        eventPattern: { source: [COMMAND_SOURCE], detailType: [DetailTypes.PublishImage] },
      }),
    );

    const functions = [this.intakeFunction, this.rolloutFleetFunction, this.rolloutRecordFunction];
    this.deadLetterQueues = [...ruleDeadLetterQueues, ...functions.map((f) => f.deadLetterQueue)];
    this.deadLetterAlarms = this.deadLetterQueues.map((queue) =>
      queue
        .metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' })
        .createAlarm(queue.node.scope ?? this, `${queue.node.id}Alarm`, {
          alarmDescription: `Phoenix: messages in the dead-letter queue ${queue.node.path}: events or invocations were dropped`,
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
    );

    // ---- IAM: intake -----------------------------------------------------------------------
    describePolicy(this, this.intakeFunction, 'IntakeDescribePolicy', [
      'ec2:DescribeImages',
      'autoscaling:DescribeAutoScalingGroups',
    ]);
    const channelParameters = stack.formatArn({
      service: 'ssm',
      resource: 'parameter',
      resourceName: `${CHANNEL_PARAMETER_PREFIX.replace(/^\//, '')}*`,
    });
    this.intakeFunction.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['ssm:GetParameter'], resources: [channelParameters] }),
    );
    acknowledge(this.intakeFunction.role, wildcardResourceFinding(this, channelParameters), [
      `Channels are named by operators at run time: intake reads any parameter under ${CHANNEL_PARAMETER_PREFIX} (read-only ssm:GetParameter) and nothing else.`,
    ]);
    this.rolloutWorkflow.stateMachine.grantStartExecution(this.intakeFunction);
    this.eventBus.grantPutEventsTo(this.intakeFunction);

    // ---- IAM: rollout-fleet ----------------------------------------------------------------
    const fleetFn = this.rolloutFleetFunction;
    describePolicy(this, fleetFn, 'RolloutFleetDescribePolicy', [
      'ec2:DescribeImages',
      'ec2:DescribeInstances',
      'ec2:DescribeLaunchTemplateVersions',
      'autoscaling:DescribeAutoScalingGroups',
    ]);
    const launchTemplates = stack.formatArn({
      service: 'ec2',
      resource: 'launch-template',
      resourceName: '*',
    });
    fleetFn.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['ec2:CreateLaunchTemplateVersion'], resources: [launchTemplates] }),
    );
    acknowledge(fleetFn.role, wildcardResourceFinding(this, launchTemplates), [
      'The launch template of a managed fleet is found at run time from its Auto Scaling group, so it cannot be named at synth; scoped to this account and region, and a new version changes no existing version.',
    ]);
    const autoScalingGroups = stack.formatArn({
      service: 'autoscaling',
      resource: 'autoScalingGroup',
      resourceName: '*:autoScalingGroupName/*',
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    fleetFn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: [
          'autoscaling:UpdateAutoScalingGroup',
          'autoscaling:SetDesiredCapacity',
          'autoscaling:TerminateInstanceInAutoScalingGroup',
        ],
        resources: [autoScalingGroups],
        conditions: { StringLike: { [`aws:ResourceTag/${Tags.fleet}`]: '*' } },
      }),
    );
    acknowledge(fleetFn.role, wildcardResourceFinding(this, autoScalingGroups), [
      `Fleets opt in at run time by tag; the mutations are conditioned on aws:ResourceTag/${Tags.fleet}, so only Auto Scaling groups tagged as managed can be updated, scaled or have instances terminated.`,
    ]);
    // UpdateAutoScalingGroup with a new launch template version checks that the caller could launch it.
    const accountResources = stack.formatArn({ service: 'ec2', resource: '*' });
    const images = stack.formatArn({ service: 'ec2', account: '', resource: 'image', resourceName: '*' });
    const snapshots = stack.formatArn({
      service: 'ec2',
      account: '',
      resource: 'snapshot',
      resourceName: '*',
    });
    fleetFn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ec2:RunInstances'],
        resources: [accountResources, images, snapshots],
      }),
    );
    const runInstancesReason =
      'autoscaling:UpdateAutoScalingGroup with a new launch template version requires the caller to hold ec2:RunInstances for what that version launches; Phoenix itself never calls RunInstances.';
    acknowledge(fleetFn.role, wildcardResourceFinding(this, accountResources), [
      `${runInstancesReason} Instances, volumes, network interfaces, subnets and security groups are chosen by the fleet owner's template: limited to this account and region.`,
    ]);
    acknowledge(fleetFn.role, wildcardResourceFinding(this, images), [
      `${runInstancesReason} A fleet's image may be shared from another account (image ARNs carry no account): limited to this region.`,
    ]);
    acknowledge(fleetFn.role, wildcardResourceFinding(this, snapshots), [
      `${runInstancesReason} The image's EBS snapshots may belong to another account (snapshot ARNs carry no account): limited to this region.`,
    ]);
    const roles = stack.formatArn({ service: 'iam', region: '', resource: 'role', resourceName: '*' });
    fleetFn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['iam:PassRole'],
        resources: [roles],
        conditions: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
      }),
    );
    acknowledge(fleetFn.role, wildcardResourceFinding(this, roles), [
      'UpdateAutoScalingGroup with a launch template version that has an instance profile requires iam:PassRole on its role, which the fleet owner chooses; the condition iam:PassedToService = ec2.amazonaws.com lets it reach EC2 instances only.',
    ]);

    // ---- IAM: rollout-record ---------------------------------------------------------------
    // Fleet records are read and changed one item at a time (conditional updates): nothing more.
    this.table.grant(this.rolloutRecordFunction, 'dynamodb:GetItem', 'dynamodb:UpdateItem');
    this.eventBus.grantPutEventsTo(this.rolloutRecordFunction);

    // ---- IAM: the Rollout state machine (granted by RolloutWorkflow / Step Functions) ------
    const stateMachineRole = this.rolloutWorkflow.stateMachine.role;
    acknowledge(stateMachineRole, 'AwsSolutions-IAM5[Resource::*]', [
      'Step Functions logging (logs:CreateLogDelivery and the other log-delivery actions) and X-Ray tracing (xray:PutTraceSegments, GetSamplingRules ...) support no resource-level permissions.',
    ]);
    for (const target of [this.rolloutFleetFunction, this.rolloutRecordFunction]) {
      acknowledge(stateMachineRole, wildcardResourceFinding(this, `${target.functionArn}:*`), [
        `The LambdaInvoke tasks may invoke any version or alias of the ${target.handlerName} function (<arn>:*), and no other function.`,
      ]);
    }
  }
}

/** Throws once, with every problem, quoting what was received. Unresolved tokens are not checked. */
function validateProps(props: { eventBusName: string }): void {
  const problems: string[] = [];
  const name = props.eventBusName;
  if (!Token.isUnresolved(name)) {
    if (name === 'default') {
      problems.push(
        `eventBusName must name a custom bus, not the account's default bus: got ${JSON.stringify(name)}`,
      );
    } else if (name.includes('/')) {
      problems.push(
        `eventBusName must not contain '/' (that is a partner event source): got ${JSON.stringify(name)}`,
      );
    } else if (!EVENT_BUS_NAME_PATTERN.test(name)) {
      problems.push(`eventBusName must match ${String(EVENT_BUS_NAME_PATTERN)}: got ${JSON.stringify(name)}`);
    }
  }
  if (problems.length > 0) throw new Error(`Invalid PhoenixControlPlane props: ${problems.join('; ')}`);
}

/** An SQS dead-letter queue: SQS-managed encryption, TLS only, 14 days to look at what failed. */
function deadLetterQueue(scope: Construct, id: string): sqs.Queue {
  return new sqs.Queue(scope, id, {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
}

/**
 * Read-only Describe actions that support no resource-level permissions, in a policy of their own
 * so that their `Resource: *` acknowledgement covers them and nothing else.
 */
function describePolicy(scope: Construct, fn: PhoenixFunction, id: string, actions: string[]): iam.Policy {
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

function acknowledge(scope: IConstruct, id: string, reasons: string[]): void {
  Validations.of(scope).acknowledge({ id, reason: reasons.join(' ') });
}
