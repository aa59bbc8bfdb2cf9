import { Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { Handlers, Tags } from '../../lambdas/domain/contract';
import { wildcardResourceFinding } from '../compliance';
import { DrainWorkflow } from '../drain-workflow';
import type { PhoenixFunction } from '../phoenix-function';
import {
  acknowledge,
  acknowledgeWorkflowRole,
  autoScalingGroupArns,
  type CapabilityProps,
  capabilityFunction,
  deadLetterAlarms,
  describePolicy,
  instanceArns,
} from './shared';

export type DrainCapabilityProps = CapabilityProps;

/**
 * Draining an instance before it goes: the drain function (deregister from target groups, the
 * flush document, CompleteLifecycleAction), whose steps run in the Replace workflow too, and the
 * Drain workflow: one execution per termination lifecycle action of the hook `phoenix-drain`.
 * Resources in `scope`: see ./shared.ts.
 */
export class DrainCapability extends Construct {
  /** The drain steps (ELBv2 + SSM + Auto Scaling): in the Replace workflow and the Drain workflow. */
  public readonly function: PhoenixFunction;
  /** The Drain workflow: one execution per termination lifecycle action of the hook `phoenix-drain`. */
  public readonly workflow: DrainWorkflow;
  /** The function's dead-letter queue (asynchronous invocations). */
  public readonly deadLetterQueues: readonly sqs.Queue[];
  /** One alarm per dead-letter queue. */
  public readonly deadLetterAlarms: readonly cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: DrainCapabilityProps) {
    super(scope, id);
    // The drain steps live in a function of their own: ELBv2 + SSM would take replace over 1 MB.
    this.function = capabilityFunction(scope, 'DrainFunction', Handlers.drain, props);
    this.workflow = new DrainWorkflow(scope, 'Drain', {
      drainFunction: this.function,
      removalPolicy: props.removalPolicy,
      logRetention: props.logRetention,
      encryptionKey: props.encryptionKey,
    });
    this.deadLetterQueues = [this.function.deadLetterQueue];
    this.deadLetterAlarms = deadLetterAlarms(this.deadLetterQueues);
    grantDrainSteps(scope, this.function);
    props.state.eventBus.grantPutEventsTo(this.function);
    acknowledgeWorkflowRole(scope, this.workflow.stateMachine.role, [this.function]);
  }
}

function grantDrainSteps(scope: Construct, drainFn: PhoenixFunction): void {
  const stack = Stack.of(scope);
  describePolicy(scope, drainFn, 'DrainDescribePolicy', [
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
  acknowledge(drainFn.role, wildcardResourceFinding(scope, targetGroups), [
    'The target groups an instance is deregistered from are those its managed Auto Scaling group names (TargetGroupARNs), known only at run time; DeregisterTargets only, on the target groups of this account and region.',
  ]);
  // The flush: the document the fleet names (tag phoenix:flush-document), on instances Auto Scaling launched.
  const documents = stack.formatArn({ service: 'ssm', resource: 'document', resourceName: '*' });
  drainFn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:SendCommand'], resources: [documents] }));
  acknowledge(drainFn.role, wildcardResourceFinding(scope, documents), [
    `The flush document is named by the fleet's tag ${Tags.flushDocument} at run time; SendCommand may use the SSM documents of this account and region, and only on instances an Auto Scaling group launched (separate statement, condition ssm:resourceTag/aws:autoscaling:groupName).`,
  ]);
  const instances = instanceArns(scope);
  drainFn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['ssm:SendCommand'],
      resources: [instances],
      conditions: { StringLike: { 'ssm:resourceTag/aws:autoscaling:groupName': '*' } },
    }),
  );
  acknowledge(drainFn.role, wildcardResourceFinding(scope, instances), [
    'The instance to flush is named by the workflow at run time; SendCommand is limited to instances of this account and region that an Auto Scaling group launched (ssm:resourceTag/aws:autoscaling:groupName).',
  ]);
  const autoScalingGroups = autoScalingGroupArns(scope);
  drainFn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['autoscaling:CompleteLifecycleAction'],
      resources: [autoScalingGroups],
      conditions: { StringLike: { [`aws:ResourceTag/${Tags.fleet}`]: '*' } },
    }),
  );
  acknowledge(drainFn.role, wildcardResourceFinding(scope, autoScalingGroups), [
    `Fleets opt in at run time by tag; CompleteLifecycleAction (the only Auto Scaling mutation) is conditioned on aws:ResourceTag/${Tags.fleet}, so only managed groups' lifecycle actions can be completed.`,
  ]);
}
