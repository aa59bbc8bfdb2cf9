/** Chaos mode's pure decision: tags, hours, probability, seeded determinism, every never-kill reason. */
import { describe, expect, it } from 'vitest';
import {
  type ChaosGroup,
  type ChaosInput,
  chaosDecision,
  inChaosHours,
  killProbability,
  parseChaosHours,
  parseChaosMean,
  periodStart,
  prng,
  ratePeriodSeconds,
  seedOf,
} from '../../lambdas/domain/chaos';
import { Tags } from '../../lambdas/domain/contract';
import type { FleetRecord } from '../../lambdas/domain/fleet-record';

const HOUR = 3600;
const at = (iso: string) => new Date(iso);

function group(name: string, size: number, overrides: Partial<ChaosGroup> = {}): ChaosGroup {
  return {
    groupName: name,
    desiredCapacity: size,
    instances: Array.from({ length: size }, (_, i) => ({
      instanceId: `i-${name}-${String(i).padStart(3, '0')}`,
      lifecycleState: 'InService',
      healthStatus: 'Healthy',
    })),
    ...overrides,
  };
}

/** A fleet whose mean interval is shorter than the period: a kill is due in every period. */
function input(overrides: Partial<ChaosInput> = {}): ChaosInput {
  return {
    fleet: 'web',
    chaosTag: '0.01', // 864 s < 1 h: probability 1
    groups: [group('web-asg', 4)],
    now: at('2026-11-27T10:20:00Z'),
    periodSeconds: HOUR,
    ...overrides,
  };
}

describe('tags', () => {
  it.each([
    ['2', 2 * 86_400],
    ['0.5', 43_200],
    [' 1 ', 86_400],
    ['.25', 21_600],
  ])('phoenix:chaos=%j is %d seconds', (value, seconds) => {
    expect(parseChaosMean(value)).toEqual({ ok: true, value: seconds });
  });

  it.each(['0', '-1', 'often', '', '1e3', 'NaN', 'Infinity', '2d'])(
    'phoenix:chaos=%j is invalid',
    (value) => {
      const parsed = parseChaosMean(value);
      expect(parsed.ok).toBe(false);
      if (!parsed.ok) expect(parsed.reason).toContain(`${Tags.chaos}=${JSON.stringify(value)}`);
    },
  );

  it.each([
    [undefined, { start: 9, end: 17 }],
    ['00-24', { start: 0, end: 24 }],
    ['22-06', { start: 22, end: 6 }],
  ])('phoenix:chaos-hours=%j', (value, hours) => {
    expect(parseChaosHours(value)).toEqual({ ok: true, value: hours });
  });

  it.each(['9-17', '09-09', '24-02', '09-25', '10-00', 'office', '09:00-17:00'])(
    'phoenix:chaos-hours=%j is invalid',
    (value) => {
      const parsed = parseChaosHours(value);
      expect(parsed.ok).toBe(false);
      if (!parsed.ok) expect(parsed.reason).toContain(`${Tags.chaosHours}=${JSON.stringify(value)}`);
    },
  );

  it('an invalid tag skips the fleet, naming the tag and the value', () => {
    expect(chaosDecision(input({ chaosTag: 'lots' }))).toMatchObject({
      action: 'skip',
      code: 'invalid-tag',
      tag: Tags.chaos,
      value: 'lots',
    });
    expect(chaosDecision(input({ hoursTag: '9 to 5' }))).toMatchObject({
      action: 'skip',
      code: 'invalid-tag',
      tag: Tags.chaosHours,
      value: '9 to 5',
    });
  });
});

