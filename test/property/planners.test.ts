/**
 * Property-based tests (fast-check, seeded, shrinking) of the pure planners of lambdas/domain: the
 * rolling batches (surge, floor, retirement), the disruption budget, the circuit breaker, image
 * ordering and validation, supersede, the reconcile sweep's differences and check pacing. Seed:
 * PHOENIX_PROPERTY_SEED (see ./seed.ts); each property prints it and a failure says how to replay.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CircuitState,
  circuitLimit,
  evaluateCircuit,
  flagsInWindow,
} from '../../lambdas/domain/circuit';
import { minHealthyCount, surgeSize, type Surge } from '../../lambdas/domain/fleet-settings';
import { imageViolation, type ImagePolicyFacts } from '../../lambdas/domain/image-policy';
import { fleetDifferences, LAUNCH_TEMPLATE_CLOCK_TOLERANCE_SECONDS } from '../../lambdas/domain/reconcile';
import { countedChecks, fastCheckSeconds, nextPace, type Pace } from '../../lambdas/domain/pacing';
import { defaultBudget, disruptionBudget } from '../../lambdas/domain/replace';
import {
  type FleetInstance,
  instancesToRetire,
  isNewerImage,
  isPresent,
  isServing,
  splitByImage,
  stalledRollbackSurplus,
} from '../../lambdas/domain/rollout';
import { propertyParameters } from './seed';

const FILE = 'test/property/planners.test.ts';
const params = <T>(numRuns: number) => propertyParameters<T>(FILE, numRuns);

const OLD = 'ami-00000000000000001';
const NEW = 'ami-00000000000000002';

// ---------------------------------------------------------------------------------------------
// Rolling batches: a model fleet driven by the planners the rolling steps use (surgeSize,
// minHealthyCount, splitByImage, instancesToRetire) and the readiness rule of CheckBatchHealth.
// ---------------------------------------------------------------------------------------------

interface SimInstance {
  instanceId: string;
  imageId: string;
  lifecycleState: string;
  healthStatus: string;
  launchTime: Date;
  /** Pending: checks left before it is InService and healthy. */
  bootChecks: number;
}

interface RollingCase {
  readonly desired: number;
  readonly surge: Surge;
  readonly minHealthyPercent: number;
  /** Old instances InService but unhealthy at the start (indexes). */
  readonly unhealthyOld: readonly number[];
  /** Per batch: does an old serving instance die (the group launches a replacement on the new image)? */
  readonly deaths: readonly boolean[];
  /** Checks a new instance needs to boot, per launch (cycled). */
  readonly boots: readonly number[];
}

const rollingCase: fc.Arbitrary<RollingCase> = fc.integer({ min: 1, max: 12 }).chain((desired) =>
  fc.record({
    desired: fc.constant(desired),
    surge: fc.oneof(
      fc.record({ kind: fc.constant('count' as const), value: fc.integer({ min: 1, max: desired + 2 }) }),
      fc.record({ kind: fc.constant('percent' as const), value: fc.integer({ min: 1, max: 100 }) }),
    ),
    minHealthyPercent: fc.integer({ min: 0, max: 100 }),
    unhealthyOld: fc.uniqueArray(fc.integer({ min: 0, max: desired - 1 }), { maxLength: 2 }),
    deaths: fc.array(fc.boolean(), { maxLength: 12 }),
    boots: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 6 }),
  }),
);

const MAX_CHECKS = 5;

