import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { Env, OptionalHandlers, Tags } from '../../lambdas/domain/contract';
import { DEFAULT_VALIDATION_TIMEOUT_SECONDS, type ValidationConfig } from '../../lambdas/domain/validation';
import type { ChannelProps } from '../channel-props';
import { wildcardResourceFinding } from '../compliance';
import type { PhoenixFunction } from '../phoenix-function';
import type { RolloutWorkflow } from '../rollout-workflow';
import { ValidateWorkflow } from '../validate-workflow';
import { grantImageQuarantine } from './rollout';
import {
  acknowledge,
  acknowledgeWorkflowRole,
  type CapabilityProps,
  capabilityFunction,
  deadLetterAlarms,
  describePolicy,
  instanceArns,
} from './shared';

export interface ValidationCapabilityProps extends CapabilityProps {
  /** The channels (only those with `validation` are validated). */
  readonly channels: Readonly<Record<string, ChannelProps>>;
  /** The Rollout workflow: a validated image's rollouts start from here. */
  readonly rollout: RolloutWorkflow;
  /** Instance roles the validation templates' instance profiles may pass (as for the fleets). */
  readonly instanceRoles?: readonly iam.IRole[];
  /**
   * How long a validation waits between two checks.
   * @default 15 seconds
   */
  readonly pollInterval?: Duration;
}

/** The channels' validations as the intake and the workflow carry them (JSON-serializable). */
export function validationConfigs(
  channels: Readonly<Record<string, ChannelProps>>,
): Record<string, ValidationConfig> {
  const out: Record<string, ValidationConfig> = {};
  for (const [channel, props] of Object.entries(channels)) {
    const v = props.validation;
    if (v === undefined) continue;
    out[channel] = {
      group: v.group,
      ...(v.testDocument !== undefined ? { testDocument: v.testDocument } : {}),
      ...(v.testFunction !== undefined ? { testFunction: v.testFunction } : {}),
      timeoutSeconds: v.timeout?.toSeconds() ?? DEFAULT_VALIDATION_TIMEOUT_SECONDS,
    };
  }
  return out;
}

/** Reserved concurrent executions of the validate function (one validation per image and channel at a time is the common case). */
export const VALIDATE_RESERVED_CONCURRENCY = 2;

/**
 * Post-creation image validation (issue 13 §2): the validate function and the Validate workflow,
 * one execution per image and channel with `validation`. Composed only when some channel has one.
 * Least privilege: the validation groups by name, their launch templates by the tag
 * `phoenix:validation`, the test documents and functions by name. Resources in `scope`: ./shared.ts.
 */
