import { ArnFormat, Aws, type Duration, Fn, Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { Env, Handlers, Tags } from '../../lambdas/domain/contract';
import { DEFAULT_MAX_CONCURRENT_ROLLOUTS } from '../../lambdas/domain/fleet-record';
import { wildcardResourceFinding } from '../compliance';
import type { PhoenixFunction } from '../phoenix-function';
import { RolloutWorkflow } from '../rollout-workflow';
import {
  acknowledge,
  acknowledgeWorkflowRole,
  autoScalingGroupArns,
  greenGroupArns,
  type CapabilityProps,
  capabilityFunction,
  deadLetterAlarms,
  describePolicy,
} from './shared';

export interface RolloutCapabilityProps extends CapabilityProps {
  /**
   * How long one rollout may run before it is rolled back (its deadline).
   * @default - the `RolloutWorkflow` default, 2 hours
   */
  readonly timeout?: Duration;
  /**
   * How long a rollout waits between two health checks of a batch.
   * @default - the `RolloutWorkflow` default, 15 seconds
   */
  readonly pollInterval?: Duration;
  /**
   * Owners whose images a rollout accepts: 12-digit account ids and `amazon` (validated by
   * `PhoenixControlPlane`).
   * @default [Aws.ACCOUNT_ID, 'amazon']
   */
  readonly allowedImageOwners?: string[];
  /**
   * How many rollouts (all fleets together) may run at once (validated by `PhoenixControlPlane`).
   * @default 10
   */
  readonly maxConcurrentRollouts?: number;
  /**
   * The instance roles rollout-fleet may pass to EC2 (iam:PassRole, iam:PassedToService =
   * ec2.amazonaws.com): those of the instance profiles the fleets' launch templates name.
   * Updating a group to a template version with an instance profile requires it of the caller.
   * @default - none: only fleets whose launch templates name no instance profile can be rolled
   */
  readonly instanceRoles?: readonly iam.IRole[];
}

/**
 * Rollouts: the Rollout workflow and its two functions, rollout-fleet (EC2 + Auto Scaling, the
 * fleet's own resources) and rollout-record (the fleet record, the global slots, the outcomes).
 * Resources in `scope`: see ./shared.ts.
 */
export class RolloutCapability extends Construct {
  /** The Rollout workflow's EC2 + Auto Scaling steps. */
  public readonly fleetFunction: PhoenixFunction;
  /** The Rollout workflow's DynamoDB + EventBridge steps. */
  public readonly recordFunction: PhoenixFunction;
  /** The Rollout workflow (Step Functions Standard). */
  public readonly workflow: RolloutWorkflow;
  /** The functions' dead-letter queues (asynchronous invocations). */
  public readonly deadLetterQueues: readonly sqs.Queue[];
  /** One alarm per dead-letter queue. */
  public readonly deadLetterAlarms: readonly cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: RolloutCapabilityProps) {
    super(scope, id);
    const owners = props.allowedImageOwners ?? [Aws.ACCOUNT_ID, 'amazon'];
    this.fleetFunction = capabilityFunction(scope, 'RolloutFleetFunction', Handlers.rolloutFleet, props);
    this.fleetFunction.addEnvironment(Env.allowedImageOwners, Fn.join(',', owners));
    this.recordFunction = capabilityFunction(scope, 'RolloutRecordFunction', Handlers.rolloutRecord, props);
    this.recordFunction.addEnvironment(
      Env.maxConcurrentRollouts,
      String(props.maxConcurrentRollouts ?? DEFAULT_MAX_CONCURRENT_ROLLOUTS),
    );
    this.workflow = new RolloutWorkflow(scope, 'Rollout', {
      fleetFunction: this.fleetFunction,
      recordFunction: this.recordFunction,
      timeout: props.timeout,
      pollInterval: props.pollInterval,
      removalPolicy: props.removalPolicy,
      logRetention: props.logRetention,
      encryptionKey: props.encryptionKey,
    });
    this.deadLetterQueues = [this.fleetFunction.deadLetterQueue, this.recordFunction.deadLetterQueue];
    this.deadLetterAlarms = deadLetterAlarms(this.deadLetterQueues);

    grantFleetSteps(scope, this.fleetFunction, props.instanceRoles ?? []);
    // Fleet records are read and changed one item at a time (conditional updates): nothing more.
    props.state.table.grant(this.recordFunction, 'dynamodb:GetItem', 'dynamodb:UpdateItem');
    props.state.eventBus.grantPutEventsTo(this.recordFunction);
    grantWakeWaiters(scope, this.recordFunction);
    acknowledgeWorkflowRole(scope, this.workflow.stateMachine.role, [
      this.fleetFunction,
      this.recordFunction,
    ]);
  }
}

