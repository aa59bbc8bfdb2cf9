/**
 * End to end in the local runtime: the Rollout workflow's failure points, each on its own fleet, run
 * by the synthesized workflow and the real handlers against the emulator. Each case watches the
 * fleet's group while the rollout runs (the fleet must never serve fewer instances than its desired
 * capacity) and ends by asserting, through the emulator's Auto Scaling and EC2 APIs, that the fleet
 * is entirely on one image (the old one after a rollback or a rejection, the newest after a
 * success), its desired/min/max capacity as at the start, its scaling processes resumed, and the
 * launch template version the group uses launches that image.
 *
 * Cases: a gate failure in the first batch and in a later batch, an alarm during the bake, a
 * superseding image, a late older image, and images in a disallowed state (deregistered, disabled).
 * The blue-green strategy's alarm failure is covered in test/e2e/blue-green.test.ts.
 *
 * Not here: transient API errors (throttling, 5xx). The emulator cannot be made to answer with them
 * on demand, and faking AWS here would defeat the point of this file; the retries are covered by the
 * workflow tests (test/workflows, scripted step doubles) and the aws-sdk-client-mock tests of the
 * SDK layer.
 *
 * Warm-up and bake are Wait states scaled by the runtime's time scale (0.01: 300 simulated seconds
 * are 3 s), which gives each case a window in which to set an alarm at the point it aims for. Every
 * wait in this file is a bounded poll of a condition, never a sleep that races the workflow.
 */
import { DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import {
  DeregisterImageCommand,
  DescribeLaunchTemplateVersionsCommand,
  DisableImageCommand,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { readFleetRecord } from '../../lambdas/aws/store/fleet-records';
import { DetailTypes } from '../../lambdas/domain/contract';
import type { OutcomeEvent } from '../../local/outcomes';
import { type FleetView, worldClients } from '../../local/world';
import { REGION, useLocalRuntime } from '../support/local-runtime';

const local = useLocalRuntime();
const clients = () => worldClients({ endpoint: local.endpoint, region: REGION });

/** The outcomes that end a rollout of one image (a superseded or paused rollout stops cleanly). */
const TERMINAL: readonly string[] = [
  DetailTypes.RolloutSucceeded,
  DetailTypes.RolloutRejected,
  DetailTypes.RolloutRolledBack,
  DetailTypes.RolloutFailed,
  DetailTypes.RolloutSuperseded,
  DetailTypes.RolloutPaused,
];

/**
 * How the rollout of `imageId` onto `fleet` ends. Filtered by fleet and image: the listener also
 * matches events received before the call (a rollout of the same fleet onto another image).
 */
const rolloutEnd = (fleet: string, imageId: string, timeoutMs = 90_000): Promise<OutcomeEvent> =>
  local.outcomes.waitFor(
    (e) => e.detail['fleet'] === fleet && e.detail['imageId'] === imageId && TERMINAL.includes(e.detailType),
    timeoutMs,
  );

const serving = (view: FleetView) =>
  view.instances.filter((i) => i.lifecycleState === 'InService' && i.healthStatus !== 'Unhealthy');

interface Sample {
  readonly view: FleetView;
  /** InService and not Unhealthy. */
  readonly serving: number;
}

/**
 * Sample the group every 20 ms until `until` settles (it is bounded: an outcome wait rejects after
 * its timeout); `onSample` may act on what it sees (set an alarm, publish an image). Returns the
 * samples; rejects as `until` does.
 */
async function watchWhile(
  groupName: string,
  until: Promise<unknown>,
  onSample: (view: FleetView) => Promise<void> | void = () => undefined,
): Promise<Sample[]> {
  let done = false;
  const ended = until.finally(() => {
    done = true;
  });
  ended.catch(() => undefined);
  const samples: Sample[] = [];
  while (!done) {
    const view = await local.world.viewFleet(groupName);
    samples.push({ view, serving: serving(view).length });
    await onSample(view);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await ended;
  return samples;
}

/**
 * The fleet at rest: `size` instances, all InService on `imageId`; desired, min and max as the
 * group was created (min = max = desired = size); no scaling process left suspended; the group's
 * launch template version launches `imageId`; the fleet record holds no rollout. And while it ran
 * (`samples`), never fewer serving instances than `size`.
 */
async function expectFleetAtRest(args: {
  fleet: string;
  groupName: string;
  size: number;
  imageId: string;
  samples: readonly Sample[];
}): Promise<FleetView> {
  const { autoScaling, ec2 } = clients();
  const group = (
    await autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [args.groupName] }))
  ).AutoScalingGroups![0]!;
  expect({ desired: group.DesiredCapacity, min: group.MinSize, max: group.MaxSize }).toEqual({
    desired: args.size,
    min: args.size,
    max: args.size,
  });
  expect(group.SuspendedProcesses ?? []).toEqual([]);

  const view = await local.world.viewFleet(args.groupName);
  expect(view.instances).toHaveLength(args.size);
  expect(view.instances.map((i) => [i.lifecycleState, i.imageId])).toEqual(
    Array(args.size).fill(['InService', args.imageId]),
  );

  const template = group.LaunchTemplate!;
  const versions = await ec2.send(
    new DescribeLaunchTemplateVersionsCommand({
      LaunchTemplateId: template.LaunchTemplateId!,
      Versions: [template.Version!],
    }),
  );
  expect(versions.LaunchTemplateVersions?.map((v) => v.LaunchTemplateData?.ImageId)).toEqual([args.imageId]);

  expect(args.samples.length).toBeGreaterThan(0);
  expect(Math.min(...args.samples.map((s) => s.serving))).toBeGreaterThanOrEqual(args.size);
  expect((await readFleetRecord(args.fleet))?.activeRollout).toBeUndefined();
  return view;
}

