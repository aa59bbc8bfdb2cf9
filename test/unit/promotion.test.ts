import { describe, expect, it } from 'vitest';
import type { FleetRecord } from '../../lambdas/domain/fleet-record';
import {
  decidePromotion,
  type FleetEvidence,
  fleetEvidence,
  inWindow,
  nextWindowOpening,
  noticeKey,
  parsePromotionRules,
  type PromotionInput,
  type PromotionRule,
  rolledSince,
} from '../../lambdas/domain/promotion';

// Wednesday 2026-01-07 12:00 UTC.
const now = new Date('2026-01-07T12:00:00Z');
const hoursAgo = (h: number) => new Date(now.getTime() - h * 3600_000).toISOString();
const rule: PromotionRule = {
  channel: 'prod',
  promoteFrom: 'staging',
  afterSeconds: 4 * 3600,
  approval: false,
  maxHealthReplacements: 0,
};
const rolled = (fleet: string, since: string, extra: Partial<FleetEvidence> = {}): FleetEvidence => ({
  fleet,
  desiredImage: 'ami-new',
  rolledSince: since,
  rolling: false,
  healthReplacements: [],
  alarms: [],
  ...extra,
});
const input = (extra: Partial<PromotionInput> = {}): PromotionInput => ({
  rule,
  candidate: 'ami-new',
  current: 'ami-old',
  promoted: [],
  approvals: [],
  fleets: [rolled('web', hoursAgo(5)), rolled('api', hoursAgo(6))],
  now,
  ...extra,
});

describe('decidePromotion: promote', () => {
  it('promotes when every upstream fleet ran the image fully rolled for the delay, with the evidence', () => {
    const d = decidePromotion(input());
    expect(d).toMatchObject({
      kind: 'promote',
      imageId: 'ami-new',
      evidence: {
        rolledSince: hoursAgo(5),
        delaySeconds: 14400,
        healthReplacements: 0,
        fleets: [
          { fleet: 'web', rolledSince: hoursAgo(5) },
          { fleet: 'api', rolledSince: hoursAgo(6) },
        ],
      },
    });
  });
  it('promotes exactly at the end of the delay', () => {
    expect(decidePromotion(input({ fleets: [rolled('web', hoursAgo(4))] })).kind).toBe('promote');
  });
  it('with an approval required and given, carries who approved', () => {
    const approval = { imageId: 'ami-new', by: 'arn:aws:iam::1:user/ann', at: hoursAgo(1) };
    const d = decidePromotion(
      input({ rule: { ...rule, approval: true }, approvals: [{ ...approval, imageId: 'ami-x' }, approval] }),
    );
    expect(d).toMatchObject({ kind: 'promote', evidence: { approval } });
  });
  it('inside the window; health replacements within the threshold; OK alarms named', () => {
    const d = decidePromotion(
      input({
        rule: { ...rule, window: { days: ['Wed'], fromHour: 9, toHour: 16 }, maxHealthReplacements: 1 },
        fleets: [
          rolled('web', hoursAgo(5), {
            healthReplacements: [hoursAgo(7), hoursAgo(1)],
            alarms: [{ name: 'web-5xx', state: 'OK' }],
          }),
        ],
      }),
    );
    expect(d).toMatchObject({
      kind: 'promote',
      evidence: {
        healthReplacements: 1,
        fleets: [{ fleet: 'web', healthReplacements: 1, alarms: ['web-5xx'] }],
      },
    });
  });
});