/**
 * rollout-record wakes the rollouts waiting for a global slot (WaitForRolloutSlot, the callback
 * pattern): SendTaskSuccess on their task tokens, and nothing else (not SendTaskFailure, not
 * SendTaskHeartbeat). SendTask* support no resource-level permissions (the Service Authorization
 * Reference lists no resource type, no condition key for them): a statement naming the Rollout
 * state machine would grant nothing, so Resource * — the token is the capability, and the function
 * holds only the tokens of Rollout tasks, which registered them on the slots item themselves.
 */
function grantWakeWaiters(scope: Construct, recordFn: PhoenixFunction): void {
  const policy = new iam.Policy(scope, 'RolloutRecordWakePolicy', {
    roles: [recordFn.role],
    statements: [new iam.PolicyStatement({ actions: ['states:SendTaskSuccess'], resources: ['*'] })],
  });
  recordFn.node.addDependency(policy);
  acknowledge(policy, 'AwsSolutions-IAM5[Resource::*]', [
    'states:SendTaskSuccess supports no resource-level permissions (the Service Authorization Reference lists no resource type and no condition key for it), so it needs Resource *. Only the holder of a task token can end its task; rollout-record holds only the tokens of the Rollout tasks waiting for a slot, which registered them.',
  ]);
}

/** rollout-fleet: read the fleet, change managed groups only, launch what their templates launch. */
function grantFleetSteps(
  scope: Construct,
  fleetFn: PhoenixFunction,
  instanceRoles: readonly iam.IRole[],
): void {
  const stack = Stack.of(scope);
  describePolicy(scope, fleetFn, 'RolloutFleetDescribePolicy', [
    'ec2:DescribeImages',
    'ec2:DescribeInstances',
    'ec2:DescribeLaunchTemplateVersions',
    // The adoption check: is the fleet's launch template tagged phoenix:fleet?
    'ec2:DescribeLaunchTemplates',
    'autoscaling:DescribeAutoScalingGroups',
    // The target-group gate (rolling and blue-green).
    'elasticloadbalancing:DescribeTargetHealth',
    // A batch that waits for initial health checks alone: their interval paces its checks.
    'elasticloadbalancing:DescribeTargetGroups',
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
  acknowledge(fleetFn.role, wildcardResourceFinding(scope, alarmArns), [
    'The alarms that gate a rollout are named by the fleet tag phoenix:alarms at run time, so they cannot be named at synth; cloudwatch:DescribeAlarms only (read-only), on the alarms of this account and region.',
  ]);
  const launchTemplates = launchTemplateArns(scope);
  fleetFn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['ec2:CreateLaunchTemplateVersion'],
      resources: [launchTemplates],
      conditions: { StringLike: { [`aws:ResourceTag/${Tags.fleet}`]: '*' } },
    }),
  );
  const autoScalingGroups = autoScalingGroupArns(scope);
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
  const greenGroups = greenGroupArns(scope);
  // Green groups (blue-green) are updated (scaled to the fleet) before they carry phoenix:fleet.
  fleetFn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['autoscaling:UpdateAutoScalingGroup', 'autoscaling:SetDesiredCapacity'],
      resources: [greenGroups],
      conditions: { StringLike: { [`aws:ResourceTag/${Tags.greenOf}`]: '*' } },
    }),
  );
  grantBlueGreen(fleetFn, autoScalingGroups, greenGroups);
  acknowledge(fleetFn.role, wildcardResourceFinding(scope, autoScalingGroups), [
    `Fleets opt in at run time by tag, so their groups cannot be named at synth. On groups tagged ${Tags.fleet} (aws:ResourceTag): Update, SetDesiredCapacity, TerminateInstanceInAutoScalingGroup, Suspend/ResumeProcesses, and tag changes of ${Tags.fleet.split(':')[0]}:* keys only (aws:TagKeys). A blue group after cutover (tagged ${Tags.blueOf} and ${Tags.rollout}, no longer ${Tags.fleet}): tag changes of phoenix:* keys, detach from its target groups, delete. DeleteAutoScalingGroup never on a group tagged ${Tags.fleet} (Null condition).`,
  ]);
  acknowledge(fleetFn.role, wildcardResourceFinding(scope, greenGroups), [
    `Blue-green green groups are named by Phoenix at run time as phoenix-<fleet>-<12 hex digits> (GREEN_GROUP_NAME_PATTERN), so the resource is that name pattern: CreateAutoScalingGroup only with the request tags ${Tags.greenOf} and ${Tags.rollout}; update, scale, attach/detach target groups, phoenix:* tag changes only while tagged ${Tags.greenOf}; delete only while tagged ${Tags.greenOf} and ${Tags.rollout} and not ${Tags.fleet}.`,
  ]);
  acknowledge(fleetFn.role, wildcardResourceFinding(scope, launchTemplates), [
    `The launch template of a fleet is found at run time from its Auto Scaling group; CreateLaunchTemplateVersion only on templates tagged ${Tags.fleet} (aws:ResourceTag, part of the adoption contract), and ec2:RunInstances on a template only when it is tagged ${Tags.fleet}.`,
  ]);
  grantLaunch(scope, fleetFn, launchTemplates, instanceRoles);
}