/** A fleet of `size` on a fresh image A (in the fleet's channel), with its settings tags. */
async function fleetOnA(fleet: string, size: number, tags: Record<string, string>) {
  const imageA = await local.world.registerImage(`${fleet}-a`, fleet);
  const groupName = await local.world.createFleet({ fleet, imageId: imageA, size, tags });
  const originalIds = (await local.world.viewFleet(groupName)).instances.map((i) => i.instanceId);
  expect(originalIds).toHaveLength(size);
  return { imageA, groupName, originalIds };
}

describe('a gating alarm rolls a rolling rollout back, wherever it goes off', () => {
  it('in the FIRST batch: RolloutRolledBack at CheckAlarmsAfterBatch, no old instance retired, the fleet on A at capacity', async () => {
    const fleet = 'gate-first';
    const alarm = `${fleet}-5xx`;
    await local.world.createAlarm(alarm);
    // Warm-up 300 s (3 s at the time scale): the alarm is set before the first batch's check.
    const { imageA, groupName, originalIds } = await fleetOnA(fleet, 4, {
      'phoenix:max-surge': '1',
      'phoenix:warmup-seconds': '300',
      'phoenix:alarms': alarm,
    });
    const imageB = await local.world.registerImage(`${fleet}-b`, fleet);
    const end = rolloutEnd(fleet, imageB);
    await local.world.publishImage(local.busName, imageB);

    let alarmSet = false;
    const samples = await watchWhile(groupName, end, async (view) => {
      if (!alarmSet && serving(view).some((i) => i.imageId === imageB)) {
        alarmSet = true;
        await local.world.setAlarmState(alarm, 'ALARM');
      }
    });
    expect(alarmSet).toBe(true);

    const outcome = await end;
    expect(outcome.detailType).toBe(DetailTypes.RolloutRolledBack);
    expect(outcome.detail['reason']).toContain(`alarm ${alarm} is in ALARM`);
    expect(outcome.detail['step']).toBe('CheckAlarmsAfterBatch');
    // The first batch: every old instance was there all along, and never more than one new one.
    for (const s of samples) {
      expect(s.view.instances.map((i) => i.instanceId)).toEqual(expect.arrayContaining(originalIds));
      expect(s.view.instances.filter((i) => i.imageId === imageB).length).toBeLessThanOrEqual(1);
    }

    await expectFleetAtRest({ fleet, groupName, size: 4, imageId: imageA, samples });
  });

  it('in a LATER batch (after an old instance was retired): RolloutRolledBack, the fleet back on A at capacity', async () => {
    const fleet = 'gate-later';
    const alarm = `${fleet}-5xx`;
    await local.world.createAlarm(alarm);
    const { imageA, groupName, originalIds } = await fleetOnA(fleet, 4, {
      'phoenix:max-surge': '1',
      'phoenix:warmup-seconds': '300',
      'phoenix:alarms': alarm,
    });
    const imageB = await local.world.registerImage(`${fleet}-b`, fleet);
    const end = rolloutEnd(fleet, imageB);
    await local.world.publishImage(local.busName, imageB);

    let alarmSet = false;
    const samples = await watchWhile(groupName, end, async (view) => {
      const ids = view.instances.map((i) => i.instanceId);
      if (!alarmSet && originalIds.some((id) => !ids.includes(id))) {
        alarmSet = true;
        await local.world.setAlarmState(alarm, 'ALARM');
      }
    });
    expect(alarmSet).toBe(true);

    const outcome = await end;
    expect(outcome.detailType).toBe(DetailTypes.RolloutRolledBack);
    expect(outcome.detail['reason']).toContain(`alarm ${alarm} is in ALARM`);
    expect(outcome.detail['step']).toBe('CheckAlarmsAfterBatch');
    // The first batch went through: a new instance served while an old one was already gone.
    expect(
      samples.some(
        (s) =>
          serving(s.view).some((i) => i.imageId === imageB) &&
          originalIds.some((id) => !s.view.instances.some((i) => i.instanceId === id)),
      ),
    ).toBe(true);

    await expectFleetAtRest({ fleet, groupName, size: 4, imageId: imageA, samples });
  });

  it('during the BAKE (every instance already on B): RolloutRolledBack at CheckAlarmsAfterBake, the fleet back on A', async () => {
    const fleet = 'gate-bake';
    const alarm = `${fleet}-5xx`;
    await local.world.createAlarm(alarm);
    // Bake 600 s (6 s at the time scale); no warm-up, two batches of 2.
    const { imageA, groupName } = await fleetOnA(fleet, 4, {
      'phoenix:max-surge': '50%',
      'phoenix:bake-seconds': '600',
      'phoenix:alarms': alarm,
    });
    const imageB = await local.world.registerImage(`${fleet}-b`, fleet);
    const end = rolloutEnd(fleet, imageB);
    await local.world.publishImage(local.busName, imageB);

    let alarmSet = false;
    const samples = await watchWhile(groupName, end, async (view) => {
      if (
        !alarmSet &&
        view.instances.length === 4 &&
        view.instances.every((i) => i.imageId === imageB && i.lifecycleState === 'InService')
      ) {
        alarmSet = true;
        await local.world.setAlarmState(alarm, 'ALARM');
      }
    });
    expect(alarmSet).toBe(true);

    const outcome = await end;
    expect(outcome.detailType).toBe(DetailTypes.RolloutRolledBack);
    expect(outcome.detail['reason']).toContain(`alarm ${alarm} is in ALARM`);
    expect(outcome.detail['step']).toBe('CheckAlarmsAfterBake');

    await expectFleetAtRest({ fleet, groupName, size: 4, imageId: imageA, samples });
  });
});

