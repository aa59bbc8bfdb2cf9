/**
 * End to end under injected faults: a rolling rollout of a small fleet with API faults (throttling,
 * 5xx, resets before and after the call took effect, timeouts, latency) on every handler's AWS
 * call and Lambda faults (crashes before and after the side effect, timeouts) on every invocation,
 * at a high rate, and events delivered twice or late (half of them), seeded. It must end RolloutSucceeded with every instance on the new image, or
 * RolloutRolledBack with the fleet intact on its previous image: never half-rolled, never a
 * group left with other limits or suspended processes. The seed is printed; the same seed replays
 * the same decisions per site.
 */
import {
  DescribeAutoScalingGroupsCommand,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DetailTypes } from '../../lambdas/domain/contract';
import { resetEmulator } from '../../local/emulator';
import { silentLogger } from '../../local/log';
import { listenToOutcomes, type OutcomeEvent, type OutcomeListener } from '../../local/outcomes';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';
import { World, worldClients } from '../../local/world';
import { entryOf, statusCheckAlarm } from '../support/replace-events';

const REGION = 'us-east-1';
const SEED = Number(process.env['PHOENIX_FAULTS_SEED'] ?? 7331);
const RATE = 0.25;
console.log(
  `faults e2e: seed ${SEED} (replay: PHOENIX_FAULTS_SEED=${SEED}), api and lambda faults at ${RATE}`,
);

let endpoint: string;
let runtime: LocalRuntime;
let world: World;
let outcomes: OutcomeListener;

beforeAll(async () => {
  endpoint = inject('emulatorEndpoint');
  await resetEmulator(endpoint);
  runtime = await startLocalRuntime({
    emulatorEndpoint: endpoint,
    region: REGION,
    timeScale: 0.01,
    fireSchedules: false,
    faults: { seed: SEED, api: RATE, lambda: RATE, eventDuplicate: 0.5, eventDelay: 0.5 },
    log: silentLogger,
  });
  world = new World({ endpoint, region: REGION });
  outcomes = await listenToOutcomes({
    endpoint,
    region: REGION,
    eventBusName: runtime.resources.eventBusName!,
  });
});

afterAll(async () => {
  console.log(`faults e2e: injected ${JSON.stringify(runtime?.faults?.injected)}`);
  await outcomes?.stop();
  await runtime?.stop();
});

const TERMINAL: readonly string[] = [
  DetailTypes.RolloutSucceeded,
  DetailTypes.RolloutRejected,
  DetailTypes.RolloutRolledBack,
  DetailTypes.RolloutFailed,
  DetailTypes.RolloutSuperseded,
  DetailTypes.RolloutPaused,
];

describe('a rolling rollout with API and Lambda faults at a high rate', () => {
  it('ends RolloutSucceeded on the new image, or RolloutRolledBack intact on the old one, never half-rolled', async () => {
    const fleet = 'faults-rolling';
    const size = 3;
    const imageA = await world.registerImage(`${fleet}-a`, fleet);
    const groupName = await world.createFleet({
      fleet,
      imageId: imageA,
      size,
      tags: { 'phoenix:max-surge': '1' },
    });
    const imageB = await world.registerImage(`${fleet}-b`, fleet);
    const end = outcomes.waitFor(
      (e: OutcomeEvent) =>
        e.detail['fleet'] === fleet && e.detail['imageId'] === imageB && TERMINAL.includes(e.detailType),
      240_000,
    );
    await world.publishImage(runtime.resources.eventBusName!, imageB);
    const outcome = await end;
    console.log(`faults e2e: ${outcome.detailType} ${JSON.stringify(outcome.detail['reason'] ?? '')}`);
    expect([DetailTypes.RolloutSucceeded, DetailTypes.RolloutRolledBack]).toContain(outcome.detailType);

    // At rest: the group as before, on one image: B if it succeeded, A if it rolled back.
    const expected = outcome.detailType === DetailTypes.RolloutSucceeded ? imageB : imageA;
    // Its execution ends (the outcome is its last word); nothing else runs.
    for (let i = 0; i < 600 && runtime.stepFunctions.runningCount > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(runtime.stepFunctions.runningCount).toBe(0);
    const group = (
      await worldClients({ endpoint, region: REGION }).autoScaling.send(
        new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] }),
      )
    ).AutoScalingGroups![0]!;
    expect({ desired: group.DesiredCapacity, min: group.MinSize, max: group.MaxSize }).toEqual({
      desired: size,
      min: size,
      max: size,
    });
    expect(group.SuspendedProcesses ?? []).toEqual([]);
    const view = await world.viewFleet(groupName);
    expect(view.instances.map((i) => [i.lifecycleState, i.healthStatus, i.imageId])).toEqual(
      Array(size).fill(['InService', 'Healthy', expected]),
    );
    expect(runtime.faults!.total).toBeGreaterThan(0);
  }, 300_000);
});

describe('a replacement with API and Lambda faults at a high rate', () => {
  it('ends InstanceReplaced with the fleet at capacity on its image, or ReplacementFailed with it intact', async () => {
    const fleet = 'faults-replace';
    const image = await world.registerImage(`${fleet}-a`, fleet);
    const groupName = await world.createFleet({ fleet, imageId: image, size: 2 });
    // Room for one more: replacements surge first.
    await worldClients({ endpoint, region: REGION }).autoScaling.send(
      new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: groupName, MaxSize: 3 }),
    );
    const target = (await world.viewFleet(groupName)).instances[0]!.instanceId;
    const end = outcomes.waitFor(
      (e: OutcomeEvent) =>
        e.detail['instanceId'] === target &&
        [
          DetailTypes.InstanceReplaced,
          DetailTypes.ReplacementFailed,
          DetailTypes.ReplacementSkipped,
        ].includes(e.detailType as never),
      240_000,
    );
    await world.putRaw(entryOf(statusCheckAlarm(target)));
    const outcome = await end;
    console.log(`faults e2e: ${outcome.detailType} ${JSON.stringify(outcome.detail['reason'] ?? '')}`);
    expect([DetailTypes.InstanceReplaced, DetailTypes.ReplacementFailed]).toContain(outcome.detailType);
    for (let i = 0; i < 600 && runtime.stepFunctions.runningCount > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(runtime.stepFunctions.runningCount).toBe(0);
    const view = await world.viewFleet(groupName);
    expect(view.desiredCapacity).toBe(2);
    const present = view.instances.filter((i) => i.lifecycleState === 'InService');
    expect(present.map((i) => [i.healthStatus, i.imageId])).toEqual([
      ['Healthy', image],
      ['Healthy', image],
    ]);
    // Replaced: the target is gone. Failed: the fleet is intact (the target may still serve).
    if (outcome.detailType === DetailTypes.InstanceReplaced) {
      expect(present.map((i) => i.instanceId)).not.toContain(target);
    }
  }, 300_000);
});
