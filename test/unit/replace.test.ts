import { describe, expect, it } from 'vitest';
import { defaultBudget, disruptionBudget, replaceExecutionName } from '../../lambdas/domain/replace';

describe('disruptionBudget', () => {
  it('defaults to a tenth of the desired capacity, rounded down, at least one', () => {
    expect(defaultBudget(0)).toBe(1);
    expect(defaultBudget(9)).toBe(1);
    expect(defaultBudget(10)).toBe(1);
    expect(defaultBudget(25)).toBe(2);
    expect(defaultBudget(100)).toBe(10);
    expect(disruptionBudget(undefined, 30)).toEqual({ budget: 3 });
  });

  it('reads N instances', () => {
    expect(disruptionBudget('2', 4)).toEqual({ budget: 2 });
    expect(disruptionBudget(' 1 ', 100)).toEqual({ budget: 1 });
    // More than the fleet is allowed: it only means no waiting.
    expect(disruptionBudget('50', 4)).toEqual({ budget: 50 });
  });

  it('reads N% of the desired capacity, rounded down, at least one', () => {
    expect(disruptionBudget('50%', 4)).toEqual({ budget: 2 });
    expect(disruptionBudget('25%', 10)).toEqual({ budget: 2 });
    expect(disruptionBudget('10%', 5)).toEqual({ budget: 1 });
    expect(disruptionBudget('100%', 7)).toEqual({ budget: 7 });
    expect(disruptionBudget('1%', 0)).toEqual({ budget: 1 });
  });

  it.each(['0', '-1', '1.5', 'two', '', '0%', '101%', '50 %', '%', '1e3', '10%%'])(
    'falls back to the default on %j, saying what was wrong',
    (value) => {
      const result = disruptionBudget(value, 30);
      expect(result.budget).toBe(3);
      expect(result.invalid).toContain(JSON.stringify(value));
    },
  );
});

describe('replaceExecutionName', () => {
  it('is deterministic per fleet and instance, and only that', () => {
    expect(replaceExecutionName('web', 'i-0123456789abcdef0')).toBe('web--i-0123456789abcdef0');
    expect(replaceExecutionName('web', 'i-0123456789abcdef0')).toBe(
      replaceExecutionName('web', 'i-0123456789abcdef0'),
    );
    expect(replaceExecutionName('web', 'i-0123456789abcdef1')).not.toBe(
      replaceExecutionName('web', 'i-0123456789abcdef0'),
    );
  });

  it('fits what Step Functions accepts: 80 characters of [A-Za-z0-9_-]', () => {
    const name = replaceExecutionName(
      'a.very.long.fleet.name-with.dots.' + 'x'.repeat(40),
      'i-0123456789abcdef0',
    );
    expect(name).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
    expect(name.endsWith('--i-0123456789abcdef0')).toBe(true);
    expect(name.startsWith('a_very_long_fleet_name-with_dots_xxxxxx--')).toBe(true);
  });
});