describe('hours', () => {
  it('start inclusive, end exclusive, UTC; wrapping past midnight', () => {
    const office = { start: 9, end: 17 };
    expect(inChaosHours(office, at('2026-11-27T08:59:59Z'))).toBe(false);
    expect(inChaosHours(office, at('2026-11-27T09:00:00Z'))).toBe(true);
    expect(inChaosHours(office, at('2026-11-27T16:59:59Z'))).toBe(true);
    expect(inChaosHours(office, at('2026-11-27T17:00:00Z'))).toBe(false);
    const night = { start: 22, end: 6 };
    expect(inChaosHours(night, at('2026-11-27T23:00:00Z'))).toBe(true);
    expect(inChaosHours(night, at('2026-11-27T05:59:00Z'))).toBe(true);
    expect(inChaosHours(night, at('2026-11-27T12:00:00Z'))).toBe(false);
  });

  it('no kill outside the hours (default 09-17)', () => {
    expect(chaosDecision(input({ now: at('2026-11-27T03:00:00Z') }))).toMatchObject({
      action: 'skip',
      code: 'outside-hours',
    });
    expect(chaosDecision(input({ now: at('2026-11-27T17:00:00Z') }))).toMatchObject({
      code: 'outside-hours',
    });
    expect(chaosDecision(input({ now: at('2026-11-27T03:00:00Z'), hoursTag: '00-24' })).action).toBe('kill');
  });
});

describe('probability and the seeded dice', () => {
  it('period / mean interval, at most 1', () => {
    expect(killProbability(HOUR, 2 * 86_400)).toBeCloseTo(1 / 48);
    expect(killProbability(HOUR, 0.5 * HOUR)).toBe(1);
    expect(ratePeriodSeconds('rate(1 hour)')).toBe(HOUR);
    expect(ratePeriodSeconds('rate(15 minutes)')).toBe(900);
    expect(ratePeriodSeconds('rate(2 days)')).toBe(172_800);
    expect(ratePeriodSeconds('cron(0 * * * ? *)')).toBeUndefined();
  });

  it('periods are aligned on the epoch', () => {
    expect(periodStart(at('2026-11-27T10:59:59.999Z'), HOUR).toISOString()).toBe('2026-11-27T10:00:00.000Z');
    expect(periodStart(at('2026-11-27T10:20:00Z'), 900).toISOString()).toBe('2026-11-27T10:15:00.000Z');
  });

  it('the PRNG is deterministic and uniform enough', () => {
    const a = prng(seedOf('web|2026-11-27T10:00:00.000Z'));
    const b = prng(seedOf('web|2026-11-27T10:00:00.000Z'));
    const xs = Array.from({ length: 10_000 }, () => a());
    expect(Array.from({ length: 10_000 }, () => b())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.48);
    expect(mean).toBeLessThan(0.52);
    expect(seedOf('web|x')).not.toBe(seedOf('api|x'));
  });

  it('the same fleet and period decide the same, whatever the time within the period', () => {
    const early = chaosDecision(input({ chaosTag: '0.125', now: at('2026-11-27T10:01:00Z') }));
    const late = chaosDecision(input({ chaosTag: '0.125', now: at('2026-11-27T10:59:00Z') }));
    expect(late).toEqual(early);
  });

  it('the victim is a serving instance, and does not depend on the order the groups list them', () => {
    const g = group('web-asg', 6);
    const shuffled = { ...g, instances: [...g.instances].reverse() };
    const one = chaosDecision(input({ groups: [g] }));
    const two = chaosDecision(input({ groups: [shuffled] }));
    expect(one.action).toBe('kill');
    expect(two).toEqual(one);
    if (one.action === 'kill') expect(g.instances.map((i) => i.instanceId)).toContain(one.instanceId);
  });

  it('over many periods, kills happen at the tag rate (mean 1/8 day, hourly: p = 1/3)', () => {
    let kills = 0;
    const periods = 3000;
    const victims = new Set<string>();
    for (let h = 0; h < periods; h++) {
      const d = chaosDecision(
        input({
          chaosTag: '0.125',
          hoursTag: '00-24',
          now: new Date(Date.UTC(2026, 0, 1) + h * HOUR * 1000),
        }),
      );
      if (d.action === 'kill') {
        kills++;
        victims.add(d.instanceId);
      } else {
        expect(d.code).toBe('dice');
      }
    }
    expect(kills / periods).toBeGreaterThan(0.3);
    expect(kills / periods).toBeLessThan(0.367);
    expect(victims.size).toBe(4); // every instance gets its turn
  });

  it('a kill that is not due is the dice, with the roll and the probability', () => {
    const d = chaosDecision(input({ chaosTag: '1000', hoursTag: '00-24' }));
    expect(d).toMatchObject({ action: 'skip', code: 'dice', probability: HOUR / (1000 * 86_400) });
  });
});