/** Every launch template of this account and region (versioned and launched only when tagged). */
function launchTemplateArns(scope: Construct): string {
  return Stack.of(scope).formatArn({ service: 'ec2', resource: 'launch-template', resourceName: '*' });
}

/**
 * Blue-green (tag phoenix:strategy=blue-green). Green is created only by the name Phoenix
 * generates and tagged as a green group of a rollout (aws:RequestTag); tags change only on
 * fleets, green groups (by name) and retired blue groups, and only `phoenix:*` keys (aws:TagKeys),
 * except the tags green is created with (blue's own tags, copied); only green and retired blue
 * groups are detached or deleted, never a group tagged phoenix:fleet.
 */
function grantBlueGreen(fleetFn: PhoenixFunction, autoScalingGroups: string, greenGroups: string): void {
  const present = (...tags: string[]) =>
    Object.fromEntries(tags.map((tag) => [`aws:ResourceTag/${tag}`, '*']));
  const phoenixKeysOnly = {
    'ForAllValues:StringLike': { 'aws:TagKeys': ['phoenix:*'] },
    Null: { 'aws:TagKeys': 'false' },
  };
  const notAFleet = { [`aws:ResourceTag/${Tags.fleet}`]: 'true' };
  fleetFn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['autoscaling:CreateAutoScalingGroup'],
      resources: [greenGroups],
      conditions: {
        StringLike: { [`aws:RequestTag/${Tags.greenOf}`]: '*', [`aws:RequestTag/${Tags.rollout}`]: '*' },
      },
    }),
  );
  // The tags green is created with (CreateAutoScalingGroup with Tags needs CreateOrUpdateTags):
  // blue's own tags, copied, so any keys; only on a green name that is neither green nor a fleet yet.
  fleetFn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['autoscaling:CreateOrUpdateTags'],
      resources: [greenGroups],
      conditions: {
        StringLike: { [`aws:RequestTag/${Tags.greenOf}`]: '*', [`aws:RequestTag/${Tags.rollout}`]: '*' },
        Null: { ...notAFleet, [`aws:ResourceTag/${Tags.greenOf}`]: 'true', 'aws:TagKeys': 'false' },
      },
    }),
  );
  const tagActions = ['autoscaling:CreateOrUpdateTags', 'autoscaling:DeleteTags'];
  // Cutover and rollback move phoenix:* tags between the fleet (blue), green and a retired blue.
  for (const [resource, tags] of [
    [autoScalingGroups, [Tags.fleet]],
    [greenGroups, [Tags.greenOf]],
    [autoScalingGroups, [Tags.blueOf, Tags.rollout]],
  ] as const) {
    fleetFn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: tagActions,
        resources: [resource],
        conditions: { StringLike: present(...tags), ...phoenixKeysOnly },
      }),
    );
  }
  // Green is attached before cutover, detached and deleted on a rollback (re-tagged green first).
  fleetFn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['autoscaling:AttachLoadBalancerTargetGroups', 'autoscaling:DetachLoadBalancerTargetGroups'],
      resources: [greenGroups],
      conditions: { StringLike: present(Tags.greenOf), Null: notAFleet },
    }),
  );
  fleetFn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['autoscaling:DeleteAutoScalingGroup'],
      resources: [greenGroups],
      conditions: { StringLike: present(Tags.greenOf, Tags.rollout), Null: notAFleet },
    }),
  );
  // Blue after cutover (RetireBlue): detached from its target groups, then deleted.
  fleetFn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['autoscaling:DetachLoadBalancerTargetGroups', 'autoscaling:DeleteAutoScalingGroup'],
      resources: [autoScalingGroups],
      conditions: { StringLike: present(Tags.blueOf, Tags.rollout), Null: notAFleet },
    }),
  );
}