describe('the newest image wins', () => {
  it('a newer image C published while B rolls: RolloutSuperseded for B (by C), RolloutSucceeded for C, the fleet entirely on C', async () => {
    const fleet = 'supersede';
    // Warm-up 300 s (3 s at the time scale) per batch of 1: B is mid-way when C arrives.
    const { imageA, groupName } = await fleetOnA(fleet, 6, {
      'phoenix:max-surge': '1',
      'phoenix:warmup-seconds': '300',
    });
    const imageB = await local.world.registerImage(`${fleet}-b`, fleet);
    const imageC = await local.world.registerImage(`${fleet}-c`, fleet);
    const endB = rolloutEnd(fleet, imageB);
    const endC = rolloutEnd(fleet, imageC);
    await local.world.publishImage(local.busName, imageB);

    let published = false;
    const samples = await watchWhile(groupName, Promise.all([endB, endC]), async (view) => {
      if (!published && serving(view).some((i) => i.imageId === imageB)) {
        published = true;
        await local.world.publishImage(local.busName, imageC);
      }
    });
    expect(published).toBe(true);

    const [outcomeB, outcomeC] = await Promise.all([endB, endC]);
    expect(outcomeB.detailType).toBe(DetailTypes.RolloutSuperseded);
    expect(outcomeB.detail['supersededBy']).toBe(imageC);
    expect(outcomeC.detailType).toBe(DetailTypes.RolloutSucceeded);
    expect(
      local.outcomes.received.some(
        (e) =>
          e.detailType === DetailTypes.RolloutSucceeded &&
          e.detail['fleet'] === fleet &&
          e.detail['imageId'] === imageB,
      ),
    ).toBe(false);
    // B was stopped mid-way: the fleet was seen on A and B at once, and never on B alone.
    const imagesSeen = samples.map((s) => new Set(serving(s.view).map((i) => i.imageId)));
    expect(imagesSeen.some((seen) => seen.has(imageA) && seen.has(imageB))).toBe(true);
    expect(imagesSeen.some((seen) => seen.size === 1 && seen.has(imageB))).toBe(false);

    await expectFleetAtRest({ fleet, groupName, size: 6, imageId: imageC, samples });
    expect((await readFleetRecord(fleet))?.desiredImage).toBe(imageC);
  });

  it('a late OLDER image, published after the fleet is on a newer one: RolloutRejected (not newer), the fleet unchanged', async () => {
    const fleet = 'late';
    const { groupName } = await fleetOnA(fleet, 4, { 'phoenix:max-surge': '25%' });
    // X is created before B: its publication arriving after B's rollout is a late event.
    const imageX = await local.world.registerImage(`${fleet}-x`, fleet);
    const imageB = await local.world.registerImage(`${fleet}-b`, fleet);
    const endB = rolloutEnd(fleet, imageB);
    await local.world.publishImage(local.busName, imageB);
    const rolled = await watchWhile(groupName, endB);
    expect((await endB).detailType).toBe(DetailTypes.RolloutSucceeded);
    const before = await expectFleetAtRest({ fleet, groupName, size: 4, imageId: imageB, samples: rolled });

    const endX = rolloutEnd(fleet, imageX);
    await local.world.publishImage(local.busName, imageX);
    const samples = await watchWhile(groupName, endX);
    const outcome = await endX;
    expect(outcome.detailType).toBe(DetailTypes.RolloutRejected);
    expect(outcome.detail['reason']).toContain(`image ${imageX}`);
    expect(outcome.detail['reason']).toContain('is not newer than');
    expect(outcome.detail['reason']).toContain(imageB);

    const after = await expectFleetAtRest({ fleet, groupName, size: 4, imageId: imageB, samples });
    expect(after).toEqual(before);
    expect((await readFleetRecord(fleet))?.desiredImage).toBe(imageB);
  });
});

