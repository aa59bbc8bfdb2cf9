/**
 * Event intake: what an incoming EventBridge event means for Phoenix (its intent).
 *
 * Pure: no SDK, no clock. The intake Lambda, the local runtime and the CLI
 * (`phoenix events classify`) share it. Events are parsed as AWS shapes them: kebab-case and
 * PascalCase keys, ARNs with an availability zone or without an account, ids bare or in ARNs, stray
 * whitespace, placeholders. A value that is not a valid id is never acted upon.
 */
import {
  CHANNEL_PARAMETER_PREFIX,
  COMMAND_SOURCE,
  DetailTypes,
  DRAIN_HOOK_NAME,
  NAME_PATTERN,
  Tags,
} from './contract';
import { MalformedEventError } from './errors';
import { isAmiId } from './ids';
import { HEALTH_EVENT_CAUSES, IN_PLACE_EC2_CALLS, SHELL_ACCESS_CALLS, STATUS_CHECK_METRICS } from './sources';

/** An EventBridge event as delivered to a target. */
export interface EventEnvelope {
  readonly id: string;
  readonly source: string;
  readonly 'detail-type': string;
  readonly account?: string;
  readonly region?: string;
  readonly time?: string;
  readonly resources?: string[];
  readonly detail: Record<string, unknown>;
}

/** Where an image publication came from. */
export type PublicationSource =
  | 'ami-state-change'
  | 'image-builder'
  | 'channel-parameter'
  | 'image-parameter'
  | 'ami-channel-tag'
  | 'publish-command';

/**
 * An image was published. What identifies it depends on the source: the AMI id, the Image Builder
 * image ARN (the AMI is found by the `Ec2ImageBuilderArn` tag Image Builder puts on it), or the SSM
 * parameter that names it (read later: the event does not carry the value). `channel` is known for
 * channel parameters, AMI tagging and commands that name one; otherwise it is the AMI's tag.
 */
export interface RolloutIntent {
  readonly kind: 'rollout';
  readonly source: PublicationSource;
  readonly eventId: string;
  readonly reason: string;
  readonly imageId?: string;
  readonly imageBuilderArn?: string;
  readonly parameterName?: string;
  readonly channel?: string;
}

export type ReplaceCause = 'health' | 'interruption' | 'retirement' | 'drift' | 'shell-access';

/** Instances to replace, and why. */
export interface ReplaceIntent {
  readonly kind: 'replace';
  readonly cause: ReplaceCause;
  readonly instanceIds: readonly string[];
  readonly eventId: string;
  readonly reason: string;
  /** When the event that asked for it happened (its `time`, when valid): where time to heal starts. */
  readonly detectedAt?: string;
}

export interface IgnoreIntent {
  readonly kind: 'ignore';
  readonly eventId: string;
  readonly reason: string;
}

/**
 * A termination lifecycle action of Phoenix's hook (`phoenix-drain`): flush the instance, then let
 * Auto Scaling go on (CompleteLifecycleAction with the token).
 */
export interface DrainIntent {
  readonly kind: 'drain';
  readonly instanceId: string;
  readonly groupName: string;
  readonly hookName: string;
  readonly token: string;
  readonly eventId: string;
  readonly reason: string;
}

export type Intent = RolloutIntent | ReplaceIntent | DrainIntent | IgnoreIntent;

/** What normalization needs to know of the deployment. */
export interface IntakeConfig {
  /** Alarms whose names start with one of these are health alarms, whatever their metric. */
  readonly healthAlarmPrefixes: readonly string[];
  /** IAM role names of Phoenix itself: their API calls are never drift. */
  readonly ownRoleNames: readonly string[];
}

export const DEFAULT_INTAKE_CONFIG: IntakeConfig = {
  healthAlarmPrefixes: ['phoenix-health-'],
  ownRoleNames: [],
};

// ---- ids -------------------------------------------------------------------------------------------

/** `i-` and 8 or 17 lowercase hex digits. */
const INSTANCE_ID = /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;

