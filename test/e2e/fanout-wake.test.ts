/**
 * The queue for the global rollout slots end to end (`maxConcurrentRollouts: 1`): two fleets of one
 * channel, one image. The second rollout waits for the slot in WaitForRolloutSlot (the callback
 * pattern) and is woken when the first gives it back: it takes the slot within a few simulated
 * seconds of the release, not after the lock-wait interval (120 s) a plain Wait would cost.
 */
import { describe, expect, it } from 'vitest';
import { readRolloutSlots } from '../../lambdas/aws/store/rollout-slots';
import { DetailTypes } from '../../lambdas/domain/contract';
import { useLocalRuntime } from '../support/local-runtime';

const TIME_SCALE = 0.05;
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

    // Sample the slot's holder: when the first gives it back, and when the second takes it.
    let first: string | undefined;
    let released: number | undefined;
    let taken: number | undefined;
    while (!done && taken === undefined) {
      const holders = Object.keys((await readRolloutSlots()).slots);
      expect(holders.length).toBeLessThanOrEqual(1);
      const now = Date.now();
      if (first === undefined && holders.length === 1) first = holders[0];
      if (first !== undefined && released === undefined && !holders.includes(first)) released = now;
      if (released !== undefined && holders.length === 1 && holders[0] !== first) taken = now;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const ended = await all;
    expect(ended.map((e) => e.detailType)).toEqual([DetailTypes.RolloutSucceeded, DetailTypes.RolloutSucceeded]);
    expect(released).toBeDefined();
    expect(taken).toBeDefined();
    // In simulated seconds (real ms × timeScale / 1000): the wake-up's Lambda invocations run in
    // real time, a few simulated seconds; the plain wait would average 60 s (up to 120 s).
    const gap = ((taken! - released!) * TIME_SCALE) / 1000;
    expect(gap).toBeLessThan(10);

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