export class ValidationCapability extends Construct {
  public readonly function: PhoenixFunction;
  public readonly workflow: ValidateWorkflow;
  public readonly configs: Readonly<Record<string, ValidationConfig>>;
  public readonly deadLetterQueues: readonly sqs.Queue[];
  public readonly deadLetterAlarms: readonly cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: ValidationCapabilityProps) {
    super(scope, id);
    this.configs = validationConfigs(props.channels);
    const configs = Object.values(this.configs);
    this.function = capabilityFunction(scope, 'ValidateFunction', OptionalHandlers.validate, {
      ...props,
      reservedConcurrency: {
        [OptionalHandlers.validate]: props.reservedConcurrency?.validate ?? VALIDATE_RESERVED_CONCURRENCY,
      },
    });
    this.function.addEnvironment(Env.rolloutStateMachineArn, props.rollout.stateMachine.stateMachineArn);
    const longest = Math.max(...configs.map((c) => c.timeoutSeconds), 60);
    this.workflow = new ValidateWorkflow(scope, 'Validate', {
      validateFunction: this.function,
      validationTimeout: Duration.seconds(longest),
      pollInterval: props.pollInterval,
      removalPolicy: props.removalPolicy,
      logRetention: props.logRetention,
      encryptionKey: props.encryptionKey,
    });
    this.deadLetterQueues = [this.function.deadLetterQueue];
    this.deadLetterAlarms = deadLetterAlarms(this.deadLetterQueues);

    const fn = this.function;
    const stack = Stack.of(scope);
    describePolicy(scope, fn, 'ValidateDescribePolicy', [
      'autoscaling:DescribeAutoScalingGroups',
      'ec2:DescribeInstances',
    ]);
    // The validation groups, by name.
    const groups = [...new Set(configs.map((c) => c.group))].map((group) =>
      stack.formatArn({
        service: 'autoscaling',
        resource: 'autoScalingGroup',
        resourceName: `*:autoScalingGroupName/${group}`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['autoscaling:UpdateAutoScalingGroup', 'autoscaling:SetDesiredCapacity'],
        resources: groups,
      }),
    );
    for (const group of groups) {
      acknowledge(fn.role, wildcardResourceFinding(scope, group), [
        'An Auto Scaling group ARN carries its unique id, unknown before the deployer creates the group: the validation group is named exactly (autoScalingGroupName/<group>), the wildcard is its id only.',
      ]);
    }
    // Its launch template: versioned and launched only when tagged phoenix:validation.
    const templates = stack.formatArn({ service: 'ec2', resource: 'launch-template', resourceName: '*' });
    const taggedTemplate = { StringLike: { [`aws:ResourceTag/${Tags.validation}`]: '*' } };
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ec2:CreateLaunchTemplateVersion', 'ec2:RunInstances'],
        resources: [templates],
        conditions: taggedTemplate,
      }),
    );
    const launched = ['instance', 'volume', 'network-interface', 'subnet', 'security-group', 'key-pair'].map(
      (resource) => stack.formatArn({ service: 'ec2', resource, resourceName: '*' }),
    );
    const images = stack.formatArn({ service: 'ec2', account: '', resource: 'image', resourceName: '*' });
    const snapshots = stack.formatArn({
      service: 'ec2',
      account: '',
      resource: 'snapshot',
      resourceName: '*',
    });
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ec2:RunInstances'],
        resources: [...launched, images, snapshots],
        conditions: { ArnLike: { 'ec2:LaunchTemplate': templates } },
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ec2:CreateTags'],
        resources: launched.slice(0, 3),
        conditions: { StringEquals: { 'ec2:CreateAction': 'RunInstances' } },
      }),
    );
    const launchReason = `The validation group's launch template is found at run time from the group: CreateLaunchTemplateVersion and RunInstances only on templates tagged ${Tags.validation}; ec2:RunInstances on what it launches only as the launch of a launch template (ec2:LaunchTemplate), and CreateTags there only at launch (ec2:CreateAction): what updating the group with the new version requires of the caller. Images and snapshots may be shared from another account (their ARNs carry none).`;
    for (const resource of [templates, ...launched, images, snapshots]) {
      acknowledge(fn.role, wildcardResourceFinding(scope, resource), [launchReason]);
    }
    if ((props.instanceRoles ?? []).length > 0) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['iam:PassRole'],
          resources: (props.instanceRoles ?? []).map((r) => r.roleArn),
          conditions: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
        }),
      );
    }
    // The test documents, by name, on the validation instances (tagged by their group).
    const documents = [...new Set(configs.flatMap((c) => (c.testDocument ? [c.testDocument] : [])))];
    if (documents.length > 0) {
      const instances = instanceArns(scope);
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['ssm:SendCommand'],
          resources: documents.map((d) =>
            stack.formatArn({ service: 'ssm', resource: 'document', resourceName: d }),
          ),
        }),
      );
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['ssm:SendCommand'],
          resources: [instances],
          conditions: {
            StringEquals: {
              'ssm:resourceTag/aws:autoscaling:groupName': [...new Set(configs.map((c) => c.group))],
            },
          },
        }),
      );
      acknowledge(fn.role, wildcardResourceFinding(scope, instances), [
        'The validation instance is launched at run time: ssm:SendCommand only on instances of the validation groups (ssm:resourceTag/aws:autoscaling:groupName, a tag only Auto Scaling writes), and only of the named test documents (separate statement).',
      ]);
      describePolicy(scope, fn, 'ValidateCommandPolicy', ['ssm:GetCommandInvocation']);
    }
    // The test functions, by name.
    const functions = [...new Set(configs.flatMap((c) => (c.testFunction ? [c.testFunction] : [])))];
    if (functions.length > 0) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['lambda:InvokeFunction'],
          resources: functions.map((f) =>
            f.startsWith('arn:')
              ? f
              : stack.formatArn({
                  service: 'lambda',
                  resource: 'function',
                  resourceName: f,
                  arnFormat: ArnFormat.COLON_RESOURCE_NAME,
                }),
          ),
        }),
      );
    }
    // The verdict: the image record, the quarantine tag, the outcomes, the channel's rollouts
    // (the intake's fan-out: fleet records read, a pin released, Rollout executions started).
    props.state.grantImageRecords(fn, 'dynamodb:GetItem', 'dynamodb:UpdateItem');
    props.state.grantFleetRecords(fn, 'dynamodb:GetItem', 'dynamodb:UpdateItem');
    props.state.eventBus.grantPutEventsTo(fn);
    grantImageQuarantine(scope, fn);
    props.rollout.stateMachine.grantStartExecution(fn);
    acknowledgeWorkflowRole(scope, this.workflow.stateMachine.role, [fn]);
  }

  /** The intake starts validations: `states:StartExecution` on the Validate state machine, and its config. */
  public wireIntake(intake: PhoenixFunction, state: CapabilityProps['state']): void {
    this.workflow.stateMachine.grantStartExecution(intake);
    intake.addEnvironment(Env.validateStateMachineArn, this.workflow.stateMachine.stateMachineArn);
    intake.addEnvironment(Env.validationChannels, JSON.stringify(this.configs));
    state.grantImageRecords(intake, 'dynamodb:GetItem');
  }
}