export function isInstanceId(value: unknown): value is string {
  return typeof value === 'string' && INSTANCE_ID.test(value);
}

/**
 * The instance id in a bare id or an EC2 instance ARN (any partition, a region or an availability
 * zone or nothing in the region field, with or without an account). Undefined for anything else.
 */
export function instanceIdOf(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (isInstanceId(text)) return text;
  const arn = /^arn:[a-z-]+:ec2:[a-z0-9-]*:\d*:instance\/(.+)$/.exec(text);
  return arn && isInstanceId(arn[1]) ? arn[1] : undefined;
}

/** The channel a parameter name designates, or undefined when it is not a channel parameter. */
export function channelOfParameter(name: string): string | undefined {
  if (!name.startsWith(CHANNEL_PARAMETER_PREFIX)) return undefined;
  const channel = name.slice(CHANNEL_PARAMETER_PREFIX.length);
  return NAME_PATTERN.test(channel) ? channel : undefined;
}

// ---- helpers ---------------------------------------------------------------------------------------

type Json = Record<string, unknown>;
const trimmed = (value: unknown): string | undefined =>
  typeof value === 'string' ? value.trim() : undefined;
const object = (value: unknown): Json | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const quote = (value: unknown) => JSON.stringify(value) ?? 'undefined';

/**
 * Parse an EventBridge envelope (hand-written: a schema library would cost the intake bundle more
 * than the rest of its parsing); a payload that is not one is a MalformedEventError naming every
 * missing or invalid field.
 */
export function parseEnvelope(event: unknown): EventEnvelope {
  const raw = object(event);
  if (raw === undefined)
    throw new MalformedEventError('not an EventBridge event: missing or invalid (the payload itself)');
  const bad: string[] = [];
  const text = (key: string, required: boolean) => {
    const value = raw[key];
    if (value === undefined && !required) return;
    if (typeof value !== 'string' || (required && value === '')) bad.push(key);
  };
  text('id', true);
  text('source', true);
  text('detail-type', true);
  for (const key of ['account', 'region', 'time']) text(key, false);
  const resources = raw['resources'];
  if (
    resources !== undefined &&
    !(Array.isArray(resources) && resources.every((r) => typeof r === 'string'))
  ) {
    bad.push('resources');
  }
  if (object(raw['detail']) === undefined) bad.push('detail');
  if (bad.length > 0)
    throw new MalformedEventError(`not an EventBridge event: missing or invalid ${bad.join(', ')}`);
  return raw as unknown as EventEnvelope;
}

type Normalizer = (event: EventEnvelope, config: IntakeConfig) => Intent;

const ignore = (event: EventEnvelope, reason: string): IgnoreIntent => ({
  kind: 'ignore',
  eventId: event.id,
  reason,
});

const rollout = (event: EventEnvelope, fields: Omit<RolloutIntent, 'kind' | 'eventId'>): RolloutIntent => ({
  kind: 'rollout',
  eventId: event.id,
  ...fields,
});

/** Replace the valid ids among `candidates`; ignore (naming the values) when none is valid. */
function replace(event: EventEnvelope, cause: ReplaceCause, candidates: unknown[], reason: string): Intent {
  const ids = [...new Set(candidates.map(instanceIdOf).filter((id): id is string => id !== undefined))];
  if (ids.length === 0) {
    return ignore(event, `${reason}, but names no valid instance id (got ${quote(candidates)})`);
  }
  return {
    kind: 'replace',
    cause,
    instanceIds: ids,
    eventId: event.id,
    reason,
    // A published sample may carry a placeholder time ("yyyy-mm-ddThh:mm:ssZ"): only a real one counts.
    ...(event.time !== undefined && Number.isFinite(Date.parse(event.time))
      ? { detectedAt: event.time }
      : {}),
  };
}

// ---- image publication -----------------------------------------------------------------------------

