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

    grantFleetSteps(scope, this.fleetFunction);
    // Fleet records are read and changed one item at a time (conditional updates): nothing more.
    props.state.table.grant(this.recordFunction, 'dynamodb:GetItem', 'dynamodb:UpdateItem');
    props.state.eventBus.grantPutEventsTo(this.recordFunction);
    acknowledgeWorkflowRole(scope, this.workflow.stateMachine.role, [
      this.fleetFunction,
      this.recordFunction,
    ]);
  }
}

/** rollout-fleet: read the fleet, change managed groups only, launch what their templates launch. */
function grantFleetSteps(scope: Construct, fleetFn: PhoenixFunction): void {
  const stack = Stack.of(scope);
  describePolicy(scope, fleetFn, 'RolloutFleetDescribePolicy', [
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
  acknowledge(fleetFn.role, wildcardResourceFinding(scope, alarmArns), [
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
  acknowledge(fleetFn.role, wildcardResourceFinding(scope, launchTemplates), [
    'The launch template of a managed fleet is found at run time from its Auto Scaling group, so it cannot be named at synth; scoped to this account and region, and a new version changes no existing version.',
  ]);
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
  acknowledge(fleetFn.role, wildcardResourceFinding(scope, autoScalingGroups), [
    `Fleets opt in at run time by tag; the mutations are conditioned on aws:ResourceTag/${Tags.fleet}, so only Auto Scaling groups tagged as managed can be updated, scaled or have instances terminated. Blue-green: CreateAutoScalingGroup only with the request tags ${Tags.greenOf} and ${Tags.rollout} (aws:RequestTag); delete, attach/detach target groups and tag changes only on groups tagged ${Tags.fleet} or ${Tags.rollout} (a group in a blue-green transition), whose names are chosen at run time.`,
  ]);
  grantBlueGreen(fleetFn, autoScalingGroups);
  grantLaunch(scope, fleetFn);
}

/**
 * Blue-green (tag phoenix:strategy=blue-green): the green group is created only tagged as a green
 * group of a rollout (aws:RequestTag); deleting, attaching and detaching target groups and moving
 * tags only on groups that are a fleet (phoenix:fleet) or in a blue-green transition
 * (phoenix:rollout, which green carries until cutover and blue from cutover until it is deleted).
 */
function grantBlueGreen(fleetFn: PhoenixFunction, autoScalingGroups: string): void {
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
}

/** UpdateAutoScalingGroup with a new launch template version checks that the caller could launch it. */
function grantLaunch(scope: Construct, fleetFn: PhoenixFunction): void {
  const stack = Stack.of(scope);
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
  acknowledge(fleetFn.role, wildcardResourceFinding(scope, accountResources), [
    `${runInstancesReason} Instances, volumes, network interfaces, subnets and security groups are chosen by the fleet owner's template: limited to this account and region.`,
  ]);
  acknowledge(fleetFn.role, wildcardResourceFinding(scope, images), [
    `${runInstancesReason} A fleet's image may be shared from another account (image ARNs carry no account): limited to this region.`,
  ]);
  acknowledge(fleetFn.role, wildcardResourceFinding(scope, snapshots), [
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
  acknowledge(fleetFn.role, wildcardResourceFinding(scope, roles), [
    'UpdateAutoScalingGroup with a launch template version that has an instance profile requires iam:PassRole on its role, which the fleet owner chooses; the condition iam:PassedToService = ec2.amazonaws.com lets it reach EC2 instances only.',
  ]);
}
