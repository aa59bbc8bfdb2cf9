import { ArnFormat, type Duration, Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { Handlers, Tags } from '../../lambdas/domain/contract';
import { wildcardResourceFinding } from '../compliance';
import type { PhoenixFunction } from '../phoenix-function';
import { ReplaceWorkflow } from '../replace-workflow';
import {
  acknowledge,
  acknowledgeWorkflowRole,
  autoScalingGroupArns,
  type CapabilityProps,
  capabilityFunction,
  deadLetterAlarms,
  describePolicy,
  fleetInstanceConditions,
  instanceArns,
} from './shared';

export interface ReplaceCapabilityProps extends CapabilityProps {
  /** The drain steps' function (the Drain capability's): the Replace workflow drains before it terminates. */
  readonly drainFunction: PhoenixFunction;
  /**
   * How long one replacement may run in all, waiting for a disruption-budget slot included.
   * @default - the `ReplaceWorkflow` default, 1 hour
   */
  readonly timeout?: Duration;
  /**
   * How long a replacement waits between two checks.
   * @default - the `ReplaceWorkflow` default, 15 seconds
   */
  readonly pollInterval?: Duration;
}

/**
 * Replacing one instance: the replace function (EC2 + Auto Scaling + DynamoDB + EventBridge) and
 * the Replace workflow, one execution per instance to replace (it runs the drain steps too).
 * Resources in `scope`: see ./shared.ts.
 */
export class ReplaceCapability extends Construct {
  /** The Replace workflow's steps (EC2 + Auto Scaling + DynamoDB + EventBridge). */
  public readonly function: PhoenixFunction;
  /** The Replace workflow (Step Functions Standard): one execution per instance to replace. */
  public readonly workflow: ReplaceWorkflow;
  /** The function's dead-letter queue (asynchronous invocations). */
  public readonly deadLetterQueues: readonly sqs.Queue[];
  /** One alarm per dead-letter queue. */
  public readonly deadLetterAlarms: readonly cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: ReplaceCapabilityProps) {
    super(scope, id);
    this.function = capabilityFunction(scope, 'ReplaceFunction', Handlers.replace, props);
    this.workflow = new ReplaceWorkflow(scope, 'Replace', {
      replaceFunction: this.function,
      drainFunction: props.drainFunction,
      timeout: props.timeout,
      pollInterval: props.pollInterval,
      removalPolicy: props.removalPolicy,
      logRetention: props.logRetention,
      encryptionKey: props.encryptionKey,
    });
    this.deadLetterQueues = [this.function.deadLetterQueue];
    this.deadLetterAlarms = deadLetterAlarms(this.deadLetterQueues);

    grantReplaceSteps(scope, this.function);
    // Fleet records only (the disruption budget's slots and the active rollout): never intake's EVENT# items.
    props.state.grantFleetRecords(this.function, 'dynamodb:GetItem', 'dynamodb:UpdateItem');
    props.state.eventBus.grantPutEventsTo(this.function);
    acknowledgeWorkflowRole(scope, this.workflow.stateMachine.role, [this.function, props.drainFunction]);
  }

  /** Start a replacement: `states:StartExecution` on the Replace state machine. */
  public grantStartExecution(fn: PhoenixFunction): void {
    this.workflow.stateMachine.grantStartExecution(fn);
  }

  /**
   * Re-replacement: how did an instance's earlier Replace execution end (aws/executions.ts)?
   * `states:DescribeExecution` on the executions of the Replace state machine only.
   */
  public grantDescribeExecutions(fn: PhoenixFunction): void {
    const scope = this.node.scope as Construct;
    const executions = Stack.of(this).formatArn({
      service: 'states',
      resource: 'execution',
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      resourceName: `${this.workflow.stateMachine.stateMachineName}:*`,
    });
    fn.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['states:DescribeExecution'], resources: [executions] }),
    );
    acknowledge(fn.role, wildcardResourceFinding(scope, executions), [
      'Replace executions are named per instance at run time (<fleet>--<instance id>[-<attempt>]); DescribeExecution only, on the executions of the Replace state machine only, to tell whether an earlier attempt ended without replacing the instance.',
    ]);
  }
}

function grantReplaceSteps(scope: Construct, replaceFn: PhoenixFunction): void {
  describePolicy(scope, replaceFn, 'ReplaceDescribePolicy', [
    'ec2:DescribeInstances',
    'autoscaling:DescribeAutoScalingGroups',
    'autoscaling:DescribeAutoScalingInstances',
    // Serving, as the floor counts it: healthy in the group's target groups too.
    'elasticloadbalancing:DescribeTargetHealth',
    // A surge that waits for initial health checks alone: their interval paces its checks.
    'elasticloadbalancing:DescribeTargetGroups',
  ]);
  const autoScalingGroups = autoScalingGroupArns(scope);
  replaceFn.addToRolePolicy(
    new iam.PolicyStatement({
      // UpdateAutoScalingGroup: a surge with no room raises the maximum by one and puts it back.
      actions: [
        'autoscaling:SetDesiredCapacity',
        'autoscaling:TerminateInstanceInAutoScalingGroup',
        'autoscaling:UpdateAutoScalingGroup',
      ],
      resources: [autoScalingGroups],
      conditions: { StringLike: { [`aws:ResourceTag/${Tags.fleet}`]: '*' } },
    }),
  );
  acknowledge(replaceFn.role, wildcardResourceFinding(scope, autoScalingGroups), [
    `Fleets opt in at run time by tag; the mutations (SetDesiredCapacity, TerminateInstanceInAutoScalingGroup, UpdateAutoScalingGroup of the capacity for a surge) are conditioned on aws:ResourceTag/${Tags.fleet}, so only Auto Scaling groups tagged as managed can be scaled or have instances terminated.`,
  ]);
  const instances = instanceArns(scope);
  for (const fleetInstance of fleetInstanceConditions('aws:ResourceTag')) {
    replaceFn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ec2:CreateTags'],
        resources: [instances],
        conditions: {
          // Only instances of fleets (tagged phoenix:fleet, or launched into a green group) ...
          ...fleetInstance,
          // ... and only the taint and drained tags: no other tag can be written, none can be omitted.
          'ForAllValues:StringEquals': { 'aws:TagKeys': [Tags.tainted, Tags.drained] },
          Null: { 'aws:TagKeys': 'false' },
        },
      }),
    );
  }
  acknowledge(replaceFn.role, wildcardResourceFinding(scope, instances), [
    `The instance to taint is named by an event at run time; ec2:CreateTags is limited to instances of this account and region that belong to a fleet (tagged ${Tags.fleet}, which fleets propagate at launch, or launched by Auto Scaling into a green group phoenix-<fleet>-<12 hex digits>: aws:ResourceTag/aws:autoscaling:groupName), and to the tag keys ${Tags.tainted} and ${Tags.drained} (aws:TagKeys).`,
  ]);
}
