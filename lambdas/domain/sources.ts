/**
 * The catalog of event sources Phoenix listens to: one entry per EventBridge rule, with its exact
 * pattern. The CDK app creates one rule per entry (targeting the intake function); normalization
 * (domain/intake.ts) handles every event these patterns match.
 *
 * Patterns stay within what both EventBridge and the local emulator evaluate alike: plain values,
 * `prefix`, nested objects, and no matching into arrays of objects (the emulator never matches
 * those). Where a finer filter would need that (an alarm's metric names, a CloudTrail call's tag
 * keys), the rule is broader and normalization filters; each such choice is noted on its entry.
 *
 * Pure module: no SDK.
 */
import { CHANNEL_PARAMETER_PREFIX, COMMAND_SOURCE, DetailTypes, DRAIN_HOOK_NAME } from './contract';

/** An EventBridge pattern, in the JSON form EventBridge takes (`detail-type` in kebab case). */
export type EventPattern = Record<string, unknown>;

export interface EventSource {
  /** Construct id of the rule (PascalCase, ends in `Rule`). */
  readonly ruleId: string;
  /** On which bus: the account's default bus, or the Phoenix bus. */
  readonly bus: 'default' | 'phoenix';
  readonly description: string;
  readonly pattern: EventPattern;
}

/** Status-check metrics of EC2: an alarm on one of these for an instance is a health failure. */
export const STATUS_CHECK_METRICS = [
  'StatusCheckFailed',
  'StatusCheckFailed_System',
  'StatusCheckFailed_Instance',
  'StatusCheckFailed_AttachedEBS',
] as const;

/**
 * AWS Health event type codes (service EC2) that name instances Phoenix replaces before AWS acts
 * on them: retirement and scheduled stops or maintenance (cause `retirement`), degraded hardware
 * (cause `health`).
 */
export const HEALTH_EVENT_CAUSES: Readonly<Record<string, 'retirement' | 'health'>> = {
  AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED: 'retirement',
  AWS_EC2_PERSISTENT_INSTANCE_RETIREMENT_SCHEDULED: 'retirement',
  AWS_EC2_INSTANCE_STOP_SCHEDULED: 'retirement',
  AWS_EC2_INSTANCE_REBOOT_MAINTENANCE_SCHEDULED: 'retirement',
  AWS_EC2_INSTANCE_REBOOT_FLEXIBLE_MAINTENANCE_SCHEDULED: 'retirement',
  AWS_EC2_SYSTEM_REBOOT_MAINTENANCE_SCHEDULED: 'retirement',
  AWS_EC2_INSTANCE_NETWORK_MAINTENANCE_SCHEDULED: 'retirement',
  AWS_EC2_INSTANCE_POWER_MAINTENANCE_SCHEDULED: 'retirement',
  AWS_EC2_PERSISTENT_INSTANCE_POWER_MAINTENANCE_SCHEDULED: 'retirement',
  AWS_EC2_PERSISTENT_INSTANCE_NETWORK_MAINTENANCE_SCHEDULED: 'retirement',
  AWS_EC2_INSTANCE_STORE_DRIVE_PERFORMANCE_DEGRADED: 'health',
  AWS_EC2_PERSISTENT_INSTANCE_STORE_DRIVE_PERFORMANCE_DEGRADED: 'health',
  AWS_EC2_DEGRADED_HARDWARE: 'health',
};

/** EC2 API calls that change a running instance in place (drift), as CloudTrail names them. */
export const IN_PLACE_EC2_CALLS = [
  'ModifyInstanceAttribute',
  'ModifyInstanceMetadataOptions',
  'ModifyInstanceMaintenanceOptions',
  'ModifyInstanceCreditSpecification',
  'AssociateIamInstanceProfile',
  'ReplaceIamInstanceProfileAssociation',
  'DisassociateIamInstanceProfile',
  'AttachVolume',
  'DetachVolume',
  'AttachNetworkInterface',
  'DetachNetworkInterface',
] as const;

/** API calls that open a shell on an instance. */
export const SHELL_ACCESS_CALLS = [
  'StartSession',
  'SendSSHPublicKey',
  'SendSerialConsoleSSHPublicKey',
] as const;

const CLOUDTRAIL = 'AWS API Call via CloudTrail';

