import { describe, expect, it } from 'vitest';
import {
  greenGroupName,
  greenTags,
  identityTags,
  initialGreenCapacity,
  isIdentityTag,
} from '../../lambdas/domain/blue-green';

const blueTags = [
  { key: 'phoenix:fleet', value: 'web', propagateAtLaunch: true },
  { key: 'phoenix:channel', value: 'stable', propagateAtLaunch: false },
  { key: 'phoenix:strategy', value: 'blue-green', propagateAtLaunch: false },
  { key: 'team', value: 'payments', propagateAtLaunch: true },
  { key: 'aws:cloudformation:stack-name', value: 'web', propagateAtLaunch: true },
  { key: 'Name', value: 'web', propagateAtLaunch: true },
];

describe('blue-green, pure decisions', () => {
  it('names green deterministically from fleet and execution', () => {
    expect(greenGroupName('web', 'exec-1')).toBe(greenGroupName('web', 'exec-1'));
    expect(greenGroupName('web', 'exec-1')).not.toBe(greenGroupName('web', 'exec-2'));
    expect(greenGroupName('web', 'exec-1')).toMatch(/^phoenix-web-[0-9a-f]{12}$/);
    expect(greenGroupName('x'.repeat(63), 'e').length).toBeLessThanOrEqual(255);
  });

  it("green's tags: blue's without the identity and aws:*, with the transition tags", () => {
    expect(greenTags(blueTags, 'web', 'exec-1')).toEqual([
      { key: 'team', value: 'payments', propagateAtLaunch: true },
      { key: 'Name', value: 'web', propagateAtLaunch: true },
      { key: 'phoenix:green-of', value: 'web', propagateAtLaunch: false },
      { key: 'phoenix:rollout', value: 'exec-1', propagateAtLaunch: false },
    ]);
  });

  it('the identity: every phoenix:* tag but the transition tags', () => {
    expect(identityTags(blueTags).map((t) => t.key)).toEqual([
      'phoenix:fleet',
      'phoenix:channel',
      'phoenix:strategy',
    ]);
    for (const key of ['phoenix:green-of', 'phoenix:blue-of', 'phoenix:rollout', 'team'])
      expect(isIdentityTag(key)).toBe(false);
  });

  it('a canary green starts at one instance', () => {
    expect(initialGreenCapacity(6, true)).toBe(1);
    expect(initialGreenCapacity(6, false)).toBe(6);
    expect(initialGreenCapacity(0, true)).toBe(0);
  });
});