/** Run a rolling rollout of the model fleet; throws (an assertion) at the first broken invariant. */
function simulateRolling(c: RollingCase) {
  const batchSize = surgeSize(c.surge, c.desired);
  const floor = minHealthyCount(c.minHealthyPercent, c.desired);
  let clock = 0;
  let launched = 0;
  const fleet: SimInstance[] = Array.from({ length: c.desired }, (_, k) => ({
    instanceId: `i-old-${String(k).padStart(2, '0')}`,
    imageId: OLD,
    lifecycleState: 'InService',
    healthStatus: c.unhealthyOld.includes(k) ? 'Unhealthy' : 'Healthy',
    launchTime: new Date(Date.UTC(2026, 0, 1, 0, 0, clock++)),
    bootChecks: 0,
  }));
  const oldIds = new Set(fleet.map((i) => i.instanceId));
  const retired: string[] = [];
  const died: string[] = [];
  const present = () => fleet.filter(isPresent);
  const launch = () => {
    const boot = c.boots[launched % c.boots.length]!;
    fleet.push({
      instanceId: `i-new-${String(launched++).padStart(2, '0')}`,
      imageId: NEW,
      lifecycleState: boot === 0 ? 'InService' : 'Pending',
      healthStatus: 'Healthy',
      launchTime: new Date(Date.UTC(2026, 0, 1, 0, 0, clock++)),
      bootChecks: boot,
    });
  };
  // Auto Scaling keeps the group at its desired capacity.
  const fill = (target: number) => {
    while (present().length < target) launch();
  };
  let batches = 0;
  let outcome: 'done' | 'batch-not-healthy' = 'done';
  for (let round = 0; round < 4 * c.desired + 8; round++) {
    const { onImage, others } = splitByImage(present(), NEW);
    if (others.length === 0) break;
    batches += 1;
    // LaunchBatch: surge by one batch above the original capacity (absolute).
    const batch = Math.min(batchSize, others.length);
    const target = c.desired + batch;
    const expectedNew = Math.min(c.desired, onImage.length + batch);
    fill(target);
    expect(present().length).toBeLessThanOrEqual(c.desired + batchSize);
    // The world: an old serving instance dies during the batch; the group launches a replacement.
    if (c.deaths[round % Math.max(1, c.deaths.length)] === true) {
      const victim = splitByImage(present(), NEW).servingOthers[0];
      if (victim !== undefined) {
        fleet.find((i) => i.instanceId === victim.instanceId)!.lifecycleState = 'Terminated';
        died.push(victim.instanceId);
        fill(target);
      }
    }
    // CheckBatchHealth, up to MAX_CHECKS checks; pending instances boot between checks.
    let ready = false;
    for (let check = 0; check < MAX_CHECKS && !ready; check++) {
      const split = splitByImage(present(), NEW);
      ready =
        split.servingOnImage.length >= expectedNew &&
        split.servingOnImage.length + split.servingOthers.length >= floor;
      if (!ready) {
        for (const i of present()) {
          if (i.lifecycleState === 'Pending' && --i.bootChecks <= 0) i.lifecycleState = 'InService';
        }
      }
    }
    if (!ready) {
      outcome = 'batch-not-healthy';
      break;
    }
    // RetireBatch.
    const servingBefore = present().filter(isServing).length;
    const retire = instancesToRetire(present(), NEW, c.desired, floor);
    for (const r of retire) {
      expect(r.imageId, `retired ${r.instanceId}, an instance of the new image`).not.toBe(NEW);
      expect(retired, `retired ${r.instanceId} twice`).not.toContain(r.instanceId);
      const instance = fleet.find((i) => i.instanceId === r.instanceId)!;
      instance.lifecycleState = 'Terminated';
      retired.push(r.instanceId);
    }
    const servingAfter = present().filter(isServing).length;
    // Phoenix never takes serving below the floor (nor lower, when the fleet was below it already).
    expect(servingAfter, `serving ${servingBefore} → ${servingAfter}, floor ${floor}`).toBeGreaterThanOrEqual(
      Math.min(floor, servingBefore),
    );
    expect(present().length).toBeGreaterThanOrEqual(c.desired);
    // The last batch gives the group back its desired capacity: Auto Scaling scales in (here the
    // newest instances first, as its default policy would pick by launch time).
    if (splitByImage(present(), NEW).others.length === 0) {
      const surplus = present().length - c.desired;
      for (const i of [...present()].reverse().slice(0, surplus)) i.lifecycleState = 'Terminated';
    }
    // Pending instances go on booting while the rollout moves to its next batch.
    for (const i of present()) {
      if (i.lifecycleState === 'Pending' && --i.bootChecks <= 0) i.lifecycleState = 'InService';
    }
  }
  return { outcome, batches, batchSize, floor, retired, died, oldIds, present: present() };
}

