/**
 * Normalization of every source, from real published samples (test/fixtures/events, sources in
 * SOURCES.md there) and variants derived from them in code.
 */
import { describe, expect, it } from 'vitest';
import { COMMAND_SOURCE } from '../../lambdas/domain/contract';
import { MalformedEventError } from '../../lambdas/domain/errors';
import { isAmiId } from '../../lambdas/domain/ids';
import {
  channelOfParameter,
  DEFAULT_INTAKE_CONFIG,
  instanceIdOf,
  type Intent,
  normalizeEvent,
} from '../../lambdas/domain/intake';
import { awsEvent, derive } from '../support/fixtures';

const AMI = 'ami-0abcdef1234567890';
const I1 = 'i-0abcdef1234567890';

const reasonOf = (intent: Intent) => intent.reason;

describe('AMI State Change', () => {
  const sample = awsEvent('aws.ec2', 'ami-state-change-available');

  it('ignores the published sample, whose ImageId is a placeholder, naming the value', () => {
    const intent = normalizeEvent(sample);
    expect(intent).toMatchObject({ kind: 'ignore', eventId: sample['id'] });
    expect(reasonOf(intent)).toContain('"ami-0123456789example" is not a valid AMI id');
  });

  it('rolls out an available image once the id is real, trimming stray whitespace', () => {
    expect(normalizeEvent(derive(sample, { ImageId: ` ${AMI} ` }))).toMatchObject({
      kind: 'rollout',
      source: 'ami-state-change',
      eventId: sample['id'],
      imageId: AMI,
    });
  });

  it.each(['pending', 'failed', 'deregistered', 'disabled'])('ignores state %s', (state) => {
    const intent = normalizeEvent(derive(sample, { ImageId: AMI, State: state }));
    expect(intent.kind).toBe('ignore');
    expect(reasonOf(intent)).toContain(`"${state}"`);
  });
});

describe('EC2 Image Builder Image State Change', () => {
  const sample = awsEvent('aws.imagebuilder', 'image-state-change-available');

  it('rolls out the image the published sample names by its Image Builder ARN', () => {
    expect(normalizeEvent(sample)).toMatchObject({
      kind: 'rollout',
      source: 'image-builder',
      imageBuilderArn: sample['resources'][0],
    });
  });

  it('ignores other statuses', () => {
    const intent = normalizeEvent(derive(sample, { state: { status: 'BUILDING' } }));
    expect(reasonOf(intent)).toContain('"BUILDING"');
  });

  it('ignores an event without an image ARN', () => {
    expect(
      normalizeEvent({
        ...sample,
        resources: ['arn:aws:imagebuilder:us-west-2:111122223333:image-pipeline/x'],
      }).kind,
    ).toBe('ignore');
  });
});

describe('Parameter Store Change', () => {
  const sample = awsEvent('aws.ssm', 'parameter-store-change-create');

  it('rolls out the published golden-AMI parameter (data type aws:ec2:image) for the fleets that follow it', () => {
    expect(normalizeEvent(sample)).toMatchObject({
      kind: 'rollout',
      source: 'image-parameter',
      parameterName: 'MyGoldenAMI',
    });
  });

  it.each(['Create', 'Update'])('rolls out the channel of /phoenix/channels/<channel> on %s', (operation) => {
    expect(normalizeEvent(derive(sample, { name: '/phoenix/channels/web', operation }))).toMatchObject({
      kind: 'rollout',
      source: 'channel-parameter',
      parameterName: '/phoenix/channels/web',
      channel: 'web',
    });
  });

  it('ignores a deleted parameter and one of another data type', () => {
    expect(normalizeEvent(derive(sample, { name: '/phoenix/channels/web', operation: 'Delete' })).kind).toBe(
      'ignore',
    );
    expect(normalizeEvent(derive(sample, { name: '/app/setting', dataType: 'text' })).kind).toBe('ignore');
  });

  it('does not take an invalid channel name for a channel', () => {
    const intent = normalizeEvent(derive(sample, { name: '/phoenix/channels/a/b', dataType: 'text' }));
    expect(intent.kind).toBe('ignore');
  });
});