describe('decidePromotion: wait', () => {
  it('waits for the delay, until the last fleet rolled + after', () => {
    const d = decidePromotion(input({ fleets: [rolled('web', hoursAgo(5)), rolled('api', hoursAgo(1))] }));
    expect(d).toMatchObject({
      kind: 'wait',
      waitingFor: ['delay'],
      fleetsNotRolled: [],
      until: new Date(now.getTime() + 3 * 3600_000).toISOString(),
    });
  });
  it('waits for fleets not yet rolled: another desired image, a rollout in flight, no success yet', () => {
    const d = decidePromotion(
      input({
        fleets: [
          rolled('a', hoursAgo(9)),
          rolled('b', hoursAgo(9), { desiredImage: 'ami-old' }),
          rolled('c', hoursAgo(9), { rolling: true }),
          { fleet: 'd', desiredImage: 'ami-new', rolling: false, healthReplacements: [], alarms: [] },
        ],
      }),
    );
    expect(d).toMatchObject({
      kind: 'wait',
      waitingFor: ['fleets-not-rolled'],
      fleetsNotRolled: ['b', 'c', 'd'],
    });
    expect(d).not.toHaveProperty('until');
  });
  it('waits for an approval (no time limit)', () => {
    const d = decidePromotion(
      input({
        rule: { ...rule, approval: true },
        approvals: [{ imageId: 'ami-older', by: 'x', at: hoursAgo(9) }],
      }),
    );
    expect(d).toMatchObject({ kind: 'wait', waitingFor: ['approval'] });
    expect(d).not.toHaveProperty('until');
    expect(d.kind === 'wait' && d.reason).toContain('phoenix approve prod');
  });
  it('waits for the window: the next opening (Friday 16:00 → Monday 09:00)', () => {
    const friday = new Date('2026-01-09T16:30:00Z');
    const d = decidePromotion(
      input({
        now: friday,
        rule: { ...rule, window: { days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'], fromHour: 9, toHour: 16 } },
      }),
    );
    expect(d).toMatchObject({ kind: 'wait', waitingFor: ['window'], until: '2026-01-12T09:00:00.000Z' });
  });
  it('delay ending outside the window: until the window opening after the delay', () => {
    const d = decidePromotion(
      input({
        rule: { ...rule, window: { fromHour: 9, toHour: 14 } },
        fleets: [rolled('web', hoursAgo(1))],
      }),
    );
    // delay ends 15:00 (window closed) → next day 09:00.
    expect(d).toMatchObject({ kind: 'wait', waitingFor: ['delay'], until: '2026-01-08T09:00:00.000Z' });
  });
  it('waits while a gating alarm is not OK (INSUFFICIENT_DATA or missing)', () => {
    const d = decidePromotion(
      input({
        fleets: [rolled('web', hoursAgo(5), { alarms: [{ name: 'web-5xx', state: 'INSUFFICIENT_DATA' }] })],
      }),
    );
    expect(d).toMatchObject({ kind: 'wait', waitingFor: ['alarms-not-ok'] });
  });
  it('collects every reason at once', () => {
    const d = decidePromotion(
      input({
        rule: { ...rule, approval: true },
        fleets: [rolled('web', hoursAgo(1))],
      }),
    );
    expect(d).toMatchObject({ kind: 'wait', waitingFor: ['approval', 'delay'] });
  });
});

describe('decidePromotion: blocked', () => {
  const blockedBy = (d: ReturnType<typeof decidePromotion>) => (d.kind === 'blocked' ? d.blockedBy : d.kind);
  it('quarantined first, whatever else', () => {
    expect(blockedBy(decidePromotion(input({ quarantined: 'rolled back in web', fleets: [] })))).toBe(
      'quarantined',
    );
  });
  it('no upstream fleet: no evidence', () => {
    expect(decidePromotion(input({ fleets: [] }))).toMatchObject({
      kind: 'blocked',
      blockedBy: 'no-upstream-fleet',
    });
  });
  it('a rollback in any upstream fleet', () => {
    const d = decidePromotion(
      input({
        fleets: [
          rolled('web', hoursAgo(5)),
          rolled('api', hoursAgo(5), { rolledBack: { at: hoursAgo(2), reason: 'gate' } }),
        ],
      }),
    );
    expect(d).toMatchObject({ kind: 'blocked', blockedBy: 'rollback', subjects: ['api'] });
  });
  it('an open circuit', () => {
    const d = decidePromotion(
      input({ fleets: [rolled('web', hoursAgo(5), { circuitOpenSince: hoursAgo(1) })] }),
    );
    expect(d).toMatchObject({ kind: 'blocked', blockedBy: 'circuit-open', subjects: ['web'] });
  });
  it('health replacements over the threshold since the image rolled (older ones do not count)', () => {
    const fleets = [
      rolled('web', hoursAgo(5), { healthReplacements: [hoursAgo(8), hoursAgo(2)] }),
      rolled('api', hoursAgo(5), { healthReplacements: [hoursAgo(1)] }),
    ];
    expect(decidePromotion(input({ fleets, rule: { ...rule, maxHealthReplacements: 2 } })).kind).toBe(
      'promote',
    );
    expect(decidePromotion(input({ fleets, rule: { ...rule, maxHealthReplacements: 1 } }))).toMatchObject({
      kind: 'blocked',
      blockedBy: 'health-replacements',
      subjects: ['web', 'api'],
    });
  });
  it('a gating alarm in ALARM', () => {
    const d = decidePromotion(
      input({
        fleets: [
          rolled('web', hoursAgo(5), { alarms: [{ name: 'web-5xx', state: 'ALARM' }] }),
          rolled('api', hoursAgo(5), { alarms: [{ name: 'web-5xx', state: 'ALARM' }] }),
        ],
      }),
    );
    expect(d).toMatchObject({ kind: 'blocked', blockedBy: 'alarm', subjects: ['web-5xx'] });
  });
  it('blocked beats waiting', () => {
    const d = decidePromotion(
      input({
        rule: { ...rule, approval: true },
        fleets: [rolled('web', hoursAgo(1), { alarms: [{ name: 'a', state: 'ALARM' }] })],
      }),
    );
    expect(d.kind).toBe('blocked');
  });
});

describe('decidePromotion: idle, supersede, dedupe', () => {
  it('no candidate yet', () => {
    const { candidate: _c, ...rest } = input();
    expect(decidePromotion(rest).kind).toBe('idle');
  });
  it('the downstream already runs it, or it was promoted before: never again', () => {
    expect(decidePromotion(input({ current: 'ami-new' })).kind).toBe('idle');
    expect(decidePromotion(input({ promoted: ['ami-new'] })).kind).toBe('idle');
  });
  it('an image not newer than the downstream current one is not promoted', () => {
    const d = decidePromotion(
      input({ candidateCreatedAt: '2026-01-01T00:00:00Z', currentCreatedAt: '2026-01-02T00:00:00Z' }),
    );
    expect(d.kind).toBe('idle');
  });
  it('a newer image in staging supersedes a waiting one: the decision is about the newer one', () => {
    const waiting = decidePromotion(input({ fleets: [rolled('web', hoursAgo(1))] }));
    const newer = decidePromotion(
      input({ candidate: 'ami-newer', fleets: [rolled('web', hoursAgo(0), { desiredImage: 'ami-newer' })] }),
    );
    expect(waiting).toMatchObject({ kind: 'wait', imageId: 'ami-new' });
    expect(newer).toMatchObject({ kind: 'wait', imageId: 'ami-newer' });
    expect(noticeKey(waiting)).not.toBe(noticeKey(newer));
  });
  it('noticeKey: the same while only time passes, new when the reason changes', () => {
    const a = decidePromotion(input({ fleets: [rolled('web', hoursAgo(1))] }));
    const b = decidePromotion(
      input({ fleets: [rolled('web', hoursAgo(1))], now: new Date(now.getTime() + 60_000) }),
    );
    const c = decidePromotion(
      input({ fleets: [rolled('web', hoursAgo(1))], rule: { ...rule, approval: true } }),
    );
    expect(noticeKey(a)).toBe(noticeKey(b));
    expect(noticeKey(a)).not.toBe(noticeKey(c));
    expect(noticeKey(decidePromotion(input()))).toBeUndefined();
  });
});

describe('fleetEvidence and rolledSince', () => {
  const base: FleetRecord = {
    fleet: 'web',
    desiredImage: 'ami-new',
    imageHistory: [
      { imageId: 'ami-old', outcome: 'succeeded', at: hoursAgo(20), execution: 'e0' },
      { imageId: 'ami-new', outcome: 'succeeded', at: hoursAgo(5), execution: 'e1' },
    ],
  };
  it('rolled since the success of the desired image; a later rejection changes nothing', () => {
    expect(rolledSince(base)).toBe(hoursAgo(5));
    expect(
      rolledSince({
        ...base,
        imageHistory: [
          ...base.imageHistory!,
          { imageId: 'ami-bad', outcome: 'rejected', at: hoursAgo(1), execution: 'e2' },
        ],
      }),
    ).toBe(hoursAgo(5));
    expect(
      rolledSince({
        ...base,
        imageHistory: [
          ...base.imageHistory!,
          { imageId: 'ami-x', outcome: 'rolled-back', at: hoursAgo(1), execution: 'e2' },
        ],
      }),
    ).toBeUndefined();
    expect(rolledSince({ fleet: 'web' })).toBeUndefined();
  });
  it('collects rollback, a rollback away from it, circuit, health replacements, the lock', () => {
    const record: FleetRecord = {
      ...base,
      imageHistory: [
        ...base.imageHistory!,
        { imageId: 'ami-old', outcome: 'succeeded', at: hoursAgo(1), execution: 'rb', mode: 'rollback' },
      ],
      circuit: { flags: [], openedAt: hoursAgo(1) },
      activeRollout: { execution: 'e', imageId: 'ami-x', startedAt: hoursAgo(0), expiresAt: 0 },
      replacementHistory: [
        { instanceId: 'i-1', cause: 'health', outcome: 'replaced', at: hoursAgo(2), execution: 'r1' },
        { instanceId: 'i-2', cause: 'health', outcome: 'skipped', at: hoursAgo(2), execution: 'r2' },
        { instanceId: 'i-3', cause: 'drift', outcome: 'replaced', at: hoursAgo(2), execution: 'r3' },
      ],
    };
    expect(fleetEvidence('web', record, 'ami-new', [])).toMatchObject({
      rolling: true,
      rolledBack: { reason: 'rolled back to ami-old' },
      circuitOpenSince: hoursAgo(1),
      healthReplacements: [hoursAgo(2)],
    });
    const failed: FleetRecord = {
      ...base,
      imageHistory: [
        { imageId: 'ami-new', outcome: 'rolled-back', at: hoursAgo(3), execution: 'e', reason: 'gate' },
      ],
    };
    expect(fleetEvidence('web', failed, 'ami-new', []).rolledBack).toEqual({
      at: hoursAgo(3),
      reason: 'gate',
    });
    expect(fleetEvidence('web', undefined, 'ami-new', [])).toMatchObject({ fleet: 'web', rolling: false });
  });
});

describe('window', () => {
  const w = { days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'] as const, fromHour: 9, toHour: 16 };
  it('inWindow: days and hours, the end excluded', () => {
    expect(inWindow(w, new Date('2026-01-07T09:00:00Z'))).toBe(true);
    expect(inWindow(w, new Date('2026-01-07T15:59:59Z'))).toBe(true);
    expect(inWindow(w, new Date('2026-01-07T16:00:00Z'))).toBe(false);
    expect(inWindow(w, new Date('2026-01-10T12:00:00Z'))).toBe(false); // Saturday
  });
  it('nextWindowOpening: now when inside, else the next opening; none for an empty week', () => {
    const inside = new Date('2026-01-07T10:00:00Z');
    expect(nextWindowOpening(w, inside)).toEqual(inside);
    expect(nextWindowOpening(w, new Date('2026-01-07T08:00:00Z'))?.toISOString()).toBe(
      '2026-01-07T09:00:00.000Z',
    );
    expect(nextWindowOpening(w, new Date('2026-01-10T12:00:00Z'))?.toISOString()).toBe(
      '2026-01-12T09:00:00.000Z',
    );
    expect(nextWindowOpening({ days: [], fromHour: 9, toHour: 16 }, inside)).toBeUndefined();
  });
});

describe('parsePromotionRules', () => {
  it('reads the JSON the capability sets, with the defaults', () => {
    expect(parsePromotionRules(undefined)).toEqual([]);
    expect(parsePromotionRules(JSON.stringify([{ channel: 'prod', promoteFrom: 'staging' }]))).toEqual([
      {
        channel: 'prod',
        promoteFrom: 'staging',
        afterSeconds: 14400,
        approval: false,
        maxHealthReplacements: 0,
      },
    ]);
    expect(() => parsePromotionRules('{}')).toThrow(/list/);
    expect(() => parsePromotionRules('[{"channel":1}]')).toThrow(/promoteFrom/);
  });
});
