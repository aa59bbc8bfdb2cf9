import { describe, expect, it } from 'vitest';
import {
  GREEN_GROUP_NAME_PATTERN,
  launchTemplateViolation,
  matchesIamPattern,
} from '../../lambdas/domain/adoption';
import { greenGroupName } from '../../lambdas/domain/blue-green';

describe('adoption contract', () => {
  it('accepts a launch template tagged phoenix:fleet (any value)', () => {
    expect(launchTemplateViolation({ id: 'lt-1', tags: { 'phoenix:fleet': 'web' } }, 'web')).toBeUndefined();
    expect(launchTemplateViolation({ id: 'lt-1', tags: { 'phoenix:fleet': '' } }, 'web')).toBeUndefined();
  });

  it('rejects a launch template without phoenix:fleet, naming the template, the fleet and the tag', () => {
    const reason = launchTemplateViolation({ id: 'lt-0abc', name: 'web-lt', tags: { Name: 'web' } }, 'web');
    expect(reason).toContain('lt-0abc (web-lt)');
    expect(reason).toContain('fleet web');
    expect(reason).toContain('phoenix:fleet');
  });

  it('names every generated green group by GREEN_GROUP_NAME_PATTERN (the IAM resource of green groups)', () => {
    for (const [fleet, execution] of [
      ['web', 'exec-1'],
      ['a', 'x'],
      ['x'.repeat(63), 'y'.repeat(80)],
    ] as const) {
      expect(matchesIamPattern(GREEN_GROUP_NAME_PATTERN, greenGroupName(fleet, execution))).toBe(true);
    }
    expect(matchesIamPattern(GREEN_GROUP_NAME_PATTERN, 'web-asg')).toBe(false);
    expect(matchesIamPattern(GREEN_GROUP_NAME_PATTERN, 'phoenix-web')).toBe(false);
  });
});
