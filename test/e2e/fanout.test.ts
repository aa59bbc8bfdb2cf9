/**
 * The fan-out limit end to end (`maxConcurrentRollouts: 2` on the synthesized stack): one image on a
 * channel that 5 fleets follow rolls them all, never more than 2 at a time; the others wait for a
 * slot (RolloutQueued, visible in `phoenix status`) and then roll.
 */
import { describe, expect, it } from 'vitest';
import { fleetStatus, renderStatus } from '../../cli/status';
import { applyTarget } from '../../cli/target';
import { readFleetRecord } from '../../lambdas/aws/store/fleet-records';
import { readRolloutSlots } from '../../lambdas/aws/store/rollout-slots';
import { DetailTypes } from '../../lambdas/domain/contract';
import { REGION, useLocalRuntime } from '../support/local-runtime';

const local = useLocalRuntime({ stackProps: { controlPlane: { maxConcurrentRollouts: 2 } } });

describe('maxConcurrentRollouts', () => {
  it('5 fleets following one channel with a limit of 2: at most 2 hold a slot at once, all 5 end succeeded', async () => {
    applyTarget({
      region: REGION,
      endpointUrl: local.runtime.endpoint,
      sfnEndpointUrl: local.runtime.stepFunctionsEndpoint,
      table: local.runtime.resources.tableName!,
      stateMachineArn: local.runtime.resources.stateMachineArn!,
    });
    const channel = 'fan';
    const fleets = ['fan1', 'fan2', 'fan3', 'fan4', 'fan5'];
    const imageA = await local.world.registerImage('fan-a', channel);
    const groups = [];
    for (const fleet of fleets) {
      groups.push(await local.world.createFleet({ fleet, channel, imageId: imageA, size: 2 }));
    }
    const imageB = await local.world.registerImage('fan-b', channel);

    const outcomes = fleets.map((fleet) =>
      local.outcomes.waitFor(
        (e) =>
          e.detail['fleet'] === fleet &&
          [
            DetailTypes.RolloutSucceeded,
            DetailTypes.RolloutRejected,
            DetailTypes.RolloutRolledBack,
            DetailTypes.RolloutFailed,
          ].includes(e.detailType as never),
        120_000,
      ),
    );
    let done = false;
    const all = Promise.all(outcomes).finally(() => {
      done = true;
    });
    await local.world.publishImage(local.busName, imageB);

    // Sample the slots (and the queue marks) while the rollouts run.
    let maxHeld = 0;
    let sawQueued = false;
    let statusShowedQueued = false;
    while (!done) {
      const { slots, inFlight } = await readRolloutSlots();
      expect(Object.keys(slots)).toHaveLength(inFlight);
      maxHeld = Math.max(maxHeld, inFlight);
      for (const fleet of fleets) {
        if ((await readFleetRecord(fleet))?.rolloutQueued === undefined) continue;
        sawQueued = true;
        if (!statusShowedQueued) {
          const status = await fleetStatus({ fleet });
          const queued = status.fleets[0]?.activeRollout?.queued;
          if (queued !== undefined) {
            expect(queued).toMatchObject({ limit: 2 });
            expect(renderStatus(status)).toContain('waiting for a rollout slot');
            statusShowedQueued = true;
          }
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const ended = await all;

    expect(ended.map((e) => e.detailType)).toEqual(Array(5).fill(DetailTypes.RolloutSucceeded));
    expect(maxHeld).toBeLessThanOrEqual(2);
    expect(maxHeld).toBe(2);
    expect(sawQueued).toBe(true);
    expect(statusShowedQueued).toBe(true);
    for (const groupName of groups) {
      const view = await local.world.viewFleet(groupName);
      expect(view.instances.filter((i) => i.lifecycleState === 'InService').map((i) => i.imageId)).toEqual([
        imageB,
        imageB,
      ]);
    }
    // The wait was announced: RolloutQueued once per rollout that had to wait, with the limit.
    const queuedEvents = local.outcomes.received.filter((e) => e.detailType === DetailTypes.RolloutQueued);
    expect(queuedEvents.length).toBeGreaterThanOrEqual(1);
    expect(new Set(queuedEvents.map((e) => e.detail['execution'])).size).toBe(queuedEvents.length);
    for (const e of queuedEvents) expect(e.detail).toMatchObject({ limit: 2, imageId: imageB });

    // Every slot was given back, no queue mark is left.
    expect(await readRolloutSlots()).toEqual({ slots: {}, inFlight: 0 });
    for (const fleet of fleets) expect((await readFleetRecord(fleet))?.rolloutQueued).toBeUndefined();
  });
});
