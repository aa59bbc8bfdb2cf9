/**
 * Property of the promotion rule (lambdas/domain/promotion.ts), fast-check, seeded
 * (PHOENIX_PROPERTY_SEED, see ./seed.ts): whatever the evidence, a `promote` decision means every
 * condition of the rule holds (every upstream fleet on the candidate, at rest, fully rolled for the
 * delay; no rollback, no open circuit, health replacements within the threshold, every gating
 * alarm OK; not quarantined, not already promoted; approved when required; inside the window), and
 * a candidate already promoted is never promoted again.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decidePromotion,
  type FleetEvidence,
  inWindow,
  type PromotionInput,
  WEEKDAYS,
} from '../../lambdas/domain/promotion';
import { propertyParameters } from './seed';

const FILE = 'test/property/promotion.test.ts';
const NOW = Date.parse('2026-01-07T12:00:00Z');
const iso = (hoursAgo: number) => new Date(NOW - hoursAgo * 3600_000).toISOString();

/** True one time in `n`: faults are rare, so that the generator reaches promotions too. */
const rarely = (n = 8) => fc.integer({ min: 1, max: n }).map((k) => k === 1);
const mostly = (n = 8) => rarely(n).map((b) => !b);

const fleet: fc.Arbitrary<FleetEvidence> = fc
  .record({
    fleet: fc.constantFrom('a', 'b', 'c', 'd'),
    onCandidate: mostly(),
    rolledHoursAgo: fc.option(fc.integer({ min: 0, max: 12 }), { freq: 8 }),
    rolling: rarely(),
    rolledBack: rarely(),
    circuit: rarely(),
    health: fc.array(fc.integer({ min: 0, max: 12 }), { maxLength: 2 }),
    alarm: fc.option(fc.constantFrom('OK', 'OK', 'OK', 'ALARM', 'INSUFFICIENT_DATA', 'missing')),
  })
  .map((f) => ({
    fleet: f.fleet,
    desiredImage: f.onCandidate ? 'ami-cand' : 'ami-other',
    ...(f.rolledHoursAgo !== null ? { rolledSince: iso(f.rolledHoursAgo) } : {}),
    rolling: f.rolling,
    ...(f.rolledBack ? { rolledBack: { at: iso(1), reason: 'gate' } } : {}),
    ...(f.circuit ? { circuitOpenSince: iso(1) } : {}),
    healthReplacements: f.health.map(iso),
    alarms: f.alarm !== null ? [{ name: `${f.fleet}-alarm`, state: f.alarm }] : [],
  }));

const input: fc.Arbitrary<PromotionInput> = fc
  .record({
    fleets: fc.uniqueArray(fleet, { selector: (f) => f.fleet, minLength: 1, maxLength: 4 }),
    afterHours: fc.integer({ min: 0, max: 6 }),
    approval: fc.boolean(),
    approved: mostly(2),
    window: fc.option(
      fc.record({
        days: fc.subarray([...WEEKDAYS]),
        fromHour: fc.integer({ min: 0, max: 23 }),
        span: fc.integer({ min: 1, max: 24 }),
      }),
    ),
    quarantined: rarely(),
    promoted: rarely(),
    max: fc.integer({ min: 0, max: 3 }),
  })
  .map((r) => ({
    rule: {
      channel: 'prod',
      promoteFrom: 'staging',
      afterSeconds: r.afterHours * 3600,
      approval: r.approval,
      ...(r.window !== null
        ? {
            window: {
              days: r.window.days,
              fromHour: r.window.fromHour,
              toHour: Math.min(24, r.window.fromHour + r.window.span),
            },
          }
        : {}),
      maxHealthReplacements: r.max,
    },
    candidate: 'ami-cand',
    current: 'ami-old',
    ...(r.quarantined ? { quarantined: 'rolled back' } : {}),
    promoted: r.promoted ? ['ami-cand'] : [],
    approvals: r.approved ? [{ imageId: 'ami-cand', by: 'arn:aws:iam::1:user/x', at: iso(0) }] : [],
    fleets: r.fleets,
    now: new Date(NOW),
  }));

describe('the promotion rule (property)', () => {
  it('promotes only when every condition holds, and never twice', () => {
    const kinds: Record<string, number> = {};
    fc.assert(
      fc.property(input, (i) => {
        const d = decidePromotion(i);
        if (i.promoted.includes('ami-cand')) expect(d.kind).toBe('idle');
        kinds[d.kind] = (kinds[d.kind] ?? 0) + 1;
        if (d.kind !== 'promote') return;
        expect(i.quarantined).toBeUndefined();
        expect(i.fleets.length).toBeGreaterThan(0);
        let health = 0;
        for (const f of i.fleets) {
          expect(f.desiredImage).toBe('ami-cand');
          expect(f.rolling).toBe(false);
          expect(f.rolledBack).toBeUndefined();
          expect(f.circuitOpenSince).toBeUndefined();
          expect(Date.parse(f.rolledSince!) + i.rule.afterSeconds * 1000).toBeLessThanOrEqual(NOW);
          expect(f.alarms.every((a) => a.state === 'OK')).toBe(true);
          health += f.healthReplacements.filter((t) => Date.parse(t) >= Date.parse(f.rolledSince!)).length;
        }
        expect(health).toBeLessThanOrEqual(i.rule.maxHealthReplacements);
        if (i.rule.approval) expect(i.approvals.some((a) => a.imageId === 'ami-cand')).toBe(true);
        if (i.rule.window !== undefined) expect(inWindow(i.rule.window, i.now)).toBe(true);
      }),
      propertyParameters(FILE, 2000),
    );
    // The property is not vacuous: the generator reaches promotions.
    console.info(`[property] ${FILE}: decisions ${JSON.stringify(kinds)}`);
    expect(kinds['promote'] ?? 0).toBeGreaterThan(0);
  });
});
