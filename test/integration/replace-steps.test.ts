/**
 * The Replace steps (the real handler's domain functions) against the emulator: what each step
 * does to a real Auto Scaling group and fleet record, driven in the order the workflow drives them.
 */
import {
  DeleteAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
  SetInstanceHealthCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { CreateLaunchTemplateVersionCommand, DescribeTagsCommand } from '@aws-sdk/client-ec2';
import { beforeAll, describe, expect, it } from 'vitest';
import { DetailTypes, Tags } from '../../lambdas/domain/contract';
import { ReplacementNotHealthyError } from '../../lambdas/domain/errors';
import type {
  ReplacementHealth,
  ReplacementProgress,
  ReplaceState,
  ResolvedInstance,
  SlotState,
} from '../../lambdas/domain/replace';
import type { DrainState } from '../../lambdas/domain/drain';
import { DrainSteps, ReplaceSteps, RetireInstanceStep } from '../../lambdas/domain/steps';
import { runDrainStep } from '../../lambdas/steps/drain';
import { acquireLock, readFleetRecord } from '../../lambdas/aws/store/fleet-records';
import { runReplaceStep } from '../../lambdas/steps/replace';
import type { OutcomeListener } from '../../local/outcomes';
import { World, worldClients } from '../../local/world';
import { freshWorld } from '../support/control-plane';

let world: World;
let clients: ReturnType<typeof worldClients>;
let outcomes: OutcomeListener;
let counter = 0;

beforeAll(async () => {
  const fx = await freshWorld();
  ({ world, clients, outcomes } = fx);
  return fx.stop;
});

async function fleetOf(size: number, maxSize = size) {
  const fleet = `rep${++counter}`;
  const imageId = await world.registerImage(`${fleet}-a`, fleet);
  const groupName = await world.createFleet({ fleet, imageId, size });
  if (maxSize !== size) {
    await clients.autoScaling.send(
      new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: groupName, MaxSize: maxSize }),
    );
  }
  const instances = (await world.viewFleet(groupName)).instances.map((i) => i.instanceId);
  return { fleet, imageId, groupName, instances };
}

const run = <T>(step: string, execution: string, state: ReplaceState, extra: Record<string, unknown> = {}) =>
  runReplaceStep({ step: step as never, execution, state, ...extra }) as Promise<T>;

const serving = async (groupName: string) =>
  (await world.viewFleet(groupName)).instances.filter(
    (i) => i.lifecycleState === 'InService' && i.healthStatus === 'Healthy',
  );

/** Drive a replacement as the workflow does; returns the final state and the least serving capacity seen. */
async function drive(state: ReplaceState, execution: string, groupName: string) {
  let least = Number.POSITIVE_INFINITY;
  const watch = async () => {
    least = Math.min(least, (await serving(groupName)).length);
  };
  let s: ReplaceState = { ...state };
  s = { ...s, instance: await run<ResolvedInstance>(ReplaceSteps.ResolveInstance, execution, s) };
  expect(s.instance?.skip).toBeUndefined();
  await run(ReplaceSteps.TaintInstance, execution, s);
  s = { ...s, slot: await run<SlotState>(ReplaceSteps.AcquireReplacementSlot, execution, s) };
  expect(s.slot?.acquired).toBe(true);
  for (let i = 0; i < 20 && !s.replacement?.done && !s.replacement?.retire; i++) {
    s = { ...s, replacement: await run<ReplacementProgress>(ReplaceSteps.ReplaceInstance, execution, s) };
    await watch();
  }
  // The drain (no target group, no flush document here: test/integration/drain-steps.test.ts), then retire.
  expect(s.replacement?.retire).toBe(true);
  s = {
    ...s,
    drain: (await runDrainStep({ step: DrainSteps.DeregisterInstance, execution, state: s })) as DrainState,
  };
  expect(s.drain).toEqual({
    deregisteredFrom: [],
    delaySeconds: 0,
    deregistrationDelaySeconds: 0,
    flush: { status: 'None' },
  });
  s = { ...s, replacement: await run<ReplacementProgress>(RetireInstanceStep, execution, s) };
  await watch();
  expect(s.replacement?.done).toBe(true);
  for (let i = 0; i < 20 && !s.health?.ready; i++) {
    s = { ...s, health: await run<ReplacementHealth>(ReplaceSteps.WaitForReplacement, execution, s) };
    await watch();
  }
  expect(s.health?.ready).toBe(true);
  await run(ReplaceSteps.ReleaseReplacementSlot, execution, s, { outcome: DetailTypes.InstanceReplaced });
  return { state: s, least };
}

