/**
 * End to end in the local runtime with the emulator's realism layer on (local/realism): instances
 * boot for 30 simulated seconds (Pending, then InService) and a broken image's instances never
 * become healthy. No mock anywhere: Phoenix's handlers and synthesized workflows run unchanged
 * against the emulator, and what they see is what the realism layer makes the APIs answer.
 *
 * - A rollout onto a broken image (the world's AMI tag `phoenix-world:broken=true`) is caught by
 *   Phoenix's batch health gate and ends `RolloutRolledBack`, the fleet back on its image at
 *   capacity, never serving fewer instances than its desired capacity.
 * - A rollout onto a good image waits out the boot (its new instances are seen Pending) and succeeds.
 *
 * Every wait is a bounded poll of a condition, never a sleep that races the workflow.
 */
import { DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { beforeAll, describe, expect, it } from 'vitest';
import { DetailTypes } from '../../lambdas/domain/contract';
import type { OutcomeEvent } from '../../local/outcomes';
import { type FleetView, worldClients } from '../../local/world';
import { REGION, useLocalRuntime } from '../support/local-runtime';

const TIME_SCALE = 0.01;
const local = useLocalRuntime({ timeScale: TIME_SCALE });

beforeAll(async () => {
  await local.world.configureRealism({ bootSeconds: 30, timeScale: TIME_SCALE });
});

const TERMINAL: readonly string[] = [
  DetailTypes.RolloutSucceeded,
  DetailTypes.RolloutRejected,
  DetailTypes.RolloutRolledBack,
  DetailTypes.RolloutFailed,
  DetailTypes.RolloutSuperseded,
  DetailTypes.RolloutPaused,
];

const rolloutEnd = (fleet: string, imageId: string, timeoutMs = 120_000): Promise<OutcomeEvent> =>
  local.outcomes.waitFor(
    (e) => e.detail['fleet'] === fleet && e.detail['imageId'] === imageId && TERMINAL.includes(e.detailType),
    timeoutMs,
  );

const serving = (view: FleetView) =>
  view.instances.filter((i) => i.lifecycleState === 'InService' && i.healthStatus === 'Healthy');

/** Sample the group every 20 ms until `until` settles; returns the samples. */
async function watchWhile(groupName: string, until: Promise<unknown>): Promise<FleetView[]> {
  let done = false;
  const ended = until.finally(() => {
    done = true;
  });
  ended.catch(() => undefined);
  const samples: FleetView[] = [];
  while (!done) {
    samples.push(await local.world.viewFleet(groupName));
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await ended;
  return samples;
}

/** A fleet of `size` on image A, booted (every instance InService and Healthy). */
async function bootedFleetOnA(fleet: string, size: number) {
  const imageA = await local.world.registerImage(`${fleet}-a`, fleet);
  const groupName = await local.world.createFleet({
    fleet,
    imageId: imageA,
    size,
    tags: { 'phoenix:max-surge': '1' },
  });
  const deadline = Date.now() + 30_000;
  while (serving(await local.world.viewFleet(groupName)).length < size) {
    if (Date.now() > deadline) throw new Error(`${groupName} did not boot in 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { imageA, groupName };
}

async function expectAtRestOn(groupName: string, size: number, imageId: string): Promise<void> {
  const group = (
    await worldClients({ endpoint: local.endpoint, region: REGION }).autoScaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] }),
    )
  ).AutoScalingGroups![0]!;
  expect({ desired: group.DesiredCapacity, min: group.MinSize, max: group.MaxSize }).toEqual({
    desired: size,
    min: size,
    max: size,
  });
  expect(group.SuspendedProcesses ?? []).toEqual([]);
  const view = await local.world.viewFleet(groupName);
  expect(view.instances.map((i) => [i.lifecycleState, i.healthStatus, i.imageId])).toEqual(
    Array(size).fill(['InService', 'Healthy', imageId]),
  );
}

describe('with boot time and broken images in the emulator', () => {
  it('rolls a rollout onto a broken image back: RolloutRolledBack, the fleet on A at capacity throughout', async () => {
    const fleet = 'realism-broken';
    const { imageA, groupName } = await bootedFleetOnA(fleet, 2);
    const imageB = await local.world.registerImage(`${fleet}-b`, fleet);
    await local.world.markImageBroken(imageB);
    const end = rolloutEnd(fleet, imageB);
    await local.world.publishImage(local.busName, imageB);
    const samples = await watchWhile(groupName, end);

    const outcome = await end;
    expect(outcome.detailType).toBe(DetailTypes.RolloutRolledBack);
    expect(outcome.detail['reason']).toMatch(/InService and healthy/);
    // Instances of B were launched and seen, and none of them ever served.
    const onB = samples.flatMap((s) => s.instances.filter((i) => i.imageId === imageB));
    expect(onB.length).toBeGreaterThan(0);
    expect(onB.filter((i) => i.lifecycleState === 'InService' && i.healthStatus === 'Healthy')).toEqual([]);
    expect(Math.min(...samples.map((s) => serving(s).length))).toBeGreaterThanOrEqual(2);
    await expectAtRestOn(groupName, 2, imageA);
  });

  it('waits out the boot of a good image: its instances are seen Pending, and the rollout succeeds', async () => {
    const fleet = 'realism-good';
    const { groupName } = await bootedFleetOnA(fleet, 2);
    const imageB = await local.world.registerImage(`${fleet}-b`, fleet);
    const end = rolloutEnd(fleet, imageB);
    await local.world.publishImage(local.busName, imageB);
    const samples = await watchWhile(groupName, end);

    expect((await end).detailType).toBe(DetailTypes.RolloutSucceeded);
    const onB = samples.flatMap((s) => s.instances.filter((i) => i.imageId === imageB));
    expect(onB.some((i) => i.lifecycleState === 'Pending')).toBe(true);
    expect(Math.min(...samples.map((s) => serving(s).length))).toBeGreaterThanOrEqual(2);
    await expectAtRestOn(groupName, 2, imageB);
  });
});
