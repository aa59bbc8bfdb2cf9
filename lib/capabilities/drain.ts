import { Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
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
  fleetInstanceConditions,
  instanceArns,
} from './shared';

export interface DrainCapabilityProps extends CapabilityProps {
  /**
   * The SSM documents a drain may run as a flush (ssm:SendCommand): names of this account's
   * documents (IAM wildcards allowed) or full document ARNs (e.g. a document shared by another
   * account). A fleet's `phoenix:flush-document` outside them fails its flush (AccessDenied).
   * @default DEFAULT_FLUSH_DOCUMENTS - this account's documents whose name contains `flush`
   */
  readonly flushDocuments?: readonly string[];
  /**
   * Target groups a drain may deregister instances from besides those tagged `phoenix:fleet`.
   * @default - only target groups tagged `phoenix:fleet`
   */
  readonly targetGroups?: readonly elbv2.ITargetGroup[];
}

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
    grantDrainSteps(scope, this.function, props);
    props.state.eventBus.grantPutEventsTo(this.function);
    acknowledgeWorkflowRole(scope, this.workflow.stateMachine.role, [this.function]);
  }
}

/** The flush documents a drain may run when `flushDocuments` is not given. */
export const DEFAULT_FLUSH_DOCUMENTS: readonly string[] = ['*flush*'];

function grantDrainSteps(scope: Construct, drainFn: PhoenixFunction, props: DrainCapabilityProps): void {
  const stack = Stack.of(scope);
  describePolicy(scope, drainFn, 'DrainDescribePolicy', [
    'ec2:DescribeInstances',
    'autoscaling:DescribeAutoScalingGroups',
    'elasticloadbalancing:DescribeTargetHealth',
    'elasticloadbalancing:DescribeTargetGroupAttributes',
    'ssm:GetCommandInvocation',
  ]);
  // The target groups of a fleet are found at run time from its Auto Scaling group: those tagged
  // phoenix:fleet (the adoption contract), and those the deployer lists.
  const targetGroups = stack.formatArn({
    service: 'elasticloadbalancing',
    resource: 'targetgroup',
    resourceName: '*',
  });
  drainFn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['elasticloadbalancing:DeregisterTargets'],
      resources: [targetGroups],
      conditions: { StringLike: { [`aws:ResourceTag/${Tags.fleet}`]: '*' } },
    }),
  );
  const listed = (props.targetGroups ?? []).map((tg) => tg.targetGroupArn);
  if (listed.length > 0) {
    drainFn.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['elasticloadbalancing:DeregisterTargets'], resources: listed }),
    );
  }
  acknowledge(drainFn.role, wildcardResourceFinding(scope, targetGroups), [
    `The target groups an instance is deregistered from are those its fleet's Auto Scaling group names (TargetGroupARNs), known only at run time; DeregisterTargets only, on target groups of this account and region tagged ${Tags.fleet} (aws:ResourceTag, part of the adoption contract) and on those the deployer lists (targetGroups, by ARN).`,
  ]);
  // The flush: the document the fleet names (tag phoenix:flush-document), among those the deployer allows.
  const documents = (props.flushDocuments ?? DEFAULT_FLUSH_DOCUMENTS).map((name) =>
    name.startsWith('arn:')
      ? name
      : stack.formatArn({ service: 'ssm', resource: 'document', resourceName: name }),
  );
  drainFn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:SendCommand'], resources: documents }));
  for (const document of documents.filter((d) => d.includes('*'))) {
    acknowledge(drainFn.role, wildcardResourceFinding(scope, document), [
      `The flush document is named by the fleet's tag ${Tags.flushDocument} at run time; SendCommand may use only the documents the deployer allows (flushDocuments, default: this account's documents whose name contains "flush"), never an AWS-owned document such as AWS-RunShellScript (their ARNs carry no account), and only on instances of fleets (separate statements).`,
    ]);
  }
  const instances = instanceArns(scope);
  for (const conditions of fleetInstanceConditions('ssm:resourceTag')) {
    drainFn.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['ssm:SendCommand'], resources: [instances], conditions }),
    );
  }
  acknowledge(drainFn.role, wildcardResourceFinding(scope, instances), [
    `The instance to flush is named by the workflow at run time; SendCommand is limited to instances of this account and region that belong to a fleet: tagged ${Tags.fleet} (fleets propagate it at launch, the adoption contract) or launched by Auto Scaling into a green group of a blue-green rollout (ssm:resourceTag/aws:autoscaling:groupName, which only Auto Scaling writes, matches phoenix-<fleet>-<12 hex digits>).`,
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