const input = (fleet: string, instanceId: string, cause: ReplaceState['cause'] = 'health'): ReplaceState => ({
  fleet,
  instanceId,
  cause,
  reason: 'test',
  requestId: `req-${fleet}`,
});

describe('Replace steps against the emulator', () => {
  it('surge: a new instance first, then the old one goes; capacity never below desired', async () => {
    const { fleet, groupName, instances, imageId } = await fleetOf(2, 3);
    const old = instances[0]!;
    const { state, least } = await drive(input(fleet, old), `${fleet}--${old}`, groupName);
    expect(state.replacement?.mode).toBe('surge');
    expect(least).toBeGreaterThanOrEqual(2);
    const view = await world.viewFleet(groupName);
    expect(view.desiredCapacity).toBe(2);
    const present = view.instances.filter((i) => i.lifecycleState === 'InService');
    expect(present.map((i) => i.instanceId)).not.toContain(old);
    expect(present).toHaveLength(2);
    expect(present.every((i) => i.imageId === imageId)).toBe(true);
    const replacement = state.health?.replacementInstanceId;
    expect(replacement).toBeDefined();
    expect(instances).not.toContain(replacement);
    // The taint was on the old instance; the slot is given back.
    const tags = await clients.ec2.send(
      new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [old] }] }),
    );
    expect(tags.Tags?.find((t) => t.Key === Tags.tainted)?.Value).toBe('health');
    const record = await readFleetRecord(fleet);
    expect(record?.replacementsInFlight).toBe(0);
    expect(record?.replacements).toEqual({});
    const reported = await outcomes.waitFor(
      (e) => e.detailType === DetailTypes.InstanceReplaced && e.detail['instanceId'] === old,
    );
    expect(reported.detail).toMatchObject({ fleet, replacementInstanceId: replacement, cause: 'health' });
  });

  // Found by the torture run (bench/torture.ts, seed 1, fleet tf1): with max = desired, a drift or
  // health replacement of a still-serving instance terminated it first, taking the fleet below its
  // floor (desired × min-healthy 100 %) until the group refilled.
  it('no room to surge (max = desired), the old instance serving: max raised by one for the surge and put back; never below desired', async () => {
    const { fleet, groupName, instances } = await fleetOf(2);
    const old = instances[1]!;
    const { state, least } = await drive(input(fleet, old, 'drift'), `${fleet}--${old}`, groupName);
    expect(state.replacement?.mode).toBe('surge');
    expect(least).toBeGreaterThanOrEqual(2);
    const group = (
      await clients.autoScaling.send(
        new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] }),
      )
    ).AutoScalingGroups![0]!;
    expect({ desired: group.DesiredCapacity, min: group.MinSize, max: group.MaxSize }).toEqual({
      desired: 2,
      min: 2,
      max: 2,
    });
    const view = await world.viewFleet(groupName);
    expect(
      view.instances.filter((i) => i.lifecycleState === 'InService').map((i) => i.instanceId),
    ).not.toContain(old);
    expect(await serving(groupName)).toHaveLength(2);
  });

  it('no room to surge and a rollout took the lock after this slot (it waits for the replacements in flight): still surges, never below the floor (torture seed 7)', async () => {
    const { fleet, groupName, instances } = await fleetOf(2);
    const old = instances[1]!;
    let s = input(fleet, old, 'drift');
    s = { ...s, instance: await run<ResolvedInstance>(ReplaceSteps.ResolveInstance, 'exec-late-lock', s) };
    s = { ...s, slot: await run<SlotState>(ReplaceSteps.AcquireReplacementSlot, 'exec-late-lock', s) };
    expect(s.slot).toMatchObject({ acquired: true });
    const taken = await acquireLock({
      fleet,
      channel: fleet,
      now: new Date(),
      lock: {
        execution: 'rollout-after-the-slot',
        imageId: 'ami-0000000000000beef',
        startedAt: new Date().toISOString(),
        expiresAt: Math.floor(Date.now() / 1000) + 3600,
      },
    });
    expect(taken.acquired).toBe(true);
    s = {
      ...s,
      replacement: await run<ReplacementProgress>(ReplaceSteps.ReplaceInstance, 'exec-late-lock', s),
    };
    expect(s.replacement).toMatchObject({ mode: 'surge', baseline: 2, maxBaseline: 2 });
    s = {
      ...s,
      replacement: await run<ReplacementProgress>(ReplaceSteps.ReplaceInstance, 'exec-late-lock', s),
    };
    const view = await world.viewFleet(groupName);
    expect(view.desiredCapacity).toBe(3);
    expect(view.instances.map((i) => i.instanceId)).toContain(old);
    expect((await serving(groupName)).map((i) => i.instanceId)).toContain(old);
  });

  // Regression of the torture run, seed 7: a replacement resolved an instance of a blue-green
  // fleet's group and got its slot after a rollout had retired that group (ForceDelete).
  it('a group deleted after the instance was resolved (with its instances): skipped, not failed, the slot released with the reason', async () => {
    const { fleet, groupName, instances } = await fleetOf(2);
    const old = instances[0]!;
    const execution = `${fleet}--${old}`;
    let s = input(fleet, old, 'drift');
    s = { ...s, instance: await run<ResolvedInstance>(ReplaceSteps.ResolveInstance, execution, s) };
    s = { ...s, slot: await run<SlotState>(ReplaceSteps.AcquireReplacementSlot, execution, s) };
    expect(s.slot?.acquired).toBe(true);
    await clients.autoScaling.send(
      new DeleteAutoScalingGroupCommand({ AutoScalingGroupName: groupName, ForceDelete: true }),
    );
    const replacement = await run<ReplacementProgress>(ReplaceSteps.ReplaceInstance, execution, s);
    expect(replacement.skip).toBe(
      `Auto Scaling group ${groupName} no longer exists (a rollout or an operator deleted it, with its instances): nothing to replace of ${old}`,
    );
    // Later steps meet it the same way: nothing to retire, and the wait for the group skips.
    const retired = await run<ReplacementProgress>(RetireInstanceStep, execution, {
      ...s,
      replacement: { mode: 'surge', done: false, retire: true, checks: 1, baseline: 2 },
    });
    expect(retired).toEqual({ mode: 'surge', done: true, checks: 1 });
    const health = await run<ReplacementHealth>(ReplaceSteps.WaitForReplacement, execution, s);
    expect(health).toEqual({ ready: false, checks: 1, skip: replacement.skip });

    s = { ...s, replacement };
    await run(ReplaceSteps.ReleaseReplacementSlot, execution, s, { outcome: DetailTypes.ReplacementSkipped });
    const skipped = await outcomes.waitFor(
      (e) => e.detailType === DetailTypes.ReplacementSkipped && e.detail['execution'] === execution,
    );
    expect(skipped.detail['reason']).toBe(replacement.skip);
    // The slot is free again: the fleet's next replacement takes it.
    const next = input(fleet, instances[1]!, 'drift');
    const nextExecution = `${fleet}--${instances[1]!}`;
    const slot = await run<SlotState>(ReplaceSteps.AcquireReplacementSlot, nextExecution, {
      ...next,
      instance: s.instance,
    });
    expect(slot.acquired).toBe(true);
  });

  it('a surge that never serves is taken back when the checks run out: the group at its capacity and maximum again, the old instance in place', async () => {
    // The group launches a broken image now ($Latest, a new version): the surge's instance is
    // Unhealthy in its group once booted (the realism layer), so it never serves.
    const { fleet, groupName, instances } = await fleetOf(2);
    const old = instances[0]!;
    const execution = `${fleet}--${old}`;
    const broken = await world.registerImage(`${fleet}-broken`, fleet);
    await world.markImageBroken(broken);
    const group0 = (
      await clients.autoScaling.send(
        new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] }),
      )
    ).AutoScalingGroups![0]!;
    await clients.ec2.send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateId: group0.LaunchTemplate!.LaunchTemplateId!,
        SourceVersion: '$Latest',
        LaunchTemplateData: { ImageId: broken },
      }),
    );
    {
      let s = input(fleet, old, 'drift');
      s = { ...s, instance: await run<ResolvedInstance>(ReplaceSteps.ResolveInstance, execution, s) };
      s = { ...s, slot: await run<SlotState>(ReplaceSteps.AcquireReplacementSlot, execution, s) };
      const step = async () => {
        s = {
          ...s,
          replacement: await run<ReplacementProgress>(ReplaceSteps.ReplaceInstance, execution, s, {
            maxChecks: 3,
          }),
        };
        return s.replacement!;
      };
      expect(await step()).toMatchObject({ mode: 'surge', baseline: 2, maxBaseline: 2, again: true });
      expect(await step()).toMatchObject({ mode: 'surge', again: true });
      const surged = await world.viewFleet(groupName);
      expect(surged.desiredCapacity).toBe(3);
      const added = surged.instances.map((i) => i.instanceId).filter((id) => !instances.includes(id));
      expect(added).toHaveLength(1);
      expect(await step()).toMatchObject({ mode: 'surge', done: false });
      await expect(step()).rejects.toThrow(/the surge was taken back \(desired 2, max 2; terminated i-/);
      const group = (
        await clients.autoScaling.send(
          new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] }),
        )
      ).AutoScalingGroups![0]!;
      expect({ desired: group.DesiredCapacity, max: group.MaxSize }).toEqual({ desired: 2, max: 2 });
      const after = await world.viewFleet(groupName);
      const inService = after.instances
        .filter((i) => i.lifecycleState === 'InService')
        .map((i) => i.instanceId);
      expect(inService.sort()).toEqual([...instances].sort());
      expect(after.instances.find((i) => i.instanceId === added[0])?.lifecycleState ?? 'gone').not.toBe(
        'Pending',
      );
      // A retry of the failed step (the runtime died after the undo) changes nothing more.
      await expect(step()).rejects.toThrow(ReplacementNotHealthyError);
      expect((await world.viewFleet(groupName)).desiredCapacity).toBe(2);
    }
  });

  it('terminate: no room to surge and the old instance no longer serves, the group refills at once', async () => {
    const { fleet, groupName, instances } = await fleetOf(2);
    const old = instances[1]!;
    await clients.autoScaling.send(
      new SetInstanceHealthCommand({
        InstanceId: old,
        HealthStatus: 'Unhealthy',
        ShouldRespectGracePeriod: false,
      }),
    );
    const { state } = await drive(input(fleet, old, 'health'), `${fleet}--${old}`, groupName);
    expect(state.replacement?.mode).toBe('terminate');
    const view = await world.viewFleet(groupName);
    expect(view.desiredCapacity).toBe(2);
    expect(
      view.instances.filter((i) => i.lifecycleState === 'InService').map((i) => i.instanceId),
    ).not.toContain(old);
    expect(await serving(groupName)).toHaveLength(2);
  });

  it('takes its surge back when the old instance went by itself meanwhile', async () => {
    const { fleet, groupName, instances } = await fleetOf(2, 3);
    const old = instances[0]!;
    let s = input(fleet, old);
    s = { ...s, instance: await run<ResolvedInstance>(ReplaceSteps.ResolveInstance, 'exec-g', s) };
    s = { ...s, slot: await run<SlotState>(ReplaceSteps.AcquireReplacementSlot, 'exec-g', s) };
    // The first call only remembers the baseline (a retry of it cannot surge twice); the second surges.
    s = { ...s, replacement: await run<ReplacementProgress>(ReplaceSteps.ReplaceInstance, 'exec-g', s) };
    expect(s.replacement).toMatchObject({ mode: 'surge', done: false, baseline: 2, again: true });
    expect((await world.viewFleet(groupName)).desiredCapacity).toBe(2);
    s = { ...s, replacement: await run<ReplacementProgress>(ReplaceSteps.ReplaceInstance, 'exec-g', s) };
    expect(s.replacement).toMatchObject({ mode: 'surge', done: false, baseline: 2 });
    expect((await world.viewFleet(groupName)).desiredCapacity).toBe(3);
    await clients.autoScaling.send(
      new TerminateInstanceInAutoScalingGroupCommand({
        InstanceId: old,
        ShouldDecrementDesiredCapacity: false,
      }),
    );
    s = { ...s, replacement: await run<ReplacementProgress>(ReplaceSteps.ReplaceInstance, 'exec-g', s) };
    expect(s.replacement).toMatchObject({ mode: 'surge', done: true });
    expect((await world.viewFleet(groupName)).desiredCapacity).toBe(2);
    await run(ReplaceSteps.ReleaseReplacementSlot, 'exec-g', s, { outcome: DetailTypes.InstanceReplaced });
  });

  it('two replacements in flight in one fleet: one surges, the other terminates; capacity does not drift', async () => {
    const { fleet, groupName, instances } = await fleetOf(4, 6);
    await world.tagGroup(groupName, Tags.disruptionBudget, '2');
    const [a, b] = [instances[0]!, instances[1]!];
    const desired = async () => (await world.viewFleet(groupName)).desiredCapacity;
    let sa = input(fleet, a, 'drift');
    sa = { ...sa, instance: await run<ResolvedInstance>(ReplaceSteps.ResolveInstance, 'exec-pa', sa) };
    sa = { ...sa, slot: await run<SlotState>(ReplaceSteps.AcquireReplacementSlot, 'exec-pa', sa) };
    expect(sa.slot).toMatchObject({ acquired: true, inFlight: 1 });
    for (let i = 0; i < 2; i++) {
      sa = {
        ...sa,
        replacement: await run<ReplacementProgress>(ReplaceSteps.ReplaceInstance, 'exec-pa', sa),
      };
    }
    expect(sa.replacement).toMatchObject({ mode: 'surge', baseline: 4 });
    expect(await desired()).toBe(5);
    // B arrives while A's surge is in the group: it terminates first and the group refills.
    const { state: sb } = await drive(input(fleet, b, 'drift'), 'exec-pb', groupName);
    expect(sb.replacement?.mode).toBe('terminate');
    expect(await desired()).toBe(5);
    // A ends: its retirement's decrement brings the group back to its baseline.
    for (let i = 0; i < 20 && !sa.replacement?.retire; i++) {
      sa = {
        ...sa,
        replacement: await run<ReplacementProgress>(ReplaceSteps.ReplaceInstance, 'exec-pa', sa),
      };
    }
    sa = {
      ...sa,
      drain: (await runDrainStep({
        step: DrainSteps.DeregisterInstance,
        execution: 'exec-pa',
        state: sa,
      })) as DrainState,
    };
    sa = { ...sa, replacement: await run<ReplacementProgress>(RetireInstanceStep, 'exec-pa', sa) };
    for (let i = 0; i < 20 && !sa.health?.ready; i++) {
      sa = { ...sa, health: await run<ReplacementHealth>(ReplaceSteps.WaitForReplacement, 'exec-pa', sa) };
    }
    expect(sa.health?.ready).toBe(true);
    await run(ReplaceSteps.ReleaseReplacementSlot, 'exec-pa', sa, { outcome: DetailTypes.InstanceReplaced });
    expect(await desired()).toBe(4);
    const ids = (await serving(groupName)).map((i) => i.instanceId);
    expect(ids).toHaveLength(4);
    expect(ids).not.toContain(a);
    expect(ids).not.toContain(b);
  });

  it('a Spot interruption does not wait for a surge, even with room', async () => {
    const { fleet, groupName, instances } = await fleetOf(2, 4);
    const { state } = await drive(input(fleet, instances[0]!, 'interruption'), `${fleet}--x`, groupName);
    expect(state.replacement).toMatchObject({ mode: 'terminate', done: true });
    expect((await world.viewFleet(groupName)).desiredCapacity).toBe(2);
  });

  it('budget 1, two concurrent requests: the second is deferred (reported once) and waits for the slot', async () => {
    const { fleet, groupName, instances } = await fleetOf(3);
    await world.tagGroup(groupName, Tags.disruptionBudget, '1');
    const [a, b] = [instances[0]!, instances[1]!];
    // Not health: two of three flagged for health would open the circuit breaker (test/integration/circuit.test.ts).
    let sa = input(fleet, a, 'drift');
    let sb = input(fleet, b, 'drift');
    sa = { ...sa, instance: await run<ResolvedInstance>(ReplaceSteps.ResolveInstance, 'exec-a', sa) };
    sb = { ...sb, instance: await run<ResolvedInstance>(ReplaceSteps.ResolveInstance, 'exec-b', sb) };
    expect(sa.instance?.budget).toBe(1);
    const [slotA, slotB] = await Promise.all([
      run<SlotState>(ReplaceSteps.AcquireReplacementSlot, 'exec-a', sa),
      run<SlotState>(ReplaceSteps.AcquireReplacementSlot, 'exec-b', sb),
    ]);
    // Exactly one of the two concurrent requests holds the slot.
    expect([slotA.acquired, slotB.acquired].filter(Boolean)).toHaveLength(1);
    const [winner, loser, loserExec, winnerExec] = slotA.acquired
      ? [sa, { ...sb, slot: slotB }, 'exec-b', 'exec-a']
      : [sb, { ...sa, slot: slotA }, 'exec-a', 'exec-b'];
    expect(loser.slot).toMatchObject({ acquired: false, deferred: true, inFlight: 1, budget: 1 });
    // A retried step of the holder keeps its slot; the waiting one still waits, and says so once.
    expect((await run<SlotState>(ReplaceSteps.AcquireReplacementSlot, winnerExec, winner)).acquired).toBe(
      true,
    );
    const again = await run<SlotState>(ReplaceSteps.AcquireReplacementSlot, loserExec, loser);
    expect(again).toMatchObject({ acquired: false, deferred: true, attempts: 2 });
    expect((await readFleetRecord(fleet))?.replacementsInFlight).toBe(1);
    await run(ReplaceSteps.ReleaseReplacementSlot, winnerExec, winner, {
      outcome: DetailTypes.ReplacementSkipped,
    });
    const third = await run<SlotState>(ReplaceSteps.AcquireReplacementSlot, loserExec, {
      ...loser,
      slot: again,
    });
    expect(third).toMatchObject({ acquired: true, deferred: true, attempts: 3 });
    expect((await readFleetRecord(fleet))?.replacementsInFlight).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const deferred = outcomes.received.filter(
      (e) => e.detailType === DetailTypes.ReplacementDeferred && e.detail['fleet'] === fleet,
    );
    expect(deferred).toHaveLength(1);
    expect(deferred[0]!.detail).toMatchObject({ instanceId: loser.instanceId, budget: 1, inFlight: 1 });
  });

  it('an invalid budget tag is reported with the tag and the value, and the default applies', async () => {
    const { fleet, groupName, instances } = await fleetOf(2);
    await world.tagGroup(groupName, Tags.disruptionBudget, 'lots');
    const resolved = await run<ResolvedInstance>(
      ReplaceSteps.ResolveInstance,
      'exec-invalid',
      input(fleet, instances[0]!),
    );
    expect(resolved.budget).toBe(1);
    const reported = await outcomes.waitFor(
      (e) => e.detailType === DetailTypes.DisruptionBudgetInvalid && e.detail['fleet'] === fleet,
    );
    expect(reported.detail).toMatchObject({ tag: Tags.disruptionBudget, value: 'lots', budget: 1 });
  });

  it('skips an unknown instance, one of another fleet, and one already terminating', async () => {
    const { fleet, groupName, instances } = await fleetOf(2);
    const other = await fleetOf(1);
    const unknown = await run<ResolvedInstance>(
      ReplaceSteps.ResolveInstance,
      'x',
      input(fleet, 'i-0fedcba9876543210'),
    );
    expect(unknown.skip).toContain('in no managed fleet');
    const moved = await run<ResolvedInstance>(
      ReplaceSteps.ResolveInstance,
      'x',
      input(fleet, other.instances[0]!),
    );
    expect(moved.skip).toContain(`no longer in fleet ${fleet}`);
    await clients.autoScaling.send(
      new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: groupName, MinSize: 1 }),
    );
    await clients.autoScaling.send(
      new TerminateInstanceInAutoScalingGroupCommand({
        InstanceId: instances[0]!,
        ShouldDecrementDesiredCapacity: true,
      }),
    );
    const gone = await run<ResolvedInstance>(ReplaceSteps.ResolveInstance, 'x', input(fleet, instances[0]!));
    expect(gone.skip).toBeDefined();
  });

  it('leaves an instance not on the image of a rollout in progress to that rollout, slot released', async () => {
    const { fleet, instances } = await fleetOf(2);
    await acquireLock({
      fleet,
      channel: fleet,
      now: new Date(),
      lock: {
        execution: 'rollout-1',
        imageId: 'ami-0000000000000beef',
        startedAt: new Date().toISOString(),
        expiresAt: Math.floor(Date.now() / 1000) + 3600,
      },
    });
    let s = input(fleet, instances[0]!);
    s = { ...s, instance: await run<ResolvedInstance>(ReplaceSteps.ResolveInstance, 'exec-r', s) };
    const slot = await run<SlotState>(ReplaceSteps.AcquireReplacementSlot, 'exec-r', s);
    expect(slot.acquired).toBe(false);
    expect(slot.skip).toContain('left to the rollout in progress');
    expect((await readFleetRecord(fleet))?.replacementsInFlight).toBe(0);
  });

  it('an instance on the image of a rollout in progress: the replacement waits for the rollout (it owns the capacity), a Spot interruption does not', async () => {
    // Regression (torture run, seed 20261202): a surge beside a rollout of the same fleet set the
    // group's capacity from its own baseline (the group ended at desired 3, min 4).
    const { fleet, imageId, groupName, instances } = await fleetOf(2, 3);
    const lock = (expiresAt: number) => ({
      fleet,
      channel: fleet,
      now: new Date(),
      lock: { execution: 'rollout-own', imageId, startedAt: new Date().toISOString(), expiresAt },
    });
    await acquireLock(lock(Math.floor(Date.now() / 1000) + 3600));
    let s = input(fleet, instances[0]!, 'drift');
    s = { ...s, instance: await run<ResolvedInstance>(ReplaceSteps.ResolveInstance, 'exec-own', s) };
    const first = await run<SlotState>(ReplaceSteps.AcquireReplacementSlot, 'exec-own', s);
    expect(first).toMatchObject({ acquired: false, deferred: true, attempts: 1 });
    expect(first.skip).toBeUndefined();
    expect((await readFleetRecord(fleet))?.replacementsInFlight).toBe(0);
    const again = await run<SlotState>(ReplaceSteps.AcquireReplacementSlot, 'exec-own', {
      ...s,
      slot: first,
    });
    expect(again).toMatchObject({ acquired: false, deferred: true, attempts: 2 });
    // The group's capacity is untouched while the rollout holds the fleet.
    const group = await world.viewFleet(groupName);
    expect(group.desiredCapacity).toBe(2);
    // A Spot interruption does not wait (it terminates without touching the capacity).
    let spot = input(fleet, instances[1]!, 'interruption');
    spot = {
      ...spot,
      instance: await run<ResolvedInstance>(ReplaceSteps.ResolveInstance, 'exec-spot', spot),
    };
    expect((await run<SlotState>(ReplaceSteps.AcquireReplacementSlot, 'exec-spot', spot)).acquired).toBe(
      true,
    );
    await run(ReplaceSteps.ReleaseReplacementSlot, 'exec-spot', spot, {
      outcome: DetailTypes.ReplacementSkipped,
    });
    // The rollout's lock gone (here: expired), the waiting replacement takes its slot.
    await acquireLock(lock(1));
    const third = await run<SlotState>(ReplaceSteps.AcquireReplacementSlot, 'exec-own', {
      ...s,
      slot: again,
    });
    expect(third).toMatchObject({ acquired: true, deferred: true, attempts: 3 });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const deferred = outcomes.received.filter(
      (e) => e.detailType === DetailTypes.ReplacementDeferred && e.detail['fleet'] === fleet,
    );
    expect(deferred).toHaveLength(1);
    expect(String(deferred[0]!.detail['reason'])).toContain('rollout-own');
  });
});