/** EC2 "EC2 AMI State Change": `detail.ImageId`, `detail.State`. */
const amiStateChange: Normalizer = (event) => {
  const state = trimmed(event.detail['State']);
  const imageId = trimmed(event.detail['ImageId']);
  if (state !== 'available') return ignore(event, `AMI state is ${quote(state)}, not "available"`);
  if (!isAmiId(imageId)) return ignore(event, `detail.ImageId ${quote(imageId)} is not a valid AMI id`);
  return rollout(event, { source: 'ami-state-change', imageId, reason: `AMI ${imageId} became available` });
};

const IMAGE_BUILDER_IMAGE_ARN = /^arn:[a-z-]+:imagebuilder:[a-z0-9-]+:\d{12}:image\/[^/]+\/[^/]+\/\d+$/;

/** "EC2 Image Builder Image State Change": `detail.state.status`, the image ARN in `resources`. */
const imageBuilderStateChange: Normalizer = (event) => {
  const status = trimmed(object(event.detail['state'])?.['status']);
  if (status !== 'AVAILABLE')
    return ignore(event, `Image Builder image status is ${quote(status)}, not "AVAILABLE"`);
  const arn = (event.resources ?? []).map((r) => r.trim()).find((r) => IMAGE_BUILDER_IMAGE_ARN.test(r));
  if (arn === undefined) {
    return ignore(event, `no Image Builder image ARN in resources (got ${quote(event.resources ?? [])})`);
  }
  return rollout(event, {
    source: 'image-builder',
    imageBuilderArn: arn,
    reason: `Image Builder image ${arn} is available`,
  });
};

/** SSM "Parameter Store Change": `detail.name`, `detail.operation`, `detail.dataType`; the value is read later. */
const parameterStoreChange: Normalizer = (event) => {
  const name = trimmed(event.detail['name']);
  const operation = trimmed(event.detail['operation']);
  const dataType = trimmed(event.detail['dataType']);
  if (name === undefined || name === '') return ignore(event, 'detail.name is missing');
  if (operation !== 'Create' && operation !== 'Update') {
    return ignore(event, `parameter operation ${quote(operation)} publishes no image`);
  }
  const channel = channelOfParameter(name);
  if (channel !== undefined) {
    return rollout(event, {
      source: 'channel-parameter',
      parameterName: name,
      channel,
      reason: `channel parameter ${name} was ${operation === 'Create' ? 'created' : 'updated'}`,
    });
  }
  if (dataType === 'aws:ec2:image') {
    return rollout(event, {
      source: 'image-parameter',
      parameterName: name,
      reason: `golden-AMI parameter ${name} was ${operation === 'Create' ? 'created' : 'updated'}; fleets tagged ${Tags.imageParameter}=${name} follow it`,
    });
  }
  return ignore(
    event,
    `parameter ${quote(name)} is neither a channel parameter (${CHANNEL_PARAMETER_PREFIX}<channel>) nor of data type aws:ec2:image`,
  );
};

/** The Phoenix `PublishImage` command: `{ imageId, channel? }`. A malformed command is an error. */
const publishImage: Normalizer = (event) => {
  const bad = ['imageId', 'channel'].filter((key) => {
    const value = event.detail[key];
    return key === 'imageId' ? typeof value !== 'string' : value !== undefined && typeof value !== 'string';
  });
  if (bad.length > 0) {
    throw new MalformedEventError(
      `PublishImage command ${event.id}: missing or invalid ${bad.map((k) => `detail.${k}`).join(', ')}`,
    );
  }
  const imageId = trimmed(event.detail['imageId'])!;
  const channel = trimmed(event.detail['channel']);
  if (channel !== undefined && !NAME_PATTERN.test(channel)) {
    throw new MalformedEventError(
      `PublishImage command ${event.id}: detail.channel ${quote(channel)} is not a valid channel name`,
    );
  }
  // An id that is not an AMI id still names the channel's fleets when a channel is given: the
  // rollout rejects it with a RolloutRejected outcome per fleet, so the operator hears back.
  if (!isAmiId(imageId) && channel === undefined) {
    throw new MalformedEventError(
      `PublishImage command ${event.id}: detail.imageId ${quote(imageId)} is not a valid AMI id`,
    );
  }
  return rollout(event, {
    source: 'publish-command',
    imageId,
    ...(channel !== undefined ? { channel } : {}),
    reason: `PublishImage command for ${imageId}${channel !== undefined ? ` into channel ${channel}` : ''}`,
  });
};