/**
 * Creating or updating a group with a launch template version checks that the caller may launch
 * it (ec2:RunInstances on the template and on what it launches, iam:PassRole for its instance
 * profile). RunInstances is granted only as the launch of a launch template (ec2:LaunchTemplate)
 * tagged phoenix:fleet, never free-standing; PassRole only for the instance roles listed.
 */
function grantLaunch(
  scope: Construct,
  fleetFn: PhoenixFunction,
  launchTemplates: string,
  instanceRoles: readonly iam.IRole[],
): void {
  const stack = Stack.of(scope);
  fleetFn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['ec2:RunInstances'],
      resources: [launchTemplates],
      conditions: { StringLike: { [`aws:ResourceTag/${Tags.fleet}`]: '*' } },
    }),
  );
  const launched = LAUNCHED_RESOURCE_TYPES.map((resource) =>
    stack.formatArn({ service: 'ec2', resource, resourceName: '*' }),
  );
  // Images and their snapshots may be shared from another account: their ARNs carry none.
  const images = stack.formatArn({ service: 'ec2', account: '', resource: 'image', resourceName: '*' });
  const snapshots = stack.formatArn({ service: 'ec2', account: '', resource: 'snapshot', resourceName: '*' });
  fleetFn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['ec2:RunInstances'],
      resources: [...launched, images, snapshots],
      conditions: { ArnLike: { 'ec2:LaunchTemplate': launchTemplates } },
    }),
  );
  const reason = `ec2:RunInstances only as the launch of a launch template (condition ec2:LaunchTemplate, which a free-standing RunInstances does not carry), and the template itself only when tagged ${Tags.fleet} (separate statement): what creating or updating a fleet's group with a new template version requires of the caller. Phoenix never calls RunInstances itself.`;
  for (const resource of launched) {
    acknowledge(fleetFn.role, wildcardResourceFinding(scope, resource), [
      `${reason} What the template launches (instances, volumes, network interfaces, its subnets, security groups, key pair, placement group, capacity reservation) is chosen by the fleet owner's template: limited to this account and region. On instances, volumes and network interfaces also ec2:CreateTags, only at launch (ec2:CreateAction = RunInstances): the tags the template version puts on them.`,
    ]);
  }
  acknowledge(fleetFn.role, wildcardResourceFinding(scope, images), [
    `${reason} A fleet's image may be shared from another account (image ARNs carry no account); the rollout itself accepts only images of allowedImageOwners.`,
  ]);
  acknowledge(fleetFn.role, wildcardResourceFinding(scope, snapshots), [
    `${reason} The image's EBS snapshots may belong to another account (snapshot ARNs carry no account).`,
  ]);
  // A template version's TagSpecifications tag what it launches: at launch only (ec2:CreateAction).
  const tagged = LAUNCH_TAGGED_RESOURCE_TYPES.map((resource) =>
    stack.formatArn({ service: 'ec2', resource, resourceName: '*' }),
  );
  fleetFn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['ec2:CreateTags'],
      resources: tagged,
      conditions: { StringEquals: { 'ec2:CreateAction': 'RunInstances' } },
    }),
  );
  for (const resource of tagged.filter((r) => !launched.includes(r))) {
    acknowledge(fleetFn.role, wildcardResourceFinding(scope, resource), [
      'ec2:CreateTags only as part of a launch (ec2:CreateAction = RunInstances): the tags a fleet template version puts on what it launches, which a group update with that version requires of the caller.',
    ]);
  }
  grantImageQuarantine(scope, fleetFn);
  if (instanceRoles.length === 0) return;
  fleetFn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['iam:PassRole'],
      resources: instanceRoles.map((role) => role.roleArn),
      conditions: {
        StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' },
      },
    }),
  );
}