describe('an image in a disallowed state is rejected before anything is launched', () => {
  it.each([
    {
      fleet: 'deregistered',
      what: 'deregistered before the rollout',
      spoil: (imageId: string) => clients().ec2.send(new DeregisterImageCommand({ ImageId: imageId })),
      reason: (imageId: string) => `image ${imageId} does not exist`,
    },
    {
      fleet: 'disabled',
      what: 'disabled (DisableImage)',
      spoil: (imageId: string) => clients().ec2.send(new DisableImageCommand({ ImageId: imageId })),
      reason: (imageId: string) => `image ${imageId} is disabled`,
    },
  ])(
    'an image $what: RolloutRejected naming the rule, the same instances',
    async ({ fleet, spoil, reason }) => {
      const { imageA, groupName } = await fleetOnA(fleet, 3, { 'phoenix:max-surge': '1' });
      const image = await local.world.registerImage(`${fleet}-b`, fleet);
      await spoil(image);
      const before = await local.world.viewFleet(groupName);

      const end = rolloutEnd(fleet, image);
      // Named with its channel: a deregistered image has no tags left to find its channel by.
      await local.world.publishImage(local.busName, image, fleet);
      const samples = await watchWhile(groupName, end);
      const outcome = await end;
      expect(outcome.detailType).toBe(DetailTypes.RolloutRejected);
      expect(outcome.detail['reason']).toContain(reason(image));

      const after = await expectFleetAtRest({ fleet, groupName, size: 3, imageId: imageA, samples });
      expect(after).toEqual(before);
    },
  );
});
