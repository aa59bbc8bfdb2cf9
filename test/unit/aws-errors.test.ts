/**
 * Error paths the emulator cannot produce (throttling, 5xx, rejected PutEvents entries), through
 * the real adapters with aws-sdk-client-mock in place of the service.
 */
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Env } from '../../lambdas/domain/contract';
import { ConfigurationError, TransientAwsError } from '../../lambdas/domain/errors';
import { isTransient, requireEnv } from '../../lambdas/aws/errors';
import { fleetsFollowing } from '../../lambdas/aws/fleets';
import { putOutcome } from '../../lambdas/aws/outcomes';

const autoScaling = mockClient(AutoScalingClient);
const eventBridge = mockClient(EventBridgeClient);

beforeAll(() => {
  process.env[Env.eventBusName] = 'phoenix';
});

afterEach(() => {
  autoScaling.reset();
  eventBridge.reset();
});

const sdkError = (name: string, status: number, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode: status }, ...extra });

describe('isTransient', () => {
  it('treats throttling, 5xx and network faults as transient', () => {
    expect(isTransient(sdkError('ThrottlingException', 400))).toBe(true);
    expect(isTransient(sdkError('Throttling', 400))).toBe(true);
    expect(isTransient(sdkError('RequestLimitExceeded', 503))).toBe(true);
    expect(isTransient(sdkError('InternalFailure', 500))).toBe(true);
    expect(isTransient(Object.assign(new Error('socket'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isTransient(sdkError('Whatever', 400, { $retryable: {} }))).toBe(true);
  });

  it('treats validation and not-found errors as terminal', () => {
    expect(isTransient(sdkError('ValidationError', 400))).toBe(false);
    expect(isTransient(sdkError('InvalidAMIID.NotFound', 400))).toBe(false);
    expect(isTransient('a string')).toBe(false);
  });
});

describe('adapters', () => {
  it('turn a throttled describe (after the SDK retries) into TransientAwsError, which the workflow retries', async () => {
    autoScaling.on(DescribeAutoScalingGroupsCommand).rejects(sdkError('Throttling', 400));
    const attempt = fleetsFollowing('web');
    await expect(attempt).rejects.toThrow(TransientAwsError);
    await expect(attempt).rejects.toThrow(/DescribeAutoScalingGroups: Throttling/);
  });

  it('pass terminal errors through unchanged', async () => {
    autoScaling.on(DescribeAutoScalingGroupsCommand).rejects(sdkError('ValidationError', 400));
    await expect(fleetsFollowing('web')).rejects.toMatchObject({ name: 'ValidationError' });
  });

  it('page through every group', async () => {
    const group = (name: string, fleet: string, channel?: string) => ({
      AutoScalingGroupName: name,
      Tags: [
        { Key: 'phoenix:fleet', Value: fleet },
        ...(channel ? [{ Key: 'phoenix:channel', Value: channel }] : []),
      ],
    });
    autoScaling
      .on(DescribeAutoScalingGroupsCommand)
      .resolvesOnce({ AutoScalingGroups: [group('a', 'web')] as never, NextToken: 't1' })
      .resolvesOnce({ AutoScalingGroups: [group('b', 'api'), group('c', 'canary', ' web ')] as never });
    const fleets = await fleetsFollowing('web');
    expect(fleets.map((f) => f.fleet)).toEqual(['canary', 'web']);
    expect(autoScaling.commandCalls(DescribeAutoScalingGroupsCommand)).toHaveLength(2);
    expect(autoScaling.commandCalls(DescribeAutoScalingGroupsCommand)[1]!.args[0].input.NextToken).toBe('t1');
  });

  it('treat a PutEvents entry EventBridge rejected as transient, naming its error', async () => {
    eventBridge.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }],
    });
    const detail = {
      fleet: 'web',
      channel: 'web',
      imageId: 'ami-0123456789abcdef0',
      execution: 'web-1',
      instancesReplaced: 0,
      alreadyOnImage: true,
    };
    await expect(putOutcome('RolloutSucceeded', detail)).rejects.toThrow(/InternalFailure try again/);
  });

  it('fail with a configuration error when the function is not wired', () => {
    delete process.env['PHOENIX_NOT_SET'];
    expect(() => requireEnv('PHOENIX_NOT_SET')).toThrow(ConfigurationError);
  });
});