/** Up to 16 instances of three images in any lifecycle and health state (ids i-00, i-01, …). */
const mixedFleet: fc.Arbitrary<FleetInstance[]> = fc
  .array(
    fc.record({
      imageId: fc.constantFrom(OLD, NEW, 'ami-00000000000000003'),
      lifecycleState: fc.constantFrom('InService', 'Pending', 'Terminating', 'Terminated', 'Standby'),
      healthStatus: fc.constantFrom('Healthy', 'Unhealthy'),
      launched: fc.integer({ min: 0, max: 50 }),
    }),
    { maxLength: 16 },
  )
  .map((specs) =>
    specs.map((s, k) => ({
      instanceId: `i-${String(k).padStart(2, '0')}`,
      imageId: s.imageId,
      lifecycleState: s.lifecycleState,
      healthStatus: s.healthStatus,
      launchTime: new Date(Date.UTC(2026, 0, 1, 0, s.launched)),
    })),
  );

/**
 * A choice of surplus instances to terminate: distinct, all `eligible`, at most the surplus over
 * `desired`, serving never below `floor` (nor lower, when below it already), and a serving one only
 * when every not-serving eligible one is chosen.
 */
function expectSurplusChoice(
  chosen: readonly FleetInstance[],
  eligible: readonly FleetInstance[],
  { present, desired, floor }: { present: readonly FleetInstance[]; desired: number; floor: number },
): void {
  const ids = chosen.map((i) => i.instanceId);
  expect(new Set(ids).size).toBe(ids.length);
  expect(chosen.every((i) => eligible.includes(i))).toBe(true);
  expect(chosen.length).toBeLessThanOrEqual(Math.max(0, present.length - desired));
  const servingBefore = present.filter(isServing).length;
  const servingAfter = servingBefore - chosen.filter(isServing).length;
  expect(servingAfter).toBeGreaterThanOrEqual(Math.min(floor, servingBefore));
  if (chosen.some(isServing)) {
    expect(eligible.filter((i) => !isServing(i)).every((i) => chosen.includes(i))).toBe(true);
  }
}

