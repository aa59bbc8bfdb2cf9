/**
 * End to end in the local runtime, the replacement path from each kind of event: real published
 * samples (their placeholder instance ids and ARNs rewritten to the test's instances) go into the
 * emulator's EventBridge (default bus), the synthesized rules route them, the intake starts the
 * Replace workflow, and the instance is replaced by one from the fleet's launch template (the
 * fleet's desired image), while a watcher samples the group's serving capacity. A CPU alarm
 * changes nothing. Then re-replacement: an instance whose replacement was skipped (circuit open)
 * is replaced on the next event, once.
 */
import { UpdateAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import { describe, expect, it } from 'vitest';
import { updateCircuit } from '../../lambdas/aws/circuit';
import { recordOutcome } from '../../lambdas/aws/store/history';
import { DetailTypes } from '../../lambdas/domain/contract';
import { replaceAttemptName, replaceExecutionName } from '../../lambdas/domain/replace';
import { worldClients } from '../../local/world';
import { awsEvent } from '../support/fixtures';
import { configDrift, spotInterruption, startSession, statusCheckAlarm } from '../support/replace-events';
import { REGION, useLocalRuntime } from '../support/local-runtime';

const local = useLocalRuntime();
const { deliver } = local;

// ---- a fleet and a watcher ---------------------------------------------------------------------

async function fleetOf(fleet: string) {
  const image = await local.world.registerImage(`${fleet}-a`);
  const group = await local.world.createFleet({ fleet, imageId: image, size: 2 });
  // Room for one more: replacements surge first.
  await worldClients({ endpoint: local.endpoint, region: REGION }).autoScaling.send(
    new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: group, MaxSize: 3 }),
  );
  // The fleet's desired image, as a rollout would have recorded it.
  await recordOutcome({
    fleet,
    execution: `seed-${fleet}`,
    entry: { imageId: image, outcome: 'succeeded', at: new Date().toISOString(), execution: `seed-${fleet}` },
    desiredImage: image,
    now: new Date(),
  });
  const instances = (await local.world.viewFleet(group)).instances.map((i) => i.instanceId);
  return { fleet, image, group, instances };
}

