import { ArnFormat, Aws, Duration, Fn, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct, type IConstruct } from 'constructs';
import { CHANNEL_PARAMETER_PREFIX, Env, Handlers, Tags } from '../lambdas/domain/contract';
import { ratePeriodSeconds } from '../lambdas/domain/chaos';
import { DEFAULT_MAX_CONCURRENT_ROLLOUTS } from '../lambdas/domain/fleet-record';
import { EVENT_SOURCES, type EventPattern } from '../lambdas/domain/sources';
import { wildcardResourceFinding } from './compliance';
import { PhoenixFunction } from './phoenix-function';
import { DrainWorkflow } from './drain-workflow';
import { ReplaceWorkflow } from './replace-workflow';
import { RolloutWorkflow } from './rollout-workflow';

/** The fleet table's TTL attribute (epoch seconds): intake's idempotency records expire by it. */
export const INTAKE_RECORD_TTL_ATTRIBUTE = 'expiresAt';

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
   * How long one rollout may run before it is rolled back (its deadline; passed to
   * `RolloutWorkflow` as `timeout`). Each execution may run this plus a rollback allowance.
   * @default - the `RolloutWorkflow` default, 2 hours
   */
  readonly rolloutTimeout?: Duration;
  /**
   * How long a rollout waits between two health checks of a batch (passed to `RolloutWorkflow`).
   * @default - the `RolloutWorkflow` default, 15 seconds
   */
  readonly rolloutPollInterval?: Duration;
  /**
   * How long one replacement may run in all, waiting for a disruption-budget slot included (passed to `ReplaceWorkflow`).
   * @default - the `ReplaceWorkflow` default, 1 hour
   */
  readonly replaceTimeout?: Duration;
  /**
   * How long a replacement waits between two checks (passed to `ReplaceWorkflow`).
   * @default - the `ReplaceWorkflow` default, 15 seconds
   */
  readonly replacePollInterval?: Duration;
  /**
   * When the reconcile sweep runs (actual state of every managed fleet against its desired state).
   * @default events.Schedule.rate(Duration.minutes(5))
   */
  readonly reconcileSchedule?: events.Schedule;
  /**
   * When chaos mode runs: its period. In each period, each fleet tagged `phoenix:chaos=<mean days>`
   * loses a random instance with probability period / mean (within its chaos hours, when safe).
   * Must be a `rate(...)` schedule (the period must be known).
   * @default events.Schedule.rate(Duration.hours(1))
   */
  readonly chaosSchedule?: events.Schedule;
  /**
   * How long function and execution logs are kept.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Alarms whose names start with one of these prefixes are health alarms: an instance they name
   * (dimension `InstanceId`) is replaced when they go to ALARM, whatever their metric. EC2
   * status-check alarms are health alarms anyway.
   * @default ['phoenix-health-']
   */
  readonly healthAlarmPrefixes?: string[];
  /**
   * Owners whose images a rollout accepts: 12-digit account ids and the alias `amazon` (images
   * Amazon publishes). An image of any other owner is rejected before anything is launched.
   * @default [Aws.ACCOUNT_ID, 'amazon'] - this account's images and Amazon's
   */
  readonly allowedImageOwners?: string[];
  /**
   * The fan-out limit: how many rollouts (all fleets together) may run at once. One image followed
   * by many fleets rolls them concurrently up to this many; the others wait (`RolloutQueued`, with
   * the fleet lock held) for a slot. An integer from 1 to 1000.
   * @default 10
   */
  readonly maxConcurrentRollouts?: number;
}