describe('never a kill', () => {
  const now = at('2026-11-27T10:20:00Z');
  const record = (r: Partial<FleetRecord>): FleetRecord => ({ fleet: 'web', ...r });

  it('twice in one period', () => {
    const first = chaosDecision(input());
    expect(first.action).toBe('kill');
    const mark = { at: now.toISOString(), instanceId: 'i-x', period: first.period };
    expect(chaosDecision(input({ record: record({ lastChaosKill: mark }) }))).toMatchObject({
      action: 'skip',
      code: 'already-killed',
    });
    // The next period may.
    expect(
      chaosDecision(input({ record: record({ lastChaosKill: mark }), now: at('2026-11-27T11:00:00Z') }))
        .action,
    ).toBe('kill');
  });

  it('while a rollout is in flight (an expired lock does not count)', () => {
    const lock = (expiresAt: number) => ({
      execution: 'roll-1',
      imageId: 'ami-1',
      startedAt: now.toISOString(),
      expiresAt,
    });
    expect(
      chaosDecision(input({ record: record({ activeRollout: lock(now.getTime() / 1000 + 600) }) })),
    ).toMatchObject({ action: 'skip', code: 'rollout-in-flight' });
    expect(
      chaosDecision(input({ record: record({ activeRollout: lock(now.getTime() / 1000 - 1) }) })).action,
    ).toBe('kill');
  });

  it('while a replacement is in flight', () => {
    expect(chaosDecision(input({ record: record({ replacementsInFlight: 1 }) }))).toMatchObject({
      action: 'skip',
      code: 'replacement-in-flight',
    });
    expect(chaosDecision(input({ record: record({ replacementsInFlight: 0 }) })).action).toBe('kill');
  });

  it('while the fleet is paused', () => {
    const paused = { paused: { at: now.toISOString(), reason: 'incident' } } as Partial<FleetRecord>;
    expect(chaosDecision(input({ record: record(paused) }))).toMatchObject({
      action: 'skip',
      code: 'paused',
    });
  });

  it('below desired healthy capacity (a pending, unhealthy or missing instance)', () => {
    const g = group('web-asg', 3);
    const pending = {
      ...g,
      instances: g.instances.map((i, n) => (n === 0 ? { ...i, lifecycleState: 'Pending' } : i)),
    };
    const sick = {
      ...g,
      instances: g.instances.map((i, n) => (n === 0 ? { ...i, healthStatus: 'Unhealthy' } : i)),
    };
    const missing = { ...g, instances: g.instances.slice(1) };
    for (const groups of [[pending], [sick], [missing], [group('web-b', 2), missing]]) {
      expect(chaosDecision(input({ groups }))).toMatchObject({ action: 'skip', code: 'below-capacity' });
    }
  });

  it('a fleet of nothing', () => {
    expect(chaosDecision(input({ groups: [group('web-asg', 0)] }))).toMatchObject({
      action: 'skip',
      code: 'no-instances',
    });
  });

  it('a kill picks among every group of the fleet, and names the group', () => {
    const groups = [group('web-a', 2), group('web-b', 2)];
    const seen = new Set<string>();
    for (let h = 0; h < 200; h++) {
      const d = chaosDecision(
        input({ groups, hoursTag: '00-24', now: new Date(Date.UTC(2026, 0, 1) + h * HOUR * 1000) }),
      );
      if (d.action === 'kill') {
        expect(d.instanceId).toContain(d.groupName);
        seen.add(d.groupName);
      }
    }
    expect([...seen].sort()).toEqual(['web-a', 'web-b']);
  });
});