describe('rolling batches (surgeSize, minHealthyCount, instancesToRetire)', () => {
  it('cover every old instance exactly once, never retire a new one, never take serving below the floor', () => {
    fc.assert(
      fc.property(rollingCase, (c) => {
        const r = simulateRolling(c);
        if (r.outcome !== 'done') return;
        // Every old instance left exactly once: retired by Phoenix or died in the world.
        expect([...r.retired, ...r.died].sort()).toEqual([...r.oldIds].sort());
        expect(new Set(r.retired).size).toBe(r.retired.length);
        // Back at the fleet's capacity, every instance on the new image.
        expect(r.present.length).toBe(c.desired);
        expect(r.present.every((i) => i.imageId === NEW)).toBe(true);
      }),
      params(300),
    );
  });

  it('take ⌈desired ÷ batch size⌉ batches on a healthy fleet that nothing disturbs', () => {
    fc.assert(
      fc.property(rollingCase, (c) => {
        const r = simulateRolling({ ...c, unhealthyOld: [], deaths: [], boots: [0] });
        expect(r.outcome).toBe('done');
        expect(r.batches).toBe(Math.ceil(c.desired / r.batchSize));
      }),
      params(200),
    );
  });

  it('surge and floor stay within the fleet', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        fc.oneof(
          fc.record({ kind: fc.constant('count' as const), value: fc.integer({ min: 1, max: 100_000 }) }),
          fc.record({ kind: fc.constant('percent' as const), value: fc.integer({ min: 1, max: 100 }) }),
        ),
        fc.integer({ min: 0, max: 100 }),
        (desired, surge, percent) => {
          const size = surgeSize(surge, desired);
          expect(size).toBeGreaterThanOrEqual(1);
          expect(size).toBeLessThanOrEqual(Math.max(1, desired));
          const floor = minHealthyCount(percent, desired);
          expect(floor).toBeGreaterThanOrEqual(0);
          expect(floor).toBeLessThanOrEqual(desired);
          expect(floor).toBeGreaterThanOrEqual((desired * percent) / 100);
        },
      ),
      params(300),
    );
  });

  it('instancesToRetire: only old instances, at most the surplus, not-serving first, never below the floor', () => {
    fc.assert(
      fc.property(
        mixedFleet,
        fc.integer({ min: 0, max: 16 }),
        fc.integer({ min: 0, max: 16 }),
        (instances, desired, floor) => {
          const { present, others } = splitByImage(instances, NEW);
          const retire = instancesToRetire(instances, NEW, desired, floor);
          // Only old instances; not serving first: a serving one only when every not-serving old one is.
          expectSurplusChoice(retire, others, { present, desired, floor });
          // Without a floor, exactly the surplus (as many as there are old instances).
          const free = instancesToRetire(instances, NEW, desired);
          expect(free.length).toBe(Math.min(others.length, Math.max(0, present.length - desired)));
        },
      ),
      params(300),
    );
  });

  it('stalledRollbackSurplus: at most the surplus, not-serving first, never a serving old one, never below the floor', () => {
    fc.assert(
      fc.property(
        mixedFleet,
        fc.integer({ min: 0, max: 16 }),
        fc.integer({ min: 0, max: 16 }),
        (instances, desired, floor) => {
          const present = instances.filter(isPresent);
          const taken = stalledRollbackSurplus(instances, NEW, desired, floor);
          // Any present one but a serving old one; not serving first: a serving one only when every
          // not-serving one has gone.
          const eligibleNow = present.filter((i) => !isServing(i) || i.imageId === NEW);
          expectSurplusChoice(taken, eligibleNow, { present, desired, floor });
          // Without a floor, the whole surplus goes when enough instances may: every not-serving
          // one and the serving ones of the new image.
          const free = stalledRollbackSurplus(instances, NEW, desired);
          const eligible = present.filter((i) => !isServing(i) || i.imageId === NEW).length;
          expect(free.length).toBe(Math.min(eligible, Math.max(0, present.length - desired)));
        },
      ),
      params(300),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Disruption budget.
// ---------------------------------------------------------------------------------------------

describe('disruption budget (disruptionBudget)', () => {
  it('is a whole number >= 1; a valid tag sets it, anything else falls back to the default and says why', () => {
    const tag = fc.oneof(
      fc.constant(undefined),
      fc.integer({ min: -5, max: 2_000_000 }).map(String),
      fc.integer({ min: -5, max: 200 }).map((n) => `${n}%`),
      fc.string({ maxLength: 8 }),
    );
    fc.assert(
      fc.property(tag, fc.integer({ min: 0, max: 10_000 }), (value, desired) => {
        const { budget, invalid } = disruptionBudget(value, desired);
        expect(Number.isInteger(budget)).toBe(true);
        expect(budget).toBeGreaterThanOrEqual(1);
        const v = value?.trim();
        const count = v !== undefined && /^\d{1,6}$/.test(v) && Number(v) >= 1;
        const pct = v !== undefined ? /^(\d{1,3})%$/.exec(v) : null;
        const pctOk = pct !== null && Number(pct[1]) >= 1 && Number(pct[1]) <= 100;
        if (value === undefined) {
          expect({ budget, invalid }).toEqual({ budget: defaultBudget(desired) });
        } else if (count) {
          expect({ budget, invalid }).toEqual({ budget: Number(v) });
        } else if (pctOk) {
          const share = Math.floor((desired * Number(pct[1])) / 100);
          expect({ budget, invalid }).toEqual({ budget: Math.max(1, share) });
          // A share of the fleet never exceeds the fleet (one at least).
          expect(budget).toBeLessThanOrEqual(Math.max(1, desired));
        } else {
          expect(budget).toBe(defaultBudget(desired));
          expect(invalid).toContain(JSON.stringify(value));
        }
      }),
      params(300),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Circuit breaker: against a model that counts the distinct instances flagged within the window.
// ---------------------------------------------------------------------------------------------

describe('circuit breaker (evaluateCircuit)', () => {
  const flagEvent = fc.record({
    afterSeconds: fc.integer({ min: 0, max: 400 }),
    instance: fc.integer({ min: 0, max: 11 }),
  });

  it('opens exactly when more than its limit of distinct instances are flagged within its window, and closes only when the window clears', () => {
    fc.assert(
      fc.property(
        fc.array(flagEvent, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 60, max: 900 }),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 100 }),
        (events, windowSeconds, desired, thresholdPercent) => {
          const limit = circuitLimit(desired, thresholdPercent);
          const start = Date.UTC(2026, 0, 1);
          let t = 0;
          let state: CircuitState | undefined;
          let modelOpen: boolean = false;
          const history: { instanceId: string; at: number }[] = [];
          for (const e of events) {
            t += e.afterSeconds;
            const now = new Date(start + t * 1000);
            const instanceId = `i-${e.instance}`;
            const inWindow = (h: { at: number }) => t - h.at < windowSeconds;
            const prior = new Set(history.filter(inWindow).map((h) => h.instanceId));
            history.push({ instanceId, at: t });
            const flagged = new Set(history.filter(inWindow).map((h) => h.instanceId));
            // The model: once open, open while any flag stays within the window; closed, open
            // when more than `limit` distinct instances were flagged within it.
            const wasOpen: boolean = modelOpen;
            const cleared: boolean = wasOpen && prior.size === 0;
            modelOpen = wasOpen && !cleared ? true : flagged.size > limit;
            const d = evaluateCircuit(
              state,
              now,
              { windowSeconds, limit },
              { instanceId, cause: 'health', at: now.toISOString() },
            );
            const where = `at +${t}s (${instanceId}), window ${windowSeconds}s, limit ${limit}`;
            expect(d.open, where).toBe(modelOpen);
            expect(d.opened, where).toBe(modelOpen && (!wasOpen || cleared));
            expect(d.closed, where).toBe(cleared);
            expect(new Set(d.evidence.map((f) => f.instanceId)), where).toEqual(flagged);
            expect(flagsInWindow(d.state, now, windowSeconds)).toHaveLength(d.state.flags.length);
            state = d.state;
          }
        },
      ),
      params(300),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Image ordering, validation and supersede.
// ---------------------------------------------------------------------------------------------

const isoDate = fc
  .integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2030, 0, 1) })
  // Whole minutes: ties are frequent enough to be exercised.
  .map((ms) => new Date(ms - (ms % 60_000)).toISOString());

const image = (imageId: string, creationDate: string | undefined): ImagePolicyFacts => ({
  imageId,
  state: 'available',
  ownerId: '111122223333',
  architecture: 'x86_64',
  virtualizationType: 'hvm',
  ...(creationDate !== undefined ? { creationDate } : {}),
});
const NOW = new Date(Date.UTC(2031, 0, 1));
const replaces = (a: ImagePolicyFacts, b: ImagePolicyFacts) =>
  imageViolation({ image: a, current: b, allowedOwners: ['111122223333'], now: NOW }) === undefined;

describe('image ordering (isNewerImage, imageViolation)', () => {
  it('isNewerImage is a strict order consistent with CreationDate; unknown or invalid dates are never newer', () => {
    const date = fc.oneof(
      { weight: 8, arbitrary: isoDate },
      fc.constant(undefined),
      fc.constant('not-a-date'),
    );
    fc.assert(
      fc.property(date, date, date, (a, b, c) => {
        expect(isNewerImage(a, a)).toBe(false);
        if (isNewerImage(a, b)) expect(isNewerImage(b, a)).toBe(false);
        if (isNewerImage(a, b) && isNewerImage(b, c)) expect(isNewerImage(a, c)).toBe(true);
        const ta = a === undefined ? NaN : Date.parse(a);
        const tb = b === undefined ? NaN : Date.parse(b);
        expect(isNewerImage(a, b)).toBe(Number.isFinite(ta) && Number.isFinite(tb) && ta > tb);
      }),
      params(300),
    );
  });

  it('of two images, only the strictly newer one may replace the other; a tie replaces neither', () => {
    fc.assert(
      fc.property(isoDate, isoDate, (da, db) => {
        const a = image('ami-0000000000000000a', da);
        const b = image('ami-0000000000000000b', db);
        expect(replaces(a, b)).toBe(isNewerImage(da, db));
        expect(replaces(b, a)).toBe(isNewerImage(db, da));
        if (da === db) expect([replaces(a, b), replaces(b, a)]).toEqual([false, false]);
        // The fleet's own image is never a violation of itself (a repeated publication is a no-op).
        expect(replaces(a, a)).toBe(true);
      }),
      params(300),
    );
  });

  it('supersede keeps the newest: whatever the arrival order, the fleet ends on the newest image', () => {
    fc.assert(
      fc.property(
        fc
          .uniqueArray(isoDate, { minLength: 1, maxLength: 8 })
          .chain((dates) =>
            fc.tuple(fc.constant(dates), fc.shuffledSubarray(dates, { minLength: dates.length })),
          ),
        fc.array(fc.nat(), { maxLength: 6 }),
        ([dates, arrival], duplicates) => {
          const images = dates.map((d, k) => image(`ami-${String(k).padStart(17, '0')}`, d));
          const byDate = new Map(images.map((i) => [i.creationDate!, i]));
          // Duplicated deliveries re-arrive late, anywhere in the stream.
          const stream = [...arrival, ...duplicates.map((n) => arrival[n % arrival.length]!)].map((d) =>
            byDate.get(d)!,
          );
          let desired = image('ami-0000000000000000f', '2019-12-31T00:00:00.000Z');
          for (const published of stream) {
            if (published.imageId !== desired.imageId && replaces(published, desired)) desired = published;
          }
          const newest = [...images].sort(
            (x, y) => Date.parse(y.creationDate!) - Date.parse(x.creationDate!),
          )[0]!;
          expect(desired.imageId).toBe(newest.imageId);
        },
      ),
      params(200),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Reconcile: the differences of a fleet.
// ---------------------------------------------------------------------------------------------

describe('reconcile (fleetDifferences)', () => {
  const LT_CREATED = Date.UTC(2026, 5, 1);
  const observed = fc.record({
    lifecycleState: fc.constantFrom('InService', 'Pending', 'Terminating', 'Standby'),
    imageId: fc.option(fc.constantFrom(OLD, NEW), { nil: undefined }),
    tainted: fc.option(fc.constantFrom('health', 'drift', 'weird'), { nil: undefined }),
    launchedOffset: fc.option(fc.integer({ min: -3600, max: 3600 }), { nil: undefined }),
  });

  it('never names a healthy current instance, names each instance at most once, leaves a rolling fleet to its rollout', () => {
    fc.assert(
      fc.property(
        fc.array(observed, { maxLength: 12 }),
        fc.option(fc.constantFrom(OLD, NEW), { nil: undefined }),
        fc.boolean(),
        fc.boolean(),
        (specs, desiredImage, rolling, desiredImageExists) => {
          const now = new Date(LT_CREATED + 7200_000);
          const instances = specs.map((s, k) => ({
            instanceId: `i-${String(k).padStart(2, '0')}`,
            groupName: 'web-asg',
            lifecycleState: s.lifecycleState,
            ...(s.imageId !== undefined ? { imageId: s.imageId } : {}),
            ...(s.tainted !== undefined ? { tainted: s.tainted } : {}),
            ...(s.launchedOffset !== undefined
              ? { launchTime: new Date(LT_CREATED + s.launchedOffset * 1000).toISOString() }
              : {}),
            groupLaunchTemplate: { id: 'lt-1', version: '3', createdAt: new Date(LT_CREATED).toISOString() },
          }));
          const differences = fleetDifferences(
            {
              fleet: 'web',
              record: {
                fleet: 'web',
                ...(desiredImage !== undefined ? { desiredImage } : {}),
                ...(rolling
                  ? {
                      activeRollout: {
                        execution: 'x',
                        imageId: NEW,
                        startedAt: now.toISOString(),
                        expiresAt: now.getTime() / 1000 + 60,
                      },
                    }
                  : {}),
              },
              instances,
              ...(desiredImage !== undefined ? { desiredImageExists } : {}),
            },
            now,
          );
          const named = differences.flatMap((d) => ('instanceId' in d ? [d.instanceId] : []));
          expect(new Set(named).size).toBe(named.length);
          for (const i of instances) {
            const difference = differences.find((d) => 'instanceId' in d && d.instanceId === i.instanceId);
            const current =
              (desiredImage === undefined || i.imageId === desiredImage) &&
              (i.launchTime === undefined ||
                Date.parse(i.launchTime) + LAUNCH_TEMPLATE_CLOCK_TOLERANCE_SECONDS * 1000 >= LT_CREATED);
            if (i.lifecycleState !== 'InService') expect(difference).toBeUndefined();
            else if (i.tainted !== undefined) expect(difference?.kind).toBe('tainted');
            else if (current || rolling) expect(difference).toBeUndefined();
            else expect(difference).toBeDefined();
          }
          expect(differences.some((d) => d.kind === 'desired-image-missing')).toBe(
            desiredImage !== undefined && !desiredImageExists,
          );
        },
      ),
      params(300),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Regressions: the failures these properties found, replayed (seed 20261201, the default).
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// Check pacing (lambdas/domain/pacing.ts): a poll loop driven by nextPace and countedChecks the
// way CheckBatchHealth and ReplaceInstance drive it, against a world that is never ready.
// ---------------------------------------------------------------------------------------------

describe('check pacing (nextPace, countedChecks)', () => {
  it('a loop that never gets ready gets all its checks at the poll interval, at most fastChecks more, each wait between 1 s and the poll', () => {
    fc.assert(
      fc.property(
        fc.record({
          pollSeconds: fc.integer({ min: 1, max: 120 }),
          fastChecks: fc.integer({ min: 0, max: 20 }),
          maxChecks: fc.integer({ min: 1, max: 60 }),
          // What each check sees: the health-check interval while warming, else undefined.
          seen: fc.array(fc.option(fc.integer({ min: 1, max: 300 }), { nil: undefined }), {
            minLength: 1,
            maxLength: 30,
          }),
        }),
        ({ pollSeconds, fastChecks, maxChecks, seen }) => {
          const pacing = { pollSeconds, fastChecks };
          let pace: Pace | undefined;
          let checks = 0;
          let waited = 0;
          let fastWaits = 0;
          for (;;) {
            checks += 1;
            if (countedChecks(checks, pace) >= maxChecks) break;
            pace = nextPace(pacing, pace, seen[(checks - 1) % seen.length]);
            expect(pace.nextCheckSeconds).toBeGreaterThanOrEqual(1);
            expect(pace.nextCheckSeconds).toBeLessThanOrEqual(pollSeconds);
            if (pace.nextCheckSeconds < pollSeconds) fastWaits += 1;
            waited += pace.nextCheckSeconds;
            expect(checks).toBeLessThanOrEqual(maxChecks + fastChecks);
          }
          expect(fastWaits).toBeLessThanOrEqual(fastChecks);
          expect(pace?.fastChecks ?? 0).toBe(fastWaits);
          // Every check at the poll interval is still there: the time bound only grows.
          expect(checks).toBe(maxChecks + fastWaits);
          expect(waited).toBeGreaterThanOrEqual((maxChecks - 1) * pollSeconds);
          expect(waited).toBeLessThanOrEqual((maxChecks - 1) * pollSeconds + fastWaits * (pollSeconds - 1));
        },
      ),
      params(300),
    );
  });

  it('is fast only while warming, within half the health-check interval, never for an interval as long as the poll', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 120 }),
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 10 }),
        (pollSeconds, interval, fastChecks) => {
          const pacing = { pollSeconds, fastChecks };
          expect(nextPace(pacing, undefined, undefined).nextCheckSeconds).toBe(pollSeconds);
          const warming = nextPace(pacing, undefined, interval);
          const half = Math.max(1, Math.ceil(interval / 2));
          expect(warming.nextCheckSeconds).toBe(half < pollSeconds ? half : pollSeconds);
          expect(warming.healthCheckIntervalSeconds).toBe(interval);
          expect(fastCheckSeconds(pollSeconds, interval)).toBe(half < pollSeconds ? half : undefined);
        },
      ),
      params(300),
    );
  });
});

describe('regressions found by the properties above', () => {
  it('retires no serving old instance that would take serving below the floor (seed 20261201, path "54:9:1:2:0:2:3:4:3:4:5")', () => {
    // Shrunk counterexample: 9 instances, batches of 1, floor 89 % (9); an old instance dies
    // during a batch and the replacement the group launches is still Pending at RetireBatch.
    const r = simulateRolling({
      desired: 9,
      surge: { kind: 'count', value: 1 },
      minHealthyPercent: 89,
      unhealthyOld: [],
      deaths: [true],
      boots: [0, 1],
    });
    expect(r.outcome).toBe('done');
    // The same moment, as RetireBatch sees it: serving 9 = the floor; retiring the old one left 8.
    const t = new Date(Date.UTC(2026, 0, 1));
    const fleet: FleetInstance[] = [
      ...Array.from({ length: 8 }, (_, k) => ({
        instanceId: `i-new-${k}`,
        imageId: NEW,
        lifecycleState: 'InService',
        healthStatus: 'Healthy',
        launchTime: t,
      })),
      {
        instanceId: 'i-new-pending',
        imageId: NEW,
        lifecycleState: 'Pending',
        healthStatus: 'Healthy',
        launchTime: t,
      },
      {
        instanceId: 'i-old',
        imageId: OLD,
        lifecycleState: 'InService',
        healthStatus: 'Healthy',
        launchTime: t,
      },
    ];
    expect(instancesToRetire(fleet, NEW, 9, 9)).toEqual([]);
    expect(instancesToRetire(fleet, NEW, 9, 8).map((i) => i.instanceId)).toEqual(['i-old']);
  });

  it('counts an instance flagged again within the window (seed 20261201, circuit breaker)', () => {
    // Shrunk counterexample: window 245 s, limit 1; i-0 flagged at 0 s and again at 1 s, i-1 at
    // 245 s: two instances were flagged within the window (1 s and 245 s), more than the limit.
    const t0 = Date.UTC(2026, 0, 1);
    const flag = (instanceId: string, s: number) => ({
      instanceId,
      cause: 'health',
      at: new Date(t0 + s * 1000).toISOString(),
    });
    const settings = { windowSeconds: 245, limit: 1 };
    let state = evaluateCircuit(undefined, new Date(t0), settings, flag('i-0', 0)).state;
    state = evaluateCircuit(state, new Date(t0 + 1000), settings, flag('i-0', 1)).state;
    const d = evaluateCircuit(state, new Date(t0 + 245_000), settings, flag('i-1', 245));
    expect(d).toMatchObject({ open: true, opened: true });
    expect(d.evidence.map((f) => f.instanceId)).toEqual(['i-0', 'i-1']);
  });
});