/**
 * The Phoenix control plane: the event bus, the fleet table, the handlers, the Rollout workflow
 * and one EventBridge rule per entry of the event-source catalog (`EVENT_SOURCES`), each targeting intake.
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
  /** The Replace workflow's steps (EC2 + Auto Scaling + DynamoDB + EventBridge). */
  public readonly replaceFunction: PhoenixFunction;
  /** The Replace workflow (Step Functions Standard): one execution per instance to replace. */
  public readonly replaceWorkflow: ReplaceWorkflow;
  /** The drain steps (ELBv2 + SSM + Auto Scaling): in the Replace workflow and the Drain workflow. */
  public readonly drainFunction: PhoenixFunction;
  /** The Drain workflow: one execution per termination lifecycle action of the hook `phoenix-drain`. */
  public readonly drainWorkflow: DrainWorkflow;
  /** The reconcile sweep (on `reconcileRule`'s schedule). */
  public readonly reconcileFunction: PhoenixFunction;
  /** The reconcile sweep's schedule (default bus). */
  public readonly reconcileRule: events.Rule;
  /** Chaos mode: one period per invocation (on `chaosRule`'s schedule). */
  public readonly chaosFunction: PhoenixFunction;
  /** Chaos mode's schedule (default bus): its rate is the chaos period. */
  public readonly chaosRule: events.Rule;
  /** Default bus: an AMI became `available` (the catalog's `AmiAvailableRule`). */
  public readonly amiAvailableRule: events.Rule;
  /** Default bus: a channel parameter `/phoenix/channels/<channel>` was created or updated. */
  public readonly channelParameterRule: events.Rule;
  /** Phoenix bus: an operator's `PublishImage` command. */
  public readonly publishImageRule: events.Rule;
  /** Every rule of the event-source catalog (`EVENT_SOURCES`), by its `ruleId` (also its construct id). */
  public readonly rules: Readonly<Record<string, events.Rule>>;
  /** Every dead-letter queue: one per rule target, one per function (async invocations). */
  public readonly deadLetterQueues: readonly sqs.Queue[];
  /** One alarm per dead-letter queue: at least one message visible in 5 minutes. */
  public readonly deadLetterAlarms: readonly cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: PhoenixControlPlaneProps = {}) {
    super(scope, id);
    const eventBusName = props.eventBusName ?? 'phoenix';
    const chaosSchedule = props.chaosSchedule ?? events.Schedule.rate(Duration.hours(1));
    validateProps({ eventBusName, chaosSchedule });
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const healthAlarmPrefixes = props.healthAlarmPrefixes ?? ['phoenix-health-'];
    const badPrefixes = healthAlarmPrefixes.filter(
      (p) => !Token.isUnresolved(p) && (p.trim() === '' || p.includes(',')),
    );
    if (badPrefixes.length > 0) {
      throw new Error(
        `healthAlarmPrefixes must be non-empty and free of commas, got ${JSON.stringify(badPrefixes)}`,
      );
    }
    const allowedImageOwners = props.allowedImageOwners ?? [Aws.ACCOUNT_ID, 'amazon'];
    const badOwners = allowedImageOwners.filter(
      (o) => !Token.isUnresolved(o) && o !== 'amazon' && !/^\d{12}$/.test(o),
    );
    if (allowedImageOwners.length === 0 || badOwners.length > 0) {
      throw new Error(
        `allowedImageOwners must be 12-digit account ids or 'amazon', at least one, got ${JSON.stringify(allowedImageOwners)}`,
      );
    }
    const maxConcurrentRollouts = props.maxConcurrentRollouts ?? DEFAULT_MAX_CONCURRENT_ROLLOUTS;
    if (
      !Token.isUnresolved(maxConcurrentRollouts) &&
      (!Number.isInteger(maxConcurrentRollouts) || maxConcurrentRollouts < 1 || maxConcurrentRollouts > 1000)
    ) {
      throw new Error(
        `maxConcurrentRollouts must be an integer from 1 to 1000, got ${JSON.stringify(maxConcurrentRollouts)}`,
      );
    }
    const stack = Stack.of(this);

    this.eventBus = new events.EventBus(this, 'EventBus', {
      eventBusName,
      description: 'Phoenix: commands in (phoenix.command), outcomes out (phoenix)',
    });

    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      // Intake's idempotency records (`EVENT#<event id>`) expire by themselves.
      timeToLiveAttribute: INTAKE_RECORD_TTL_ATTRIBUTE,
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
    this.rolloutFleetFunction.addEnvironment(Env.allowedImageOwners, Fn.join(',', allowedImageOwners));
    this.rolloutRecordFunction = fn('RolloutRecordFunction', Handlers.rolloutRecord);
    this.rolloutRecordFunction.addEnvironment(Env.maxConcurrentRollouts, String(maxConcurrentRollouts));
    this.replaceFunction = fn('ReplaceFunction', Handlers.replace);
    // The drain steps live in a function of their own: ELBv2 + SSM would take replace over 1 MB.
    this.drainFunction = fn('DrainFunction', Handlers.drain);

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
    // After the Rollout workflow: the local runtime's first state machine stays the Rollout one.
    this.replaceWorkflow = new ReplaceWorkflow(this, 'Replace', {
      replaceFunction: this.replaceFunction,
      drainFunction: this.drainFunction,
      timeout: props.replaceTimeout,
      pollInterval: props.replacePollInterval,
      removalPolicy,
      logRetention: props.logRetention,
    });
    this.intakeFunction.addEnvironment(
      Env.replaceStateMachineArn,
      this.replaceWorkflow.stateMachine.stateMachineArn,
    );
    this.drainWorkflow = new DrainWorkflow(this, 'Drain', {
      drainFunction: this.drainFunction,
      removalPolicy,
      logRetention: props.logRetention,
    });
    this.intakeFunction.addEnvironment(
      Env.drainStateMachineArn,
      this.drainWorkflow.stateMachine.stateMachineArn,
    );
    this.intakeFunction.addEnvironment(Env.healthAlarmPrefixes, healthAlarmPrefixes.join(','));
    this.reconcileFunction = fn('ReconcileFunction', Handlers.reconcile);
    this.reconcileFunction.addEnvironment(
      Env.replaceStateMachineArn,
      this.replaceWorkflow.stateMachine.stateMachineArn,
    );
    this.reconcileFunction.addEnvironment(
      Env.replaceTimeoutSeconds,
      String(this.replaceWorkflow.timeout.toSeconds()),
    );
    this.chaosFunction = fn('ChaosFunction', Handlers.chaos);
    this.chaosFunction.addEnvironment(
      Env.chaosPeriodSeconds,
      String(ratePeriodSeconds(chaosSchedule.expressionString) ?? 3600),
    );
    // Phoenix's own API calls (CloudTrail) are never drift.
    this.intakeFunction.addEnvironment(
      Env.ownRoleNames,
      Fn.join(
        ',',
        [
          this.intakeFunction,
          this.rolloutFleetFunction,
          this.rolloutRecordFunction,
          this.replaceFunction,
          this.chaosFunction,
          this.drainFunction,
        ]
          .map((f) => f.role.roleName)
          .concat(
            this.rolloutWorkflow.stateMachine.role.roleName,
            this.replaceWorkflow.stateMachine.role.roleName,
            this.drainWorkflow.stateMachine.role.roleName,
          ),
      ),
    );

    // ---- Rules: one per event source of the catalog → intake ---------------------------------
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
    const rules: Record<string, events.Rule> = {};
    for (const source of EVENT_SOURCES) {
      if (rules[source.ruleId] !== undefined) {
        throw new Error(`EVENT_SOURCES names the rule ${source.ruleId} twice`);
      }
      rules[source.ruleId] = toIntake(
        new events.Rule(this, source.ruleId, {
          description: source.description,
          ...(source.bus === 'phoenix' ? { eventBus: this.eventBus } : {}),
          eventPattern: toCdkEventPattern(source.pattern, source.ruleId),
        }),
      );
    }
    this.rules = rules;
    const rule = (ruleId: string): events.Rule => {
      const found = rules[ruleId];
      if (found === undefined) throw new Error(`EVENT_SOURCES has no rule ${ruleId}`);
      return found;
    };
    this.amiAvailableRule = rule('AmiAvailableRule');
    this.channelParameterRule = rule('ChannelParameterRule');
    this.publishImageRule = rule('PublishImageRule');

    // ---- Rule: the reconcile sweep's schedule → reconcile ---------------------------------------
    const reconcileQueue = deadLetterQueue(this, 'ReconcileRuleDeadLetterQueue');
    Validations.of(reconcileQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself the dead-letter queue of the ReconcileRule target (sweeps EventBridge could not start); a DLQ of a DLQ would only move the problem. An alarm watches it.',
    });
    this.reconcileRule = new events.Rule(this, 'ReconcileRule', {
      description: 'Phoenix reconcile sweep: every managed fleet, actual against desired state',
      schedule: props.reconcileSchedule ?? events.Schedule.rate(Duration.minutes(5)),
    });
    this.reconcileRule.addTarget(
      new targets.LambdaFunction(this.reconcileFunction, {
        deadLetterQueue: reconcileQueue,
        retryAttempts: 2,
        maxEventAge: Duration.minutes(10),
      }),
    );
    ruleDeadLetterQueues.push(reconcileQueue);

    // ---- Rule: chaos mode's schedule → chaos ------------------------------------------------------
    const chaosQueue = deadLetterQueue(this, 'ChaosRuleDeadLetterQueue');
    Validations.of(chaosQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself the dead-letter queue of the ChaosRule target (chaos periods EventBridge could not start); a DLQ of a DLQ would only move the problem. An alarm watches it.',
    });
    this.chaosRule = new events.Rule(this, 'ChaosRule', {
      description: `Phoenix chaos mode: fleets tagged ${Tags.chaos} may lose a random instance, once per period`,
      schedule: chaosSchedule,
    });
    this.chaosRule.addTarget(
      new targets.LambdaFunction(this.chaosFunction, {
        deadLetterQueue: chaosQueue,
        retryAttempts: 2,
        maxEventAge: Duration.minutes(10),
      }),
    );
    ruleDeadLetterQueues.push(chaosQueue);

    const functions = [
      this.reconcileFunction,
      this.chaosFunction,
      this.intakeFunction,
      this.rolloutFleetFunction,
      this.rolloutRecordFunction,
      this.replaceFunction,
      this.drainFunction,
    ];
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
      'autoscaling:DescribeAutoScalingInstances',
    ]);
    // Channel parameters (/phoenix/channels/<channel>) and any golden-AMI parameter a fleet follows
    // by its tag `phoenix:image-parameter` (Tags.imageParameter): read-only, one parameter at a time.
    const parameters = stack.formatArn({ service: 'ssm', resource: 'parameter', resourceName: '*' });
    this.intakeFunction.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['ssm:GetParameter'], resources: [parameters] }),
    );
    acknowledge(this.intakeFunction.role, wildcardResourceFinding(this, parameters), [
      `Fleets may follow existing golden-AMI parameters (data type aws:ec2:image) by any name, set at run time in their tag ${Tags.imageParameter}, besides the channel parameters under ${CHANNEL_PARAMETER_PREFIX}; so intake may read (ssm:GetParameter only, no write, no GetParametersByPath) any parameter of this account and region.`,
    ]);
    // Idempotency records: one conditional put of `EVENT#<event id>` (with a TTL) per event; nothing else.
    // Intake's idempotency records: claimed and settled by conditional UpdateItem, read on a
    // conflict; only on `EVENT#…` items, never on fleet records.
    this.intakeFunction.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        resources: [this.table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['EVENT#*'] } },
      }),
    );
    // Fleet records: is the fleet paused or pinned by a rollback (read), and an explicit
    // PublishImage releases the pin (conditional update). Never the global rollout slots.
    this.intakeFunction.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        resources: [this.table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['FLEET#*'] } },
      }),
    );
    this.rolloutWorkflow.stateMachine.grantStartExecution(this.intakeFunction);
    this.replaceWorkflow.stateMachine.grantStartExecution(this.intakeFunction);
    this.drainWorkflow.stateMachine.grantStartExecution(this.intakeFunction);
    // Re-replacement: how did an instance's earlier Replace execution end (aws/executions.ts)?
    const replaceExecutions = stack.formatArn({
      service: 'states',
      resource: 'execution',
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      resourceName: `${this.replaceWorkflow.stateMachine.stateMachineName}:*`,
    });
    for (const fn of [this.intakeFunction, this.reconcileFunction]) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['states:DescribeExecution'], resources: [replaceExecutions] }),
      );
      acknowledge(fn.role, wildcardResourceFinding(this, replaceExecutions), [
        'Replace executions are named per instance at run time (<fleet>--<instance id>[-<attempt>]); DescribeExecution only, on the executions of the Replace state machine only, to tell whether an earlier attempt ended without replacing the instance.',
      ]);
    }
    this.eventBus.grantPutEventsTo(this.intakeFunction);

    // ---- IAM: rollout-fleet ----------------------------------------------------------------
    const fleetFn = this.rolloutFleetFunction;
    describePolicy(this, fleetFn, 'RolloutFleetDescribePolicy', [
      'ec2:DescribeImages',
      'ec2:DescribeInstances',
      'ec2:DescribeLaunchTemplateVersions',
      'autoscaling:DescribeAutoScalingGroups',
      // The target-group gate (rolling and blue-green).
      'elasticloadbalancing:DescribeTargetHealth',
    ]);
    // The gating alarms (tag `phoenix:alarms`) are named by fleets at run time.
    const alarmArns = stack.formatArn({
      service: 'cloudwatch',
      resource: 'alarm',
      resourceName: '*',
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    fleetFn.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['cloudwatch:DescribeAlarms'], resources: [alarmArns] }),
    );
    acknowledge(fleetFn.role, wildcardResourceFinding(this, alarmArns), [
      'The alarms that gate a rollout are named by the fleet tag phoenix:alarms at run time, so they cannot be named at synth; read-only, scoped to the alarms of this account and region.',
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
          // A rollout suspends AZRebalance, AlarmNotification and ScheduledActions, and resumes them.
          'autoscaling:SuspendProcesses',
          'autoscaling:ResumeProcesses',
        ],
        resources: [autoScalingGroups],
        conditions: { StringLike: { [`aws:ResourceTag/${Tags.fleet}`]: '*' } },
      }),
    );
    acknowledge(fleetFn.role, wildcardResourceFinding(this, autoScalingGroups), [
      `Fleets opt in at run time by tag; the mutations are conditioned on aws:ResourceTag/${Tags.fleet}, so only Auto Scaling groups tagged as managed can be updated, scaled or have instances terminated. Blue-green: CreateAutoScalingGroup only with the request tags ${Tags.greenOf} and ${Tags.rollout} (aws:RequestTag); delete, attach/detach target groups and tag changes only on groups tagged ${Tags.fleet} or ${Tags.rollout} (a group in a blue-green transition), whose names are chosen at run time.`,
    ]);
    // Blue-green (tag phoenix:strategy=blue-green): the green group is created only tagged as a
    // green group of a rollout (aws:RequestTag); deleting, attaching and detaching target groups and
    // moving tags only on groups that are a fleet (phoenix:fleet) or in a blue-green transition
    // (phoenix:rollout, which green carries until cutover and blue from cutover until it is deleted).
    fleetFn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['autoscaling:CreateAutoScalingGroup'],
        resources: [autoScalingGroups],
        conditions: {
          StringLike: { [`aws:RequestTag/${Tags.greenOf}`]: '*', [`aws:RequestTag/${Tags.rollout}`]: '*' },
        },
      }),
    );
    const blueGreenActions = [
      'autoscaling:DeleteAutoScalingGroup',
      'autoscaling:AttachLoadBalancerTargetGroups',
      'autoscaling:DetachLoadBalancerTargetGroups',
      'autoscaling:CreateOrUpdateTags',
      'autoscaling:DeleteTags',
    ];
    for (const tag of [Tags.fleet, Tags.rollout]) {
      fleetFn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: blueGreenActions,
          resources: [autoScalingGroups],
          conditions: { StringLike: { [`aws:ResourceTag/${tag}`]: '*' } },
        }),
      );
    }
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

    // ---- IAM: replace ------------------------------------------------------------------------
    const replaceFn = this.replaceFunction;
    describePolicy(this, replaceFn, 'ReplaceDescribePolicy', [
      'ec2:DescribeInstances',
      'autoscaling:DescribeAutoScalingGroups',
      'autoscaling:DescribeAutoScalingInstances',
    ]);
    replaceFn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['autoscaling:SetDesiredCapacity', 'autoscaling:TerminateInstanceInAutoScalingGroup'],
        resources: [autoScalingGroups],
        conditions: { StringLike: { [`aws:ResourceTag/${Tags.fleet}`]: '*' } },
      }),
    );
    acknowledge(replaceFn.role, wildcardResourceFinding(this, autoScalingGroups), [
      `Fleets opt in at run time by tag; the mutations (SetDesiredCapacity, TerminateInstanceInAutoScalingGroup) are conditioned on aws:ResourceTag/${Tags.fleet}, so only Auto Scaling groups tagged as managed can be scaled or have instances terminated.`,
    ]);
    const instances = stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' });
    replaceFn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ec2:CreateTags'],
        resources: [instances],
        conditions: {
          // Only instances launched by an Auto Scaling group (the group tags them itself) ...
          StringLike: { 'aws:ResourceTag/aws:autoscaling:groupName': '*' },
          // ... and only the taint and drained tags: no other tag can be written, none can be omitted.
          'ForAllValues:StringEquals': { 'aws:TagKeys': [Tags.tainted, Tags.drained] },
          Null: { 'aws:TagKeys': 'false' },
        },
      }),
    );
    acknowledge(replaceFn.role, wildcardResourceFinding(this, instances), [
      `The instance to taint is named by an event at run time; ec2:CreateTags is limited to instances of this account and region that an Auto Scaling group launched (aws:ResourceTag/aws:autoscaling:groupName), and to the tag keys ${Tags.tainted} and ${Tags.drained} (aws:TagKeys).`,
    ]);
    // Fleet records only (the disruption budget's slots and the active rollout): never intake's EVENT# items.
    replaceFn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        resources: [this.table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['FLEET#*'] } },
      }),
    );
    this.eventBus.grantPutEventsTo(replaceFn);

    // ---- IAM: drain ----------------------------------------------------------------------------
    const drainFn = this.drainFunction;
    describePolicy(this, drainFn, 'DrainDescribePolicy', [
      'ec2:DescribeInstances',
      'autoscaling:DescribeAutoScalingGroups',
      'elasticloadbalancing:DescribeTargetHealth',
      'elasticloadbalancing:DescribeTargetGroupAttributes',
      'ssm:GetCommandInvocation',
    ]);
    // The target groups of a managed fleet are found at run time from its Auto Scaling group.
    const targetGroups = stack.formatArn({
      service: 'elasticloadbalancing',
      resource: 'targetgroup',
      resourceName: '*',
    });
    drainFn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['elasticloadbalancing:DeregisterTargets'],
        resources: [targetGroups],
      }),
    );
    acknowledge(drainFn.role, wildcardResourceFinding(this, targetGroups), [
      'The target groups an instance is deregistered from are those its managed Auto Scaling group names (TargetGroupARNs), known only at run time; DeregisterTargets only, on the target groups of this account and region.',
    ]);
    // The flush: the document the fleet names (tag phoenix:flush-document), on instances Auto Scaling launched.
    const documents = stack.formatArn({ service: 'ssm', resource: 'document', resourceName: '*' });
    drainFn.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['ssm:SendCommand'], resources: [documents] }),
    );
    acknowledge(drainFn.role, wildcardResourceFinding(this, documents), [
      `The flush document is named by the fleet's tag ${Tags.flushDocument} at run time; SendCommand may use the SSM documents of this account and region, and only on instances an Auto Scaling group launched (separate statement, condition ssm:resourceTag/aws:autoscaling:groupName).`,
    ]);
    const drainInstances = stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' });
    drainFn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ssm:SendCommand'],
        resources: [drainInstances],
        conditions: { StringLike: { 'ssm:resourceTag/aws:autoscaling:groupName': '*' } },
      }),
    );
    acknowledge(drainFn.role, wildcardResourceFinding(this, drainInstances), [
      'The instance to flush is named by the workflow at run time; SendCommand is limited to instances of this account and region that an Auto Scaling group launched (ssm:resourceTag/aws:autoscaling:groupName).',
    ]);
    drainFn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['autoscaling:CompleteLifecycleAction'],
        resources: [autoScalingGroups],
        conditions: { StringLike: { [`aws:ResourceTag/${Tags.fleet}`]: '*' } },
      }),
    );
    acknowledge(drainFn.role, wildcardResourceFinding(this, autoScalingGroups), [
      `Fleets opt in at run time by tag; CompleteLifecycleAction (the only Auto Scaling mutation) is conditioned on aws:ResourceTag/${Tags.fleet}, so only managed groups' lifecycle actions can be completed.`,
    ]);
    this.eventBus.grantPutEventsTo(drainFn);

    // ---- IAM: reconcile ----------------------------------------------------------------------
    const reconcileFn = this.reconcileFunction;
    describePolicy(this, reconcileFn, 'ReconcileDescribePolicy', [
      'ec2:DescribeInstances',
      'ec2:DescribeImages',
      'ec2:DescribeLaunchTemplateVersions',
      'autoscaling:DescribeAutoScalingGroups',
    ]);
    // Fleet records only (desired image, rollout lock, slots to reclaim): never intake's EVENT# items.
    reconcileFn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:UpdateItem'],
        resources: [this.table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['FLEET#*'] } },
      }),
    );
    this.replaceWorkflow.stateMachine.grantStartExecution(reconcileFn);
    this.eventBus.grantPutEventsTo(reconcileFn);
    // The termination lifecycle hook phoenix-drain: put on managed groups tagged phoenix:flush-document
    // (recorded by the group tag phoenix:drain-hook), removed when the tag goes.
    describePolicy(this, reconcileFn, 'ReconcileHookDescribePolicy', ['autoscaling:DescribeLifecycleHooks']);
    reconcileFn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['autoscaling:PutLifecycleHook', 'autoscaling:DeleteLifecycleHook'],
        resources: [autoScalingGroups],
        conditions: { StringLike: { [`aws:ResourceTag/${Tags.fleet}`]: '*' } },
      }),
    );
    reconcileFn.addToRolePolicy(
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
    acknowledge(reconcileFn.role, wildcardResourceFinding(this, autoScalingGroups), [
      `Fleets opt in at run time by tag; PutLifecycleHook and DeleteLifecycleHook (the hook phoenix-drain), and the tag ${Tags.drainHook} that records it (aws:TagKeys: no other tag), are conditioned on aws:ResourceTag/${Tags.fleet}, so only managed groups get or lose the hook.`,
    ]);

    // ---- IAM: chaos ----------------------------------------------------------------------------
    const chaosFn = this.chaosFunction;
    describePolicy(this, chaosFn, 'ChaosDescribePolicy', ['autoscaling:DescribeAutoScalingGroups']);
    // Terminate (never scale): only groups that are managed AND opted into chaos by their tag.
    chaosFn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['autoscaling:TerminateInstanceInAutoScalingGroup'],
        resources: [autoScalingGroups],
        conditions: {
          StringLike: { [`aws:ResourceTag/${Tags.fleet}`]: '*', [`aws:ResourceTag/${Tags.chaos}`]: '*' },
        },
      }),
    );
    acknowledge(chaosFn.role, wildcardResourceFinding(this, autoScalingGroups), [
      `Fleets opt into chaos at run time by tag; TerminateInstanceInAutoScalingGroup (the only mutation) is conditioned on aws:ResourceTag/${Tags.fleet} and aws:ResourceTag/${Tags.chaos}, so only managed groups that opted into chaos can lose an instance.`,
    ]);
    // Fleet records only: read in batches, the one-kill-per-period claim by conditional update.
    chaosFn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:BatchGetItem', 'dynamodb:UpdateItem'],
        resources: [this.table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['FLEET#*'] } },
      }),
    );
    this.eventBus.grantPutEventsTo(chaosFn);

    // ---- IAM: the state machines (granted by the workflows / Step Functions) ---------------
    const machines = [
      {
        role: this.rolloutWorkflow.stateMachine.role,
        targets: [this.rolloutFleetFunction, this.rolloutRecordFunction],
      },
      {
        role: this.replaceWorkflow.stateMachine.role,
        targets: [this.replaceFunction, this.drainFunction],
      },
      { role: this.drainWorkflow.stateMachine.role, targets: [this.drainFunction] },
    ];
    for (const { role, targets: invoked } of machines) {
      acknowledge(role, 'AwsSolutions-IAM5[Resource::*]', [
        'Step Functions logging (logs:CreateLogDelivery and the other log-delivery actions) and X-Ray tracing (xray:PutTraceSegments, GetSamplingRules ...) support no resource-level permissions.',
      ]);
      for (const target of invoked) {
        acknowledge(role, wildcardResourceFinding(this, `${target.functionArn}:*`), [
          `The LambdaInvoke tasks may invoke any version or alias of the ${target.handlerName} function (<arn>:*), and no other function.`,
        ]);
      }
    }
  }
}

/** Throws once, with every problem, quoting what was received. Unresolved tokens are not checked. */
function validateProps(props: { eventBusName: string; chaosSchedule: events.Schedule }): void {
  const problems: string[] = [];
  const chaos = props.chaosSchedule.expressionString;
  if (!Token.isUnresolved(chaos) && ratePeriodSeconds(chaos) === undefined) {
    problems.push(
      `chaosSchedule must be a rate(...) schedule (its rate is the chaos period): got ${JSON.stringify(chaos)}`,
    );
  }
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
