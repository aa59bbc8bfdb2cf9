/**
 * Against the emulator's DynamoDB (the synthesized fleet table): the global rollout slots of the
 * fan-out limit (`maxConcurrentRollouts`), and the operator's holds on a fleet record (pause, pin).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { acquireLock, readFleetRecord } from '../../lambdas/aws/store/fleet-records';
import { recordOutcome } from '../../lambdas/aws/store/history';
import { pauseFleet, unpauseFleet, unpinFleet } from '../../lambdas/aws/store/holds';
import {
  acquireRolloutSlot,
  readRolloutSlots,
  releaseRolloutSlot,
  transferRolloutSlot,
} from '../../lambdas/aws/store/rollout-slots';
import { freshControlPlane } from '../support/control-plane';

beforeAll(async () => {
  await freshControlPlane();
});

const NOW = new Date('2026-11-27T06:00:00Z');
const EPOCH = Math.floor(NOW.getTime() / 1000);
const inAnHour = EPOCH + 3600;

async function slotsHeld(): Promise<string[]> {
  const { slots, inFlight } = await readRolloutSlots();
  expect(Object.keys(slots)).toHaveLength(inFlight);
  return Object.keys(slots).sort();
}

describe('global rollout slots', () => {
  it('five rollouts asking at once with a limit of 2: two hold a slot, three are queued; a release lets one more in', async () => {
    const executions = ['e1', 'e2', 'e3', 'e4', 'e5'];
    const results = await Promise.all(
      executions.map((execution) =>
        acquireRolloutSlot({ execution, limit: 2, expiresAt: inAnHour, now: NOW }),
      ),
    );
    const winners = executions.filter((_, i) => results[i]!.acquired);
    expect(winners).toHaveLength(2);
    expect(await slotsHeld()).toEqual([...winners].sort());

    // A retried step of a holder: still its slot, nothing more taken.
    const retried = await acquireRolloutSlot({
      execution: winners[0]!,
      limit: 2,
      expiresAt: inAnHour,
      now: NOW,
    });
    expect(retried.acquired).toBe(true);
    expect(await slotsHeld()).toHaveLength(2);

    // The waiting ones stay out while both are held.
    const waiting = executions.filter((e) => !winners.includes(e));
    for (const execution of waiting) {
      expect(
        (await acquireRolloutSlot({ execution, limit: 2, expiresAt: inAnHour, now: NOW })).acquired,
      ).toBe(false);
    }

    // Released (twice: idempotent), then one waiting rollout gets it.
    expect(await releaseRolloutSlot(winners[0]!, NOW)).toBe(true);
    expect(await releaseRolloutSlot(winners[0]!, NOW)).toBe(false);
    const next = await acquireRolloutSlot({
      execution: waiting[0]!,
      limit: 2,
      expiresAt: inAnHour,
      now: NOW,
    });
    expect(next).toMatchObject({ acquired: true, inFlight: 2 });
    expect(
      (await acquireRolloutSlot({ execution: waiting[1]!, limit: 2, expiresAt: inAnHour, now: NOW }))
        .acquired,
    ).toBe(false);

    // Continue-as-new: the continuation takes its predecessor's slot over; none is freed meanwhile.
    expect(
      await transferRolloutSlot({ from: waiting[0]!, to: `${waiting[0]!}-2`, expiresAt: inAnHour }),
    ).toBe(true);
    expect(
      await transferRolloutSlot({ from: waiting[0]!, to: `${waiting[0]!}-2`, expiresAt: inAnHour }),
    ).toBe(true);
    expect(await slotsHeld()).toEqual([winners[1]!, `${waiting[0]!}-2`].sort());

    for (const e of await slotsHeld()) await releaseRolloutSlot(e, NOW);
    expect(await slotsHeld()).toEqual([]);
  });

  it("a dead execution's slot (past its expiry) is reclaimed by the next rollout that finds none free", async () => {
    const expired = EPOCH - 1;
    expect(
      (await acquireRolloutSlot({ execution: 'dead', limit: 1, expiresAt: expired, now: NOW })).acquired,
    ).toBe(true);
    const next = await acquireRolloutSlot({ execution: 'alive', limit: 1, expiresAt: inAnHour, now: NOW });
    expect(next).toMatchObject({ acquired: true, reclaimed: ['dead'] });
    expect(await slotsHeld()).toEqual(['alive']);
    // A live slot is not reclaimed.
    expect(
      (await acquireRolloutSlot({ execution: 'third', limit: 1, expiresAt: inAnHour, now: NOW })).acquired,
    ).toBe(false);
  });

  it('recording the outcome of a rollout releases its slot with its fleet lock', async () => {
    const execution = 'alive';
    await acquireLock({
      fleet: 'slotted',
      channel: 'slotted',
      now: NOW,
      lock: {
        execution,
        imageId: 'ami-0123456789abcdef0',
        startedAt: NOW.toISOString(),
        expiresAt: inAnHour,
      },
    });
    await recordOutcome({
      fleet: 'slotted',
      execution,
      entry: {
        imageId: 'ami-0123456789abcdef0',
        outcome: 'rejected',
        at: NOW.toISOString(),
        execution,
        reason: 'x',
      },
      now: NOW,
    });
    expect(await slotsHeld()).toEqual([]);
    expect((await readFleetRecord('slotted'))?.activeRollout).toBeUndefined();
  });
});

describe('pause and pin on the fleet record', () => {
  it('pause creates the record if absent, keeps the first pause, blocks the fleet lock; unpause clears it', async () => {
    const first = await pauseFleet('held', { at: NOW.toISOString(), reason: 'incident 42' }, NOW);
    expect(first).toEqual({ paused: { at: NOW.toISOString(), reason: 'incident 42' }, already: false });
    const again = await pauseFleet('held', { at: new Date(0).toISOString(), reason: 'other' }, NOW);
    expect(again).toEqual({ paused: { at: NOW.toISOString(), reason: 'incident 42' }, already: true });
    expect(await readFleetRecord('held')).toMatchObject({
      fleet: 'held',
      paused: { at: NOW.toISOString(), reason: 'incident 42' },
    });

    const lock = {
      execution: 'held-1',
      imageId: 'ami-0123456789abcdef0',
      startedAt: NOW.toISOString(),
      expiresAt: inAnHour,
    };
    const refused = await acquireLock({ fleet: 'held', channel: 'held', now: NOW, lock });
    expect(refused).toMatchObject({
      acquired: false,
      paused: { at: NOW.toISOString(), reason: 'incident 42' },
    });

    expect(await unpauseFleet('held', NOW)).toEqual({ at: NOW.toISOString(), reason: 'incident 42' });
    expect(await unpauseFleet('held', NOW)).toBeUndefined();
    expect((await acquireLock({ fleet: 'held', channel: 'held', now: NOW, lock })).acquired).toBe(true);
  });

  it('a committed rollback pins the fleet; unpin releases the pin once', async () => {
    const pin = { imageId: 'ami-0aaaaaaaaaaaaaaaa', at: NOW.toISOString(), execution: 'pinned-rb' };
    await recordOutcome({
      fleet: 'pinned',
      execution: 'pinned-rb',
      entry: { imageId: pin.imageId, outcome: 'succeeded', at: NOW.toISOString(), execution: 'pinned-rb' },
      desiredImage: pin.imageId,
      pin,
      now: NOW,
    });
    expect(await readFleetRecord('pinned')).toMatchObject({ desiredImage: pin.imageId, pinnedImage: pin });
    expect(await unpinFleet('pinned', NOW)).toEqual(pin);
    expect(await unpinFleet('pinned', NOW)).toBeUndefined();
    expect((await readFleetRecord('pinned'))?.pinnedImage).toBeUndefined();
    // A fleet without a record is not created by an unpin.
    expect(await unpinFleet('nowhere', NOW)).toBeUndefined();
    expect(await readFleetRecord('nowhere')).toBeUndefined();
  });
});