/**
 * Quarantine (issue 13 §3): tag an image `phoenix:quarantined=<reason>`, and no other key. On
 * images only (`arn:aws:ec2:<region>::image/*`: image ARNs carry no account), the request's tag
 * keys all `phoenix:quarantined` (ForAllValues) and the tag present in the request. Removing the
 * tag is an operator's act (`phoenix release`, the operator's own credentials), not Phoenix's.
 */
export function grantImageQuarantine(scope: Construct, fn: PhoenixFunction): void {
  const images = Stack.of(scope).formatArn({
    service: 'ec2',
    account: '',
    resource: 'image',
    resourceName: '*',
  });
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['ec2:CreateTags'],
      resources: [images],
      conditions: {
        'ForAllValues:StringEquals': { 'aws:TagKeys': [Tags.quarantined] },
        // ForAllValues holds for a request without tag keys: they must be there.
        Null: { 'aws:TagKeys': 'false' },
        StringLike: { [`aws:RequestTag/${Tags.quarantined}`]: '*' },
      },
    }),
  );
  acknowledge(fn.role, wildcardResourceFinding(scope, images), [
    `ec2:CreateTags on images only with the one tag key ${Tags.quarantined} (aws:TagKeys ForAllValues, aws:RequestTag): the quarantine of an image that failed a rollout or a validation is known only at run time, and image ARNs carry no account.`,
  ]);
}

/** What a launch template version's TagSpecifications may tag at launch. */
const LAUNCH_TAGGED_RESOURCE_TYPES = [
  'instance',
  'volume',
  'network-interface',
  'spot-instances-request',
] as const;

/** What RunInstances launches or uses from a launch template, besides the image and its snapshots. */
const LAUNCHED_RESOURCE_TYPES = [
  'instance',
  'volume',
  'network-interface',
  'subnet',
  'security-group',
  'key-pair',
  'placement-group',
  'capacity-reservation',
  'elastic-gpu',
] as const;