export const EVENT_SOURCES: readonly EventSource[] = [
  // ---- image publication → rollout ----------------------------------------------------------
  {
    ruleId: 'AmiAvailableRule',
    bus: 'default',
    description: 'An AMI became available (EC2 AMI State Change)',
    pattern: {
      source: ['aws.ec2'],
      'detail-type': ['EC2 AMI State Change'],
      detail: { State: ['available'] },
    },
  },
  {
    ruleId: 'ImageBuilderImageRule',
    bus: 'default',
    description: 'EC2 Image Builder finished an image (AVAILABLE)',
    pattern: {
      source: ['aws.imagebuilder'],
      'detail-type': ['EC2 Image Builder Image State Change'],
      detail: { state: { status: ['AVAILABLE'] } },
    },
  },
  {
    ruleId: 'ChannelParameterRule',
    bus: 'default',
    description: `A channel parameter (${CHANNEL_PARAMETER_PREFIX}<channel>) was created or updated`,
    pattern: {
      source: ['aws.ssm'],
      'detail-type': ['Parameter Store Change'],
      detail: { name: [{ prefix: CHANNEL_PARAMETER_PREFIX }], operation: ['Create', 'Update'] },
    },
  },
  {
    ruleId: 'ImageParameterRule',
    bus: 'default',
    description:
      'A golden-AMI parameter (data type aws:ec2:image) was created or updated; fleets follow it by the tag phoenix:image-parameter',
    pattern: {
      source: ['aws.ssm'],
      'detail-type': ['Parameter Store Change'],
      detail: { dataType: ['aws:ec2:image'], operation: ['Create', 'Update'] },
    },
  },
  {
    // Broader than needed: the tag keys sit in an array of objects (requestParameters.tagSet.items),
    // which the emulator cannot match; normalization keeps only phoenix:channel on AMIs.
    ruleId: 'AmiChannelTagRule',
    bus: 'default',
    description: 'CreateTags (CloudTrail); normalization keeps phoenix:channel tags put on AMIs',
    pattern: {
      source: ['aws.ec2'],
      'detail-type': [CLOUDTRAIL],
      detail: { eventSource: ['ec2.amazonaws.com'], eventName: ['CreateTags'] },
    },
  },
  {
    ruleId: 'PublishImageRule',
    bus: 'phoenix',
    description: 'The Phoenix PublishImage command',
    pattern: { source: [COMMAND_SOURCE], 'detail-type': [DetailTypes.PublishImage] },
  },

  // ---- health and interruption → replace ------------------------------------------------------
  {
    // Broader than needed: an alarm's metric name and dimensions sit in
    // configuration.metrics[].metricStat.metric (an array of objects); normalization keeps
    // status-check alarms of one instance and designated health alarms.
    ruleId: 'AlarmRule',
    bus: 'default',
    description:
      'A CloudWatch alarm went to ALARM; normalization keeps EC2 status checks and designated health alarms',
    pattern: {
      source: ['aws.cloudwatch'],
      'detail-type': ['CloudWatch Alarm State Change'],
      detail: { state: { value: ['ALARM'] } },
    },
  },
  {
    ruleId: 'HealthRule',
    bus: 'default',
    description: 'AWS Health: EC2 retirement, scheduled maintenance and degraded hardware',
    pattern: {
      source: ['aws.health'],
      'detail-type': ['AWS Health Event'],
      detail: { service: ['EC2'], eventTypeCode: Object.keys(HEALTH_EVENT_CAUSES) },
    },
  },
  {
    ruleId: 'InterruptionRule',
    bus: 'default',
    description: 'Spot interruption warnings and rebalance recommendations',
    pattern: {
      source: ['aws.ec2'],
      'detail-type': ['EC2 Spot Instance Interruption Warning', 'EC2 Instance Rebalance Recommendation'],
    },
  },

  // ---- termination lifecycle hook → drain ----------------------------------------------------
  {
    ruleId: 'DrainHookRule',
    bus: 'default',
    description: `Auto Scaling terminates an instance of a fleet with the lifecycle hook ${DRAIN_HOOK_NAME}`,
    pattern: {
      source: ['aws.autoscaling'],
      'detail-type': ['EC2 Instance-terminate Lifecycle Action'],
      detail: { LifecycleHookName: [DRAIN_HOOK_NAME] },
    },
  },

  // ---- drift and shell access → replace -------------------------------------------------------
  {
    ruleId: 'ConfigItemChangeRule',
    bus: 'default',
    description: 'AWS Config recorded an in-place change of an EC2 instance',
    pattern: {
      source: ['aws.config'],
      'detail-type': ['Config Configuration Item Change'],
      detail: {
        messageType: ['ConfigurationItemChangeNotification'],
        configurationItem: { resourceType: ['AWS::EC2::Instance'] },
        configurationItemDiff: { changeType: ['UPDATE'] },
      },
    },
  },
  {
    ruleId: 'ConfigOversizedItemChangeRule',
    bus: 'default',
    description: 'AWS Config recorded an in-place change of an EC2 instance too large to deliver whole',
    pattern: {
      source: ['aws.config'],
      'detail-type': ['Config Configuration Item Change'],
      detail: {
        messageType: ['OversizedConfigurationItemChangeNotification'],
        configurationItemSummary: { resourceType: ['AWS::EC2::Instance'], changeType: ['UPDATE'] },
      },
    },
  },
  {
    ruleId: 'ConfigComplianceRule',
    bus: 'default',
    description: 'An AWS Config rule found an EC2 instance NON_COMPLIANT',
    pattern: {
      source: ['aws.config'],
      'detail-type': ['Config Rules Compliance Change'],
      detail: {
        resourceType: ['AWS::EC2::Instance'],
        newEvaluationResult: { complianceType: ['NON_COMPLIANT'] },
      },
    },
  },
  {
    ruleId: 'InPlaceChangeRule',
    bus: 'default',
    description: 'An EC2 API call changed an instance in place (CloudTrail)',
    pattern: {
      source: ['aws.ec2'],
      'detail-type': [CLOUDTRAIL],
      detail: { eventSource: ['ec2.amazonaws.com'], eventName: [...IN_PLACE_EC2_CALLS] },
    },
  },
  {
    ruleId: 'ShellAccessRule',
    bus: 'default',
    description: 'A shell was opened on an instance: SSM StartSession, EC2 Instance Connect (CloudTrail)',
    pattern: {
      source: ['aws.ssm', 'aws.ec2-instance-connect'],
      'detail-type': [CLOUDTRAIL],
      // `prefix`: AWS's own published SendSSHPublicKey sample carries the name with a trailing space.
      detail: {
        eventSource: ['ssm.amazonaws.com', 'ec2-instance-connect.amazonaws.com'],
        eventName: SHELL_ACCESS_CALLS.map((name) => ({ prefix: name })),
      },
    },
  },
];
