import { describe, expect, it } from 'vitest';
import { COMMAND_SOURCE } from '../../lambdas/domain/contract';
import { MalformedEventError } from '../../lambdas/domain/errors';
import { channelOfParameter, normalizeEvent } from '../../lambdas/domain/intake';
import { isAmiId } from '../../lambdas/domain/ids';
import { awsEvent, derive } from '../support/fixtures';

const AMI = 'ami-0abcdef1234567890';

describe('AMI State Change (published sample)', () => {
  const sample = awsEvent('aws.ec2', 'ami-state-change-available');

  it('ignores the published sample, whose ImageId is a placeholder, naming the value', () => {
    const intent = normalizeEvent(sample);
    expect(intent).toMatchObject({ kind: 'ignore', eventId: sample['id'] });
    expect(intent.kind === 'ignore' && intent.reason).toContain(
      '"ami-0123456789example" is not a valid AMI id',
    );
  });

  it('rolls out an available image once the id is real', () => {
    expect(normalizeEvent(derive(sample, { ImageId: AMI }))).toEqual({
      kind: 'rollout',
      source: 'ami-state-change',
      eventId: sample['id'],
      imageId: AMI,
    });
  });

  it('trims stray whitespace around the id', () => {
    const intent = normalizeEvent(derive(sample, { ImageId: ` ${AMI} ` }));
    expect(intent).toMatchObject({ kind: 'rollout', imageId: AMI });
  });

  it.each(['pending', 'failed', 'deregistered', 'disabled'])('ignores state %s', (state) => {
    const intent = normalizeEvent(derive(sample, { ImageId: AMI, State: state }));
    expect(intent.kind).toBe('ignore');
    expect(intent.kind === 'ignore' && intent.reason).toContain(`"${state}"`);
  });
});

describe('Parameter Store Change (published sample)', () => {
  const sample = awsEvent('aws.ssm', 'parameter-store-change-create');

  it('ignores the published sample: MyGoldenAMI is not a channel parameter', () => {
    const intent = normalizeEvent(sample);
    expect(intent.kind).toBe('ignore');
    expect(intent.kind === 'ignore' && intent.reason).toContain('"MyGoldenAMI" is not a channel parameter');
  });

  it.each(['Create', 'Update'])('rolls out the channel of /phoenix/channels/<channel> on %s', (operation) => {
    expect(normalizeEvent(derive(sample, { name: '/phoenix/channels/web', operation }))).toEqual({
      kind: 'rollout',
      source: 'channel-parameter',
      eventId: sample['id'],
      parameterName: '/phoenix/channels/web',
      channel: 'web',
    });
  });

  it('ignores a deleted channel parameter', () => {
    const intent = normalizeEvent(derive(sample, { name: '/phoenix/channels/web', operation: 'Delete' }));
    expect(intent.kind).toBe('ignore');
  });

  it('ignores a nested or invalid channel name', () => {
    expect(normalizeEvent(derive(sample, { name: '/phoenix/channels/a/b' })).kind).toBe('ignore');
    expect(normalizeEvent(derive(sample, { name: '/phoenix/channels/' })).kind).toBe('ignore');
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

  it('rolls out the named image into the named channel', () => {
    expect(normalizeEvent(command({ imageId: AMI, channel: 'web' }))).toMatchObject({
      kind: 'rollout',
      source: 'publish-command',
      imageId: AMI,
      channel: 'web',
    });
  });

  it('leaves the channel to the AMI tag when the command names none', () => {
    const intent = normalizeEvent(command({ imageId: AMI }));
    expect(intent).toMatchObject({ kind: 'rollout', imageId: AMI });
    expect(intent).not.toHaveProperty('channel');
  });

  it('rejects a command without imageId with a named error', () => {
    expect(() => normalizeEvent(command({ channel: 'web' }))).toThrow(MalformedEventError);
    expect(() => normalizeEvent(command({ channel: 'web' }))).toThrow(/detail\.imageId/);
  });

  it('rejects an invalid channel name, quoting it', () => {
    expect(() => normalizeEvent(command({ imageId: AMI, channel: 'no/slash' }))).toThrow(/"no\/slash"/);
  });

  it('rejects an invalid image id without a channel, quoting it', () => {
    expect(() => normalizeEvent(command({ imageId: 'ami-nothex' }))).toThrow(
      /"ami-nothex" is not a valid AMI id/,
    );
  });

  it('passes an invalid image id with a channel on, so each fleet reports RolloutRejected', () => {
    expect(normalizeEvent(command({ imageId: 'ami-nothex', channel: 'web' }))).toMatchObject({
      kind: 'rollout',
      imageId: 'ami-nothex',
    });
  });
});

describe('envelopes', () => {
  it('rejects a payload that is not an EventBridge event', () => {
    expect(() => normalizeEvent({ hello: 'world' })).toThrow(MalformedEventError);
    expect(() => normalizeEvent(null)).toThrow(MalformedEventError);
  });

  it('ignores sources it has no intake for, naming them', () => {
    const intent = normalizeEvent(awsEvent('aws.ec2', 'instance-state-change'));
    expect(intent.kind).toBe('ignore');
    expect(intent.kind === 'ignore' && intent.reason).toContain('EC2 Instance State-change Notification');
  });
});

describe('ids', () => {
  it('accepts 8 and 17 hex digit AMI ids only', () => {
    expect(isAmiId('ami-12345678')).toBe(true);
    expect(isAmiId(AMI)).toBe(true);
    expect(isAmiId('ami-0123456789example')).toBe(false);
    expect(isAmiId('ami-ABCDEF12')).toBe(false);
    expect(isAmiId(42)).toBe(false);
  });

  it('reads channels from parameter names', () => {
    expect(channelOfParameter('/phoenix/channels/web-1')).toBe('web-1');
    expect(channelOfParameter('/other/web')).toBeUndefined();
  });
});