describe('CloudTrail CreateTags', () => {
  const onAmi = awsEvent('aws.ec2', 'cloudtrail-createtags-ami');
  const withChannel = (resourceId: string, value = 'web') =>
    derive(onAmi, {
      requestParameters: {
        resourcesSet: { items: [{ resourceId }] },
        tagSet: { items: [{ key: 'phoenix:channel', value }] },
      },
    });

  it('ignores the derived sample: its tag is not phoenix:channel', () => {
    expect(reasonOf(normalizeEvent(onAmi))).toContain('does not set phoenix:channel');
  });

  it('ignores the published security-group sample', () => {
    expect(normalizeEvent(awsEvent('aws.ec2', 'cloudtrail-createtags-security-group')).kind).toBe('ignore');
  });

  it('publishes an AMI tagged into a channel', () => {
    expect(normalizeEvent(withChannel(AMI))).toMatchObject({
      kind: 'rollout',
      source: 'ami-channel-tag',
      imageId: AMI,
      channel: 'web',
    });
  });

  it('does not act on a placeholder id or an invalid channel', () => {
    expect(reasonOf(normalizeEvent(withChannel('ami-0123456789example')))).toContain('no valid AMI id');
    expect(normalizeEvent(withChannel(AMI, 'no/slash')).kind).toBe('ignore');
  });

  it('does not act on a failed call', () => {
    const failed = derive(withChannel(AMI), { errorCode: 'Client.UnauthorizedOperation' });
    expect(reasonOf(normalizeEvent(failed))).toContain('the call failed (Client.UnauthorizedOperation)');
  });
});

describe('PublishImage command', () => {
  const command = (detail: unknown) => ({
    version: '0',
    id: 'c0ffee00-0000-4000-8000-000000000001',
    'detail-type': 'PublishImage',
    source: COMMAND_SOURCE,
    account: '123456789012',
    time: '2026-11-27T00:00:00Z',
    region: 'us-east-1',
    resources: [],
    detail,
  });

  it('rolls out the named image into the named channel, or the AMI tag channel', () => {
    expect(normalizeEvent(command({ imageId: AMI, channel: 'web' }))).toMatchObject({
      kind: 'rollout',
      imageId: AMI,
      channel: 'web',
    });
    expect(normalizeEvent(command({ imageId: AMI }))).not.toHaveProperty('channel');
  });

  it('rejects malformed commands with a named error that quotes the value', () => {
    expect(() => normalizeEvent(command({ channel: 'web' }))).toThrow(MalformedEventError);
    expect(() => normalizeEvent(command({ imageId: AMI, channel: 'no/slash' }))).toThrow(/"no\/slash"/);
    expect(() => normalizeEvent(command({ imageId: 'ami-nothex' }))).toThrow(
      /"ami-nothex" is not a valid AMI id/,
    );
  });

  it('passes an invalid image id with a channel on, so each fleet reports RolloutRejected', () => {
    expect(normalizeEvent(command({ imageId: 'ami-nothex', channel: 'web' }))).toMatchObject({
      kind: 'rollout',
    });
  });
});

describe('CloudWatch Alarm State Change', () => {
  it('replaces the instance of a status-check alarm in ALARM (derived sample)', () => {
    expect(
      normalizeEvent(awsEvent('aws.cloudwatch', 'alarm-state-change-status-check-failed')),
    ).toMatchObject({
      kind: 'replace',
      cause: 'health',
      instanceIds: ['i-12345678901234567'],
    });
  });

  it('ignores a CPU alarm (published sample), naming the metric', () => {
    const intent = normalizeEvent(awsEvent('aws.cloudwatch', 'alarm-state-change-cpu-utilization'));
    expect(intent.kind).toBe('ignore');
    expect(reasonOf(intent)).toContain('CPUUtilization');
  });

  it('ignores metric-math, anomaly-detection and composite alarms (published samples)', () => {
    for (const variant of [
      'alarm-state-change-metric-math',
      'alarm-state-change-anomaly-detection',
      'alarm-state-change-composite-suppressor',
    ]) {
      expect(normalizeEvent(awsEvent('aws.cloudwatch', variant)).kind, variant).toBe('ignore');
    }
  });

  it('replaces the instance of a designated health alarm, whatever its metric', () => {
    const sample = awsEvent('aws.cloudwatch', 'alarm-state-change-cpu-utilization');
    const designated = derive(sample, { alarmName: 'phoenix-health-web-latency' });
    expect(normalizeEvent(designated)).toMatchObject({
      kind: 'replace',
      cause: 'health',
      instanceIds: ['i-12345678901234567'],
    });
    const custom = { ...DEFAULT_INTAKE_CONFIG, healthAlarmPrefixes: ['ops-'] };
    expect(normalizeEvent(derive(sample, { alarmName: 'ops-cpu' }), custom).kind).toBe('replace');
    expect(normalizeEvent(designated, custom).kind).toBe('ignore');
  });

  it('ignores an alarm going back to OK', () => {
    const sample = awsEvent('aws.cloudwatch', 'alarm-state-change-status-check-failed');
    expect(normalizeEvent(derive(sample, { state: { value: 'OK' } })).kind).toBe('ignore');
  });
});