// ---- CloudTrail ------------------------------------------------------------------------------------

/** The role behind a CloudTrail call, if it was an assumed role. */
function callerRoleName(detail: Json): string | undefined {
  const identity = object(detail['userIdentity']);
  const issuer = object(object(identity?.['sessionContext'])?.['sessionIssuer']);
  const fromIssuer = trimmed(issuer?.['userName']);
  if (fromIssuer) return fromIssuer;
  const arn = trimmed(identity?.['arn']);
  return arn ? /:assumed-role\/([^/]+)\//.exec(arn)?.[1] : undefined;
}

/** A CloudTrail call Phoenix must not act on: failed, or made by Phoenix itself. Else undefined. */
function notActionable(detail: Json, config: IntakeConfig): string | undefined {
  const errorCode = trimmed(detail['errorCode']);
  if (errorCode) return `the call failed (${errorCode}): nothing changed`;
  const role = callerRoleName(detail);
  if (role !== undefined && config.ownRoleNames.includes(role))
    return `the call was made by Phoenix itself (role ${role})`;
  return undefined;
}

/** Every value under a key named like an instance id field, anywhere in the request. */
function instanceIdsInRequest(value: unknown, key = ''): unknown[] {
  if (Array.isArray(value)) return value.flatMap((v) => instanceIdsInRequest(v, key));
  const obj = object(value);
  if (obj) return Object.entries(obj).flatMap(([k, v]) => instanceIdsInRequest(v, k));
  return /^(instanceid|target)$/i.test(key) ? [value] : [];
}

const cloudTrailCall: Normalizer = (event, config) => {
  const name = trimmed(event.detail['eventName']) ?? '';
  const notFor = notActionable(event.detail, config);
  const request = event.detail['requestParameters'];
  if ((SHELL_ACCESS_CALLS as readonly string[]).includes(name)) {
    if (notFor) return ignore(event, `${name}: ${notFor}`);
    return replace(
      event,
      'shell-access',
      instanceIdsInRequest(request),
      `${name} opened a shell on the instance`,
    );
  }
  if ((IN_PLACE_EC2_CALLS as readonly string[]).includes(name)) {
    if (notFor) return ignore(event, `${name}: ${notFor}`);
    return replace(event, 'drift', instanceIdsInRequest(request), `${name} changed the instance in place`);
  }
  if (name === 'CreateTags') return createTags(event, config);
  return ignore(event, `CloudTrail call ${quote(name)} is not one Phoenix acts on`);
};

/** CreateTags that puts `phoenix:channel` on an AMI publishes that AMI into the channel. */
const createTags: Normalizer = (event, config) => {
  const request = object(event.detail['requestParameters']);
  const resources = list(object(request?.['resourcesSet'])?.['items'])
    .map((item) => trimmed(object(item)?.['resourceId']))
    .filter((id): id is string => id !== undefined);
  const channelTag = list(object(request?.['tagSet'])?.['items'])
    .map(object)
    .find((tag) => trimmed(tag?.['key']) === Tags.channel);
  if (channelTag === undefined) return ignore(event, `CreateTags does not set ${Tags.channel}`);
  const channel = trimmed(channelTag['value']);
  if (channel === undefined || !NAME_PATTERN.test(channel)) {
    return ignore(
      event,
      `CreateTags sets ${Tags.channel} to ${quote(channel)}, which is not a valid channel name`,
    );
  }
  const notFor = notActionable(event.detail, config);
  if (notFor) return ignore(event, `CreateTags: ${notFor}`);
  const images = resources.filter(isAmiId);
  if (images.length === 0) {
    return ignore(
      event,
      `CreateTags sets ${Tags.channel} on no valid AMI id (resources ${quote(resources)})`,
    );
  }
  // Several AMIs tagged at once: the newest is what the channel wants, and only the rollout knows
  // which that is; the first is published here, and each rollout rejects an image older than the
  // fleet's (events are unordered anyway).
  return rollout(event, {
    source: 'ami-channel-tag',
    imageId: images[0]!,
    channel,
    reason: `AMI ${images[0]} was tagged ${Tags.channel}=${channel}${images.length > 1 ? ` (with ${images.length - 1} more AMIs in the same call)` : ''}`,
  });
};

