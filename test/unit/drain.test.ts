/**
 * Drain, pure: flush settings from the group's tags, the hook's heartbeat and when the sweep
 * installs or removes it, SSM statuses, deregistration delays; and the intake of the real
 * published `EC2 Instance-terminate Lifecycle Action` sample.
 */
import { describe, expect, it } from 'vitest';
import { DRAIN_HOOK_NAME } from '../../lambdas/domain/contract';
import {
  DEFAULT_FLUSH_TIMEOUT_SECONDS,
  drainExecutionName,
  drainHookAction,
  flushSettings,
  flushStatusOf,
  flushTimedOut,
  flushTimeoutFor,
  hookHeartbeatSeconds,
  longestDelay,
} from '../../lambdas/domain/drain';
import { MalformedEventError } from '../../lambdas/domain/errors';
import { normalizeEvent } from '../../lambdas/domain/intake';
import { classification } from '../../local/classify';
import { awsEvent, derive } from '../support/fixtures';

describe('flush settings', () => {
  it('no document: no flush; a document: the default timeout of 120 s', () => {
    expect(flushSettings(undefined, undefined)).toEqual({ timeoutSeconds: 120 });
    expect(flushSettings(' flush-logs ', undefined)).toEqual({ document: 'flush-logs', timeoutSeconds: 120 });
    expect(flushSettings('flush-logs', '600')).toEqual({ document: 'flush-logs', timeoutSeconds: 600 });
    expect(flushSettings('arn:aws:ssm:us-east-1:123456789012:document/flush-logs', '30').document).toBe(
      'arn:aws:ssm:us-east-1:123456789012:document/flush-logs',
    );
  });

  it.each(['forever', '-5', '29', '3601', '1.5', ''])(
    'an invalid timeout %j: the default, and why (naming the tag and the value)',
    (value) => {
      const s = flushSettings('flush-logs', value);
      expect(s.timeoutSeconds).toBe(DEFAULT_FLUSH_TIMEOUT_SECONDS);
      expect(s.document).toBe('flush-logs');
      expect(s.invalid).toContain('phoenix:flush-timeout-seconds');
      expect(s.invalid).toContain(JSON.stringify(value));
    },
  );

  it('a document tag that is no document name: no flush, and why', () => {
    const s = flushSettings('rm -rf /', undefined);
    expect(s.document).toBeUndefined();
    expect(s.invalid).toContain('phoenix:flush-document');
  });

  it('a Spot interruption caps the flush at 60 s', () => {
    expect(flushTimeoutFor({ timeoutSeconds: 300 }, true)).toBe(60);
    expect(flushTimeoutFor({ timeoutSeconds: 45 }, true)).toBe(45);
    expect(flushTimeoutFor({ timeoutSeconds: 300 }, false)).toBe(300);
  });

  it('times out by polls × poll interval', () => {
    expect(flushTimedOut(23, 120, 5)).toBe(false);
    expect(flushTimedOut(24, 120, 5)).toBe(true);
  });

  it('maps SSM invocation statuses: final ones to how the flush ended, the others to Running', () => {
    expect(flushStatusOf('Success')).toBe('Success');
    expect(flushStatusOf('Failed')).toBe('Failed');
    expect(flushStatusOf('DeliveryTimedOut')).toBe('TimedOut');
    expect(flushStatusOf('Undeliverable')).toBe('Failed');
    expect(flushStatusOf('Pending')).toBe('Running');
    expect(flushStatusOf('InProgress')).toBe('Running');
    expect(flushStatusOf(undefined)).toBe('Running');
  });
});

describe('deregistration delay', () => {
  it('is the longest of the target groups (AWS default 300 when one does not say), 0 without any', () => {
    expect(longestDelay([])).toBe(0);
    expect(longestDelay(['45', '20'])).toBe(45);
    expect(longestDelay(['0', undefined])).toBe(300);
    expect(longestDelay(['junk', '10'])).toBe(10);
  });
});

describe('the termination hook', () => {
  it('heartbeat = flush timeout + 120 s', () => {
    expect(hookHeartbeatSeconds(120)).toBe(240);
  });

  it('ensured (with its heartbeat) where a document is named, removed where only the record is left', () => {
    expect(drainHookAction('flush-logs', undefined, undefined)).toEqual({ ensure: 240, recorded: false });
    expect(drainHookAction('flush-logs', undefined, '240')).toEqual({ ensure: 240, recorded: true });
    expect(drainHookAction('flush-logs', '600', '240')).toEqual({ ensure: 720, recorded: false });
    expect(drainHookAction(undefined, undefined, '240')).toEqual({ remove: true });
    expect(drainHookAction(undefined, '600', undefined)).toBeUndefined();
  });

  it('names one execution per instance and lifecycle action, within what Step Functions accepts', () => {
    const name = drainExecutionName('i-1234567890abcdef0', '87654321-4321-4321-4321-210987654321');
    expect(name).toBe('i-1234567890abcdef0--87654321-4321-4321-4321-210987654321');
    expect(name.length).toBeLessThanOrEqual(80);
    expect(name).toMatch(/^[A-Za-z0-9_-]+$/);
  });
});

describe('intake of the termination lifecycle action (real published sample)', () => {
  const sample = awsEvent('aws.autoscaling', 'terminate-lifecycle-action');

  it("ignores another hook's action (the sample's own my-lifecycle-hook)", () => {
    const intent = normalizeEvent(sample);
    expect(intent.kind).toBe('ignore');
    expect(intent.reason).toContain('"my-lifecycle-hook"');
  });

  it("turns an action of Phoenix's hook into a drain intent with the sample's token, group and instance", () => {
    const intent = normalizeEvent(derive(sample, { LifecycleHookName: DRAIN_HOOK_NAME }));
    expect(intent).toEqual({
      kind: 'drain',
      instanceId: 'i-1234567890abcdef0',
      groupName: 'my-asg',
      hookName: DRAIN_HOOK_NAME,
      token: '87654321-4321-4321-4321-210987654321',
      eventId: '12345678-1234-1234-1234-123456789012',
      reason: expect.stringContaining('i-1234567890abcdef0'),
    });
    expect(classification(intent)).toEqual({
      intent: 'drain',
      instanceId: 'i-1234567890abcdef0',
      groupName: 'my-asg',
      hookName: DRAIN_HOOK_NAME,
      reason: intent.reason,
    });
  });

  it('an action of the hook without a valid token or instance is malformed, naming the fields', () => {
    const bad = derive(sample, {
      LifecycleHookName: DRAIN_HOOK_NAME,
      LifecycleActionToken: 'x',
      EC2InstanceId: 'i-nope',
    });
    expect(() => normalizeEvent(bad)).toThrow(MalformedEventError);
    expect(() => normalizeEvent(bad)).toThrow(/detail\.LifecycleActionToken, detail\.EC2InstanceId/);
  });
});
