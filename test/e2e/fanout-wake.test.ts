/**
 * The queue for the global rollout slots end to end (`maxConcurrentRollouts: 1`): two fleets of one
 * channel, one image. The second rollout waits for the slot in WaitForRolloutSlot (the callback
 * pattern) and is woken when the first gives it back: it takes the slot within a few simulated
 * seconds of the release, not after the lock-wait interval (120 s) a plain Wait would cost.
 */
import { describe, expect, it } from 'vitest';
import { readRolloutSlots, readSlotQueue } from '../../lambdas/aws/store/rollout-slots';
import { DetailTypes } from '../../lambdas/domain/contract';
import { useLocalRuntime } from '../support/local-runtime';

const TIME_SCALE = 0.1;
const local = useLocalRuntime({
  timeScale: TIME_SCALE,
  stackProps: { controlPlane: { maxConcurrentRollouts: 1 } },
});

/** The names of the states an execution entered, in order. */
const entered = (events: readonly { type: string; [k: string]: unknown }[]) =>
  events
    .filter((e) => e.type.endsWith('StateEntered'))
    .map((e) => (e as { stateEnteredEventDetails?: { name?: string } }).stateEnteredEventDetails?.name);

describe('maxConcurrentRollouts: 1, the waiting rollout woken by the release', () => {
  it('the second rollout takes the slot within a few simulated seconds of the first giving it back', async () => {
    const channel = 'wake';
    const fleets = ['wake1', 'wake2'];
    const imageA = await local.world.registerImage('wake-a', channel);
    for (const fleet of fleets) await local.world.createFleet({ fleet, channel, imageId: imageA, size: 1 });
    const imageB = await local.world.registerImage('wake-b', channel);
    const ends = fleets.map((fleet) => local.executionEnd(fleet, 240_000));
    const outcomes = fleets.map((fleet) =>
      local.outcomes.waitFor(
        (e) =>
          e.detail['fleet'] === fleet &&
          [DetailTypes.RolloutSucceeded, DetailTypes.RolloutRejected, DetailTypes.RolloutFailed].includes(
            e.detailType as never,
          ),
        240_000,
      ),
    );
    let done = false;
    const all = Promise.all(outcomes).finally(() => {
      done = true;
    });
    await local.world.publishImage(local.busName, imageB);

    // Sample the slot's holder: when the first gives it back, and when the second's AcquireFleetLock
    // has taken it (a slot granted to a woken waiter counts once the waiter claimed it).
    let first: string | undefined;
    let released: number | undefined;
    let taken: number | undefined;
    while (!done && taken === undefined) {
      const queue = await readSlotQueue();
      const holders = Object.keys(queue.slots);
      expect(holders.length).toBeLessThanOrEqual(1);
      const now = Date.now();
      if (first === undefined && holders.length === 1) first = holders[0];
      if (first !== undefined && released === undefined && !holders.includes(first)) released = now;
      const second = holders.find((h) => h !== first);
      if (released !== undefined && second !== undefined && queue.granted[second] === undefined) taken = now;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const ended = await all;
    expect(ended.map((e) => e.detailType)).toEqual([
      DetailTypes.RolloutSucceeded,
      DetailTypes.RolloutSucceeded,
    ]);
    expect(released).toBeDefined();
    expect(taken).toBeDefined();
    // In simulated seconds (real seconds ÷ timeScale): the wake-up's Lambda invocations and their
    // DynamoDB calls run in real time (~0.3 s here: 3 simulated s); the plain wait would average
    // 60 s (up to 120 s). The bound leaves room for a loaded machine.
    const gap = (taken! - released!) / 1000 / TIME_SCALE;
    console.info(`slot given back → claimed by the waiting rollout: ${gap.toFixed(1)} simulated s`);
    expect(gap).toBeLessThan(20);

    // The waiting execution went through WaitForRolloutSlot, and its last wait was woken (not
    // timed out): as many timeouts as waits before it.
    const records = await Promise.all(ends);
    const waiter = records.find((r) => entered(r.events).includes('WaitForRolloutSlot'));
    expect(waiter).toBeDefined();
    const waits = entered(waiter!.events).filter((n) => n === 'WaitForRolloutSlot').length;
    const timedOut = waiter!.events.filter((e) => e.type === 'TaskTimedOut').length;
    expect(waits).toBeGreaterThanOrEqual(1);
    expect(timedOut).toBe(waits - 1);
    expect(entered(waiter!.events)).not.toContain('WaitForFleetLock');
    expect(await readRolloutSlots()).toEqual({ slots: {}, inFlight: 0 });
  }, 300_000);
});