// ---- health and interruption -----------------------------------------------------------------------

/** "CloudWatch Alarm State Change": EC2 status checks of one instance, or designated health alarms. */
const alarmStateChange: Normalizer = (event, config) => {
  const alarmName = trimmed(event.detail['alarmName']) ?? '';
  const state = trimmed(object(event.detail['state'])?.['value']);
  if (state !== 'ALARM') return ignore(event, `alarm ${alarmName} went to ${quote(state)}, not ALARM`);
  const metrics = list(object(event.detail['configuration'])?.['metrics'])
    .map((m) => object(object(object(m)?.['metricStat'])?.['metric']))
    .filter((m): m is Json => m !== undefined);
  const instanceIds = metrics
    .map((m) => object(m['dimensions'])?.['InstanceId'])
    .filter((v) => v !== undefined);
  const designated = config.healthAlarmPrefixes.some(
    (prefix) => prefix !== '' && alarmName.startsWith(prefix),
  );
  if (designated) {
    return replace(event, 'health', instanceIds, `designated health alarm ${alarmName} is in ALARM`);
  }
  const statusCheck = metrics.find(
    (m) =>
      trimmed(m['namespace']) === 'AWS/EC2' &&
      (STATUS_CHECK_METRICS as readonly string[]).includes(trimmed(m['name']) ?? ''),
  );
  if (statusCheck) {
    return replace(
      event,
      'health',
      instanceIds,
      `status-check alarm ${alarmName} (${String(statusCheck['name'])}) is in ALARM`,
    );
  }
  const what =
    metrics.length > 0
      ? `on ${metrics.map((m) => String(m['name'])).join(', ')}`
      : 'with no metric (composite)';
  return ignore(
    event,
    `alarm ${alarmName} ${what} is not an EC2 status check nor a designated health alarm (prefix ${config.healthAlarmPrefixes.join(', ') || 'none'})`,
  );
};

/** "AWS Health Event" for EC2: retirement, scheduled maintenance, degraded hardware. */
const healthEvent: Normalizer = (event) => {
  const service = trimmed(event.detail['service']);
  const code = trimmed(event.detail['eventTypeCode']) ?? '';
  if (service !== 'EC2') return ignore(event, `AWS Health event for service ${quote(service)}, not EC2`);
  const cause = HEALTH_EVENT_CAUSES[code];
  if (cause === undefined)
    return ignore(event, `AWS Health event ${code} names no instance Phoenix should replace`);
  const entities = list(event.detail['affectedEntities']).map((e) => object(e)?.['entityValue']);
  return replace(event, cause, [...(event.resources ?? []), ...entities], `AWS Health ${code}`);
};

/** "EC2 Spot Instance Interruption Warning" and "EC2 Instance Rebalance Recommendation": `detail.instance-id`. */
const interruption: Normalizer = (event) =>
  replace(
    event,
    'interruption',
    [event.detail['instance-id'], ...(event.resources ?? [])],
    event['detail-type'],
  );

// ---- termination lifecycle hook → drain --------------------------------------------------------------

/**
 * Auto Scaling "EC2 Instance-terminate Lifecycle Action": `detail.LifecycleHookName`,
 * `detail.LifecycleActionToken`, `detail.AutoScalingGroupName`, `detail.EC2InstanceId`,
 * `detail.LifecycleTransition`. Only Phoenix's hook (`phoenix-drain`) is acted upon; an action of
 * that hook without a valid token, group or instance is malformed (to the dead-letter queue: Auto
 * Scaling continues when the heartbeat times out).
 */