/** Sample the group's serving capacity (InService and Healthy) until stopped. */
function watch(group: string) {
  const seen: number[] = [];
  let watching = true;
  const done = (async () => {
    while (watching) {
      const view = await local.world.viewFleet(group);
      seen.push(
        view.instances.filter((i) => i.lifecycleState === 'InService' && i.healthStatus === 'Healthy').length,
      );
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  })();
  return {
    async stop() {
      watching = false;
      await done;
      return seen;
    },
  };
}

const cases = [
  { name: 'a status-check alarm', event: statusCheckAlarm, cause: 'health', mode: 'surge', floor: 2 },
  // A Spot instance is reclaimed by EC2 within two minutes whatever Phoenix does: it goes first
  // (no decrement) and the group refills, so the floor is one below the desired capacity.
  {
    name: 'a Spot interruption warning',
    event: spotInterruption,
    cause: 'interruption',
    mode: 'terminate',
    floor: 1,
  },
  { name: 'a StartSession (SSM)', event: startSession, cause: 'shell-access', mode: 'surge', floor: 2 },
  { name: 'a Config in-place change', event: configDrift, cause: 'drift', mode: 'surge', floor: 2 },
] as const;

describe('each replace event replaces the instance on the desired image, capacity kept', () => {
  for (const [n, c] of cases.entries()) {
    it(`${c.name} → InstanceReplaced (${c.cause}, ${c.mode})`, async () => {
      const { fleet, image, group, instances } = await fleetOf(`rep${n}`);
      const target = instances[0]!;
      const watcher = watch(group);
      const event = c.event(target);
      const delivered = Date.now();
      const result = await deliver(event);
      expect(result.intent).toBe('replace');
      expect(result.replacements).toEqual([
        expect.objectContaining({ instanceId: target, execution: replaceExecutionName(fleet, target) }),
      ]);
      const replaced = await local.outcomes.waitFor(
        (e) => e.detailType === DetailTypes.InstanceReplaced && e.detail['instanceId'] === target,
        60_000,
      );
      const seen = await watcher.stop();
      expect(replaced.detail).toMatchObject({ fleet, cause: c.cause, mode: c.mode });
      // Time to heal runs from the event's time (the sample's own, or the bus's when it re-stamps
      // the event, or the intake's when the sample's is a placeholder) to the replacement serving.
      const eventTime = Date.parse((event as unknown as { time: string }).time);
      const seenAt = Date.parse(String(replaced.detail['detectedAt']));
      expect(seenAt === eventTime || seenAt >= delivered - 1000).toBe(true);
      const heal = Number(replaced.detail['healSeconds']);
      expect(heal).toBeGreaterThanOrEqual(0);
      expect(heal).toBeLessThanOrEqual((Date.now() - seenAt) / 1000 + 1);
      const view = await local.world.viewFleet(group);
      expect(view.desiredCapacity).toBe(2);
      const serving = view.instances.filter((i) => i.lifecycleState === 'InService');
      expect(serving.map((i) => i.instanceId)).not.toContain(target);
      expect(serving).toHaveLength(2);
      expect(serving.map((i) => i.instanceId)).toContain(replaced.detail['replacementInstanceId']);
      expect(serving.every((i) => i.imageId === image)).toBe(true);
      expect(seen.length).toBeGreaterThan(0);
      expect(Math.min(...seen)).toBeGreaterThanOrEqual(c.floor);
      // One replacement, nothing else reported for the instance.
      const forTarget = local.outcomes.received.filter((e) => e.detail['instanceId'] === target);
      expect(forTarget.map((e) => e.detailType)).toEqual([DetailTypes.InstanceReplaced]);
      expect(
        local.runtime.stepFunctions.listExecutions().filter((e) => e.name.includes(target)),
      ).toHaveLength(1);
    }, 90_000);
  }

  it('a CPU alarm reaches the intake and changes nothing', async () => {
    const { group } = await fleetOf('cpu');
    const before = (await local.world.viewFleet(group)).instances.map((i) => i.instanceId).sort();
    const outcomesBefore = local.outcomes.received.length;
    const executionsBefore = local.runtime.stepFunctions.listExecutions().length;
    const result = await deliver(awsEvent('aws.cloudwatch', 'alarm-state-change-cpu-utilization'));
    expect(result).toMatchObject({ intent: 'ignore', reason: expect.stringContaining('CPUUtilization') });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(local.outcomes.received.slice(outcomesBefore)).toEqual([]);
    expect(local.runtime.stepFunctions.listExecutions()).toHaveLength(executionsBefore);
    expect((await local.world.viewFleet(group)).instances.map((i) => i.instanceId).sort()).toEqual(before);
  });
});

describe('re-replacement', () => {
  it('skipped while the circuit is open, replaced on the next event once it is closed; duplicates start nothing', async () => {
    const { fleet, group, instances } = await fleetOf('again');
    const target = instances[0]!;
    const base = replaceExecutionName(fleet, target);
    // The fleet's circuit is open (two other instances flagged just now).
    const now = new Date().toISOString();
    await updateCircuit(fleet, new Date(), () => ({
      state: {
        flags: [
          { instanceId: 'i-0f00000000000000a', cause: 'health', at: now },
          { instanceId: 'i-0f00000000000000b', cause: 'health', at: now },
        ],
        openedAt: now,
      },
      write: true,
      result: undefined,
    }));
    await deliver(startSession(target));
    const skipped = await local.outcomes.waitFor(
      (e) => e.detailType === DetailTypes.ReplacementSkipped && e.detail['instanceId'] === target,
      60_000,
    );
    expect(skipped.detail).toMatchObject({ execution: base, reason: expect.stringContaining('circuit') });
    // An operator resumes the fleet (what `phoenix resume` does: the flags cleared).
    await updateCircuit(fleet, new Date(), () => ({ state: { flags: [] }, write: true, result: undefined }));

    const again = await deliver(startSession(target));
    expect(again.replacements).toEqual([
      expect.objectContaining({ execution: replaceAttemptName(base, 2), duplicate: false }),
    ]);
    // Another event for it (while -2 runs, or after it replaced the instance) starts nothing.
    const duplicate = await deliver(configDrift(target));
    expect(duplicate.replacements?.filter((r) => r.duplicate === false)).toEqual([]);
    const replaced = await local.outcomes.waitFor(
      (e) => e.detailType === DetailTypes.InstanceReplaced && e.detail['instanceId'] === target,
      60_000,
    );
    expect(replaced.detail).toMatchObject({ execution: replaceAttemptName(base, 2) });
    // And after it: nothing more.
    const after = await deliver(startSession(target));
    expect(after.replacements).toEqual([expect.objectContaining({ requested: false })]);
    const view = await local.world.viewFleet(group);
    expect(view.instances.filter((i) => i.lifecycleState === 'InService')).toHaveLength(2);
    expect(
      local.runtime.stepFunctions
        .listExecutions()
        .filter((e) => e.name.includes(target))
        .map((e) => e.name)
        .sort(),
    ).toEqual([base, replaceAttemptName(base, 2)]);
  }, 120_000);
});