describe('AWS Health Event', () => {
  it('replaces instances scheduled for retirement, from ARNs in affectedEntities', () => {
    expect(normalizeEvent(awsEvent('aws.health', 'ec2-instance-retirement-scheduled'))).toMatchObject({
      kind: 'replace',
      cause: 'retirement',
      instanceIds: ['i-1234567890abcdef0'],
    });
  });

  it('replaces instances of a persistent-instance retirement', () => {
    expect(normalizeEvent(awsEvent('aws.health', 'ec2-persistent-instance-retirement-scheduled')).kind).toBe(
      'replace',
    );
  });

  it('treats degraded instance-store drives as a health failure (bare ids in resources)', () => {
    expect(
      normalizeEvent(awsEvent('aws.health', 'ec2-instance-store-drive-performance-degraded')),
    ).toMatchObject({
      kind: 'replace',
      cause: 'health',
      instanceIds: ['i-abcd1111'],
    });
  });

  it('ignores operational issues and capacity-reservation notices, which name no instance to replace', () => {
    for (const variant of [
      'ec2-operational-issue-public',
      'ec2-odcr-underutilization-notification',
      'ec2-odcr-underutilization-notification-summary',
    ]) {
      expect(normalizeEvent(awsEvent('aws.health', variant)).kind, variant).toBe('ignore');
    }
  });
});

describe('Spot interruption and rebalance', () => {
  it('replaces the interrupted instance (kebab-case instance-id)', () => {
    expect(normalizeEvent(awsEvent('aws.ec2', 'spot-interruption-warning'))).toMatchObject({
      kind: 'replace',
      cause: 'interruption',
      instanceIds: ['i-1234567890abcdef0'],
    });
    expect(normalizeEvent(awsEvent('aws.ec2', 'rebalance-recommendation'))).toMatchObject({
      kind: 'replace',
      cause: 'interruption',
    });
  });
});

describe('AWS Config', () => {
  it('replaces an instance changed in place (derived UPDATE), naming the property', () => {
    const intent = normalizeEvent(awsEvent('aws.config', 'configuration-item-change-ec2-instance-update'));
    expect(intent).toMatchObject({ kind: 'replace', cause: 'drift', instanceIds: ['i-12345678901234567'] });
    expect(reasonOf(intent)).toContain('Configuration.InstanceType');
  });

  it('ignores the discovery of a new instance (published CREATE)', () => {
    expect(
      reasonOf(normalizeEvent(awsEvent('aws.config', 'configuration-item-change-ec2-instance-create'))),
    ).toContain('"CREATE"');
  });

  it('ignores changes of tags and state only (Phoenix tags instances itself)', () => {
    const update = awsEvent('aws.config', 'configuration-item-change-ec2-instance-update');
    const tagsOnly = derive(update, {
      configurationItemDiff: {
        changeType: 'UPDATE',
        changedProperties: {
          'Configuration.Tags.0': {},
          'SupplementaryConfiguration.Tags': {},
          'Configuration.State.Name': {},
        },
      },
    });
    expect(normalizeEvent(tagsOnly).kind).toBe('ignore');
  });

  it('ignores oversized changes of other resource types (published sample)', () => {
    expect(
      normalizeEvent(awsEvent('aws.config', 'oversized-configuration-item-change-ssm-inventory')).kind,
    ).toBe('ignore');
  });

  it('counts an oversized UPDATE of an instance as drift', () => {
    const sample = awsEvent('aws.config', 'oversized-configuration-item-change-ssm-inventory');
    const summary = {
      ...sample['detail'].configurationItemSummary,
      resourceType: 'AWS::EC2::Instance',
      resourceId: I1,
    };
    expect(normalizeEvent(derive(sample, { configurationItemSummary: summary }))).toMatchObject({
      kind: 'replace',
      instanceIds: [I1],
    });
  });

  it('replaces a NON_COMPLIANT instance (derived) and ignores other resources (published)', () => {
    expect(
      normalizeEvent(awsEvent('aws.config', 'rules-compliance-change-ec2-instance-noncompliant')),
    ).toMatchObject({
      kind: 'replace',
      cause: 'drift',
      instanceIds: [I1],
    });
    expect(normalizeEvent(awsEvent('aws.config', 'rules-compliance-change-lambda')).kind).toBe('ignore');
  });
});