const terminateLifecycleAction: Normalizer = (event) => {
  const d = event.detail;
  const hookName = trimmed(d['LifecycleHookName']);
  if (hookName !== DRAIN_HOOK_NAME) {
    return ignore(
      event,
      `lifecycle hook ${quote(d['LifecycleHookName'])} is not Phoenix's (${DRAIN_HOOK_NAME})`,
    );
  }
  const transition = trimmed(d['LifecycleTransition']);
  if (transition !== undefined && transition !== 'autoscaling:EC2_INSTANCE_TERMINATING') {
    return ignore(event, `lifecycle transition ${quote(transition)} is not a termination`);
  }
  const token = trimmed(d['LifecycleActionToken']);
  const groupName = trimmed(d['AutoScalingGroupName']);
  const instanceId = instanceIdOf(d['EC2InstanceId']);
  const bad = [
    ...(token === undefined || !/^[A-Za-z0-9-]{36}$/.test(token) ? ['detail.LifecycleActionToken'] : []),
    ...(groupName === undefined || groupName === '' || groupName.length > 255
      ? ['detail.AutoScalingGroupName']
      : []),
    ...(instanceId === undefined ? ['detail.EC2InstanceId'] : []),
  ];
  if (bad.length > 0 || token === undefined || groupName === undefined || instanceId === undefined) {
    throw new MalformedEventError(
      `termination lifecycle action of ${DRAIN_HOOK_NAME} with missing or invalid ${bad.join(', ')} (got ${quote({ token: d['LifecycleActionToken'], group: d['AutoScalingGroupName'], instance: d['EC2InstanceId'] })})`,
    );
  }
  return {
    kind: 'drain',
    instanceId,
    groupName,
    hookName,
    token,
    eventId: event.id,
    reason: `Auto Scaling is terminating ${instanceId} of ${groupName} (lifecycle hook ${DRAIN_HOOK_NAME})`,
  };
};

// ---- drift -----------------------------------------------------------------------------------------

/**
 * Config properties whose change is not drift: tags (Phoenix tags instances itself), the running
 * state and what a stop/start changes on its own. Compared case-insensitively, by prefix.
 */
const BENIGN_CONFIG_PROPERTIES = [
  'configuration.tags',
  'supplementaryconfiguration.tags',
  'tags',
  'configuration.state',
  'configuration.statetransitionreason',
  'configuration.statereason',
  'configuration.launchtime',
  'configuration.publicipaddress',
  'configuration.publicdnsname',
  'configuration.monitoring',
  'configuration.usageoperationupdatetime',
];

const configItemChange: Normalizer = (event) => {
  const messageType = trimmed(event.detail['messageType']);
  if (messageType === 'OversizedConfigurationItemChangeNotification') {
    const summary = object(event.detail['configurationItemSummary']);
    if (trimmed(summary?.['resourceType']) !== 'AWS::EC2::Instance') {
      return ignore(
        event,
        `oversized Config change of ${quote(summary?.['resourceType'])}, not an EC2 instance`,
      );
    }
    if (trimmed(summary?.['changeType']) !== 'UPDATE') {
      return ignore(
        event,
        `oversized Config change of type ${quote(summary?.['changeType'])}, not an in-place UPDATE`,
      );
    }
    return replace(
      event,
      'drift',
      [summary?.['resourceId']],
      'AWS Config recorded an in-place change of the instance (oversized: the change itself was not delivered, so it counts as drift)',
    );
  }
  const item = object(event.detail['configurationItem']);
  const diff = object(event.detail['configurationItemDiff']);
  if (trimmed(item?.['resourceType']) !== 'AWS::EC2::Instance') {
    return ignore(event, `Config change of ${quote(item?.['resourceType'])}, not an EC2 instance`);
  }
  const changeType = trimmed(diff?.['changeType']);
  if (changeType !== 'UPDATE') {
    return ignore(
      event,
      `Config change of type ${quote(changeType)} is a discovery or deletion, not an in-place change`,
    );
  }
  const changed = Object.keys(object(diff?.['changedProperties']) ?? {});
  const drifted = changed.filter(
    (key) => !BENIGN_CONFIG_PROPERTIES.some((prefix) => key.toLowerCase().startsWith(prefix)),
  );
  if (drifted.length === 0) {
    return ignore(
      event,
      `Config change touches only ${changed.length > 0 ? changed.join(', ') : 'nothing'}: not drift`,
    );
  }
  return replace(
    event,
    'drift',
    [item?.['resourceId']],
    `AWS Config recorded an in-place change of ${drifted.join(', ')}`,
  );
};