describe('shell access and in-place changes (CloudTrail)', () => {
  it('replaces the target of an SSM session', () => {
    expect(normalizeEvent(awsEvent('aws.ssm', 'cloudtrail-start-session'))).toMatchObject({
      kind: 'replace',
      cause: 'shell-access',
      instanceIds: ['i-023ad911b5d49dece'],
    });
  });

  it('reads EC2 Instance Connect with its published trailing space, and never acts on its placeholder id', () => {
    const sample = awsEvent('aws.ec2-instance-connect', 'cloudtrail-send-ssh-public-key');
    const intent = normalizeEvent(sample);
    expect(intent.kind).toBe('ignore');
    expect(reasonOf(intent)).toContain('i-0123456789EXAMPLE');
    const real = derive(sample, {
      requestParameters: { ...sample['detail'].requestParameters, instanceId: I1 },
    });
    expect(normalizeEvent(real)).toMatchObject({ kind: 'replace', cause: 'shell-access', instanceIds: [I1] });
  });

  it('replaces an instance modified in place (derived ModifyInstanceAttribute)', () => {
    expect(normalizeEvent(awsEvent('aws.ec2', 'cloudtrail-modify-instance-attribute'))).toMatchObject({
      kind: 'replace',
      cause: 'drift',
      instanceIds: [I1],
    });
  });

  it("never counts Phoenix's own calls as drift", () => {
    const sample = awsEvent('aws.ec2', 'cloudtrail-modify-instance-attribute');
    const byPhoenix = derive(sample, {
      userIdentity: {
        type: 'AssumedRole',
        arn: 'arn:aws:sts::123456789012:assumed-role/Phoenix-RolloutFleetRole/session',
        sessionContext: { sessionIssuer: { type: 'Role', userName: 'Phoenix-RolloutFleetRole' } },
      },
    });
    const config = { ...DEFAULT_INTAKE_CONFIG, ownRoleNames: ['Phoenix-RolloutFleetRole'] };
    expect(reasonOf(normalizeEvent(byPhoenix, config))).toContain('made by Phoenix itself');
    expect(normalizeEvent(byPhoenix).kind).toBe('replace');
  });
});

describe('what Phoenix leaves alone', () => {
  it.each([
    ['aws.autoscaling', 'instance-refresh-succeeded'],
    ['aws.autoscaling', 'launch-lifecycle-action'],
    ['aws.autoscaling', 'launch-successful'],
    ['aws.autoscaling', 'launch-unsuccessful'],
    ['aws.autoscaling', 'terminate-lifecycle-action'],
    ['aws.autoscaling', 'terminate-successful'],
    ['aws.ec2', 'instance-state-change'],
    ['aws.ec2', 'instance-state-change-pending-no-version'],
  ])('ignores %s %s with a reason', (source, variant) => {
    const intent = normalizeEvent(awsEvent(source, variant));
    expect(intent.kind).toBe('ignore');
    expect(reasonOf(intent).length).toBeGreaterThan(20);
  });

  it('rejects a payload that is not an EventBridge event, naming every bad field', () => {
    expect(() => normalizeEvent({ hello: 'world' })).toThrow(MalformedEventError);
    expect(() => normalizeEvent({ hello: 'world' })).toThrow(
      /missing or invalid id, source, detail-type, detail$/,
    );
    expect(() => normalizeEvent(null)).toThrow(MalformedEventError);
    const sample = awsEvent('aws.ec2', 'spot-interruption-warning');
    expect(() => normalizeEvent({ ...sample, resources: [42] })).toThrow(/missing or invalid resources$/);
    expect(() => normalizeEvent({ ...sample, detail: [] })).toThrow(/missing or invalid detail$/);
    expect(() => normalizeEvent({ ...sample, id: '' })).toThrow(/missing or invalid id$/);
  });
});

describe('ids', () => {
  it('accepts 8 and 17 hex digit AMI ids only', () => {
    expect(isAmiId('ami-12345678')).toBe(true);
    expect(isAmiId(AMI)).toBe(true);
    expect(isAmiId('ami-0123456789example')).toBe(false);
    expect(isAmiId('ami-ABCDEF12')).toBe(false);
  });

  it('reads instance ids bare or from ARNs with a zone, a region or no account', () => {
    expect(instanceIdOf(` ${I1} `)).toBe(I1);
    expect(instanceIdOf(`arn:aws:ec2:us-east-1:123456789012:instance/${I1}`)).toBe(I1);
    expect(instanceIdOf(`arn:aws:ec2:us-east-1a:123456789012:instance/${I1}`)).toBe(I1);
    expect(instanceIdOf(`arn:aws:ec2:us-east-1::instance/${I1}`)).toBe(I1);
    expect(instanceIdOf(`arn:aws-cn:ec2:cn-north-1:123456789012:instance/${I1}`)).toBe(I1);
    expect(instanceIdOf('i-0123456789EXAMPLE')).toBeUndefined();
    expect(instanceIdOf(`arn:aws:ec2:us-east-1:123456789012:volume/vol-0123456789abcdef0`)).toBeUndefined();
  });

  it('reads channels from parameter names', () => {
    expect(channelOfParameter('/phoenix/channels/web-1')).toBe('web-1');
    expect(channelOfParameter('/other/web')).toBeUndefined();
  });
});