const complianceChange: Normalizer = (event) => {
  const resourceType = trimmed(event.detail['resourceType']);
  const result = trimmed(object(event.detail['newEvaluationResult'])?.['complianceType']);
  const rule = trimmed(event.detail['configRuleName']) ?? '?';
  if (resourceType !== 'AWS::EC2::Instance')
    return ignore(event, `Config compliance of ${quote(resourceType)}, not an EC2 instance`);
  if (result !== 'NON_COMPLIANT')
    return ignore(event, `Config rule ${rule} found the instance ${quote(result)}`);
  return replace(
    event,
    'drift',
    [event.detail['resourceId']],
    `Config rule ${rule} found the instance NON_COMPLIANT`,
  );
};

// ---- dispatch --------------------------------------------------------------------------------------

const CLOUDTRAIL = 'AWS API Call via CloudTrail';

const normalizers: Record<string, Normalizer> = {
  'aws.ec2|EC2 AMI State Change': amiStateChange,
  'aws.imagebuilder|EC2 Image Builder Image State Change': imageBuilderStateChange,
  'aws.ssm|Parameter Store Change': parameterStoreChange,
  [`${COMMAND_SOURCE}|${DetailTypes.PublishImage}`]: publishImage,
  'aws.cloudwatch|CloudWatch Alarm State Change': alarmStateChange,
  'aws.health|AWS Health Event': healthEvent,
  'aws.ec2|EC2 Spot Instance Interruption Warning': interruption,
  'aws.ec2|EC2 Instance Rebalance Recommendation': interruption,
  'aws.autoscaling|EC2 Instance-terminate Lifecycle Action': terminateLifecycleAction,
  'aws.config|Config Configuration Item Change': configItemChange,
  'aws.config|Config Rules Compliance Change': complianceChange,
  [`aws.ec2|${CLOUDTRAIL}`]: cloudTrailCall,
  [`aws.ssm|${CLOUDTRAIL}`]: cloudTrailCall,
  [`aws.ec2-instance-connect|${CLOUDTRAIL}`]: cloudTrailCall,
};

/** Sources Phoenix knows and deliberately leaves alone, with why. */
const KNOWN_IGNORED: Record<string, string> = {
  'aws.autoscaling': 'Auto Scaling reports its own lifecycle and refresh: the group handles these itself',
  'aws.ec2|EC2 Instance State-change Notification':
    'instance state changes are handled by the Auto Scaling group itself',
};

/** What an event means for Phoenix. Throws MalformedEventError for a payload that is not an event. */
export function normalizeEvent(raw: unknown, config: IntakeConfig = DEFAULT_INTAKE_CONFIG): Intent {
  const event = parseEnvelope(raw);
  // Some published samples carry stray whitespace in names ("SendSSHPublicKey ").
  const source = event.source.trim();
  const detailType = event['detail-type'].trim();
  if (source === 'aws.ec2' || source === 'aws.ssm' || source === 'aws.ec2-instance-connect') {
    event.detail['eventName'] = trimmed(event.detail['eventName']) ?? event.detail['eventName'];
  }
  const normalizer = normalizers[`${source}|${detailType}`];
  if (normalizer !== undefined) return normalizer(event, config);
  const known = KNOWN_IGNORED[`${source}|${detailType}`] ?? KNOWN_IGNORED[source];
  if (known !== undefined) return ignore(event, known);
  return ignore(event, `no intake for source ${quote(source)} and detail-type ${quote(detailType)}`);
}
