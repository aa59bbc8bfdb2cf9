/**
 * The blue-green steps, the target-group gate and the canary batch (the real handlers' domain
 * functions) against the emulator, driven in the order the workflow drives them.
 *
 * What the emulator (moto 5.2.5) does with target groups: a group created or updated with
 * TargetGroupARNs registers its instances, and DescribeTargetHealth reports each registered
 * instance `healthy` at once (no load balancer needed); an unregistered one is `unused`. States a
 * real target group goes through (`initial`, `unhealthy`) it never reports: those cases are
 * answered with aws-sdk-client-mock.
 */
import {
  AttachLoadBalancerTargetGroupsCommand,
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
  SetInstanceHealthCommand,
} from '@aws-sdk/client-auto-scaling';
import { CreateLaunchTemplateCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  CreateTargetGroupCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, describe, expect, it } from 'vitest';
import type { GreenCheck, GreenState, RetireProgress } from '../../lambdas/domain/blue-green';
import { greenGroupName } from '../../lambdas/domain/blue-green';
import { BatchNotHealthyError, RolloutTimedOutError } from '../../lambdas/domain/errors';
import type { FleetState, Progress, WorkflowState } from '../../lambdas/domain/rollout';
import { FleetSteps } from '../../lambdas/domain/steps';
import { groupsOfFleet } from '../../lambdas/aws/fleets';
import { runFleetStep } from '../../lambdas/rollout-fleet';
import { World } from '../../local/world';
import { freshWorld } from '../support/control-plane';

let world: World;
let autoScaling: AutoScalingClient;
let ec2: EC2Client;
let elb: ElasticLoadBalancingV2Client;
let vpcId: string;
let subnets: string[];
let counter = 0;

beforeAll(async () => {
  const fx = await freshWorld({ outcomes: false });
  world = fx.world;
  ({ autoScaling, ec2 } = fx.clients);
  elb = new ElasticLoadBalancingV2Client(fx.clientConfig);
  ({ vpcId, subnets } = await fx.network());
  return fx.stop;
});

async function targetGroup(name: string): Promise<string> {
  const created = await elb.send(
    new CreateTargetGroupCommand({
      Name: name,
      Protocol: 'HTTP',
      Port: 80,
      VpcId: vpcId,
      TargetType: 'instance',
    }),
  );
  return created.TargetGroups![0]!.TargetGroupArn!;
}

async function registered(targetGroupArn: string): Promise<string[]> {
  const health = await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }));
  return (health.TargetHealthDescriptions ?? [])
    .filter((d) => d.TargetHealth?.State !== 'unused')
    .map((d) => d.Target!.Id!)
    .sort();
}

async function group(name: string) {
  const page = await autoScaling.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }),
  );
  return page.AutoScalingGroups?.[0];
}

/**
 * A fleet as a team would build it for blue-green: a launch template, a group in two subnets with
 * ELB health checks, a cooldown, termination policies, capacity rebalance, tags (some propagated)
 * and two target groups.
 */
async function blueGreenFleet(size: number, extraTags: Record<string, string> = {}) {
  const fleet = `bg${++counter}`;
  const imageA = await world.registerImage(`${fleet}-a`, fleet);
  const imageB = await world.registerImage(`${fleet}-b`, fleet);
  const tgs = [await targetGroup(`${fleet}-tg1`), await targetGroup(`${fleet}-tg2`)];
  const lt = await ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: `${fleet}-lt`,
      LaunchTemplateData: { ImageId: imageA, InstanceType: 't3.micro' },
      TagSpecifications: [
        { ResourceType: 'launch-template', Tags: [{ Key: 'phoenix:fleet', Value: fleet }] },
      ],
    }),
  );
  const groupName = `${fleet}-asg`;
  const tags: Record<string, [string, boolean]> = {
    'phoenix:fleet': [fleet, true],
    'phoenix:strategy': ['blue-green', false],
    team: ['payments', true],
    'cost-center': ['42', false],
    ...Object.fromEntries(Object.entries(extraTags).map(([k, v]) => [k, [v, false] as [string, boolean]])),
  };
  await autoScaling.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: groupName,
      MinSize: size,
      MaxSize: size + 2,
      DesiredCapacity: size,
      LaunchTemplate: { LaunchTemplateId: lt.LaunchTemplate!.LaunchTemplateId!, Version: '$Latest' },
      VPCZoneIdentifier: subnets.join(','),
      HealthCheckType: 'ELB',
      HealthCheckGracePeriod: 120,
      DefaultCooldown: 90,
      TerminationPolicies: ['OldestInstance', 'Default'],
      CapacityRebalance: true,
      TargetGroupARNs: tgs,
      Tags: Object.entries(tags).map(([Key, [Value, PropagateAtLaunch]]) => ({
        Key,
        Value,
        PropagateAtLaunch,
        ResourceId: groupName,
        ResourceType: 'auto-scaling-group',
      })),
    }),
  );
  const state: WorkflowState = {
    fleet,
    imageId: imageB,
    channel: fleet,
    cause: 'test',
    requestId: `req-${fleet}`,
  };
  return { fleet, groupName, imageA, imageB, tgs, state, execution: `exec-${fleet}` };
}

type Fixture = Awaited<ReturnType<typeof blueGreenFleet>>;

const step = async <T>(f: Fixture, name: string, state: object, extra: Record<string, unknown> = {}) =>
  (await runFleetStep({
    step: name as never,
    execution: f.execution,
    state: state as WorkflowState,
    ...extra,
  })) as T;

/** Validate, create green and wait for it (as the workflow does): the state after green is at its capacity. */
async function upToGreen(f: Fixture) {
  const fleetState = await step<FleetState>(f, FleetSteps.ValidateImage, f.state);
  let state: Record<string, unknown> = { ...f.state, fleetState };
  const green = await step<GreenState>(f, FleetSteps.CreateGreenGroup, state);
  state = { ...state, green };
  const check = await step<GreenCheck>(f, FleetSteps.CheckGreenHealth, state, { gate: 'capacity' });
  const after: Record<string, unknown> = { ...state, greenCheck: check };
  return { fleetState, green, check, state: after };
}

/**
 * A rolling fleet (images A, then B) behind one target group, validated for B, its launch template
 * reconciled and its first batch launched: what the rolling target-group tests start from.
 */
async function rollingBehindTargetGroup(prefix: string, size: number) {
  const fleet = `${prefix}${++counter}`;
  const imageA = await world.registerImage(`${fleet}-a`, fleet);
  const imageB = await world.registerImage(`${fleet}-b`, fleet);
  const groupName = await world.createFleet({ fleet, imageId: imageA, size });
  const tg = await targetGroup(`${fleet}-tg`);
  await autoScaling.send(
    new AttachLoadBalancerTargetGroupsCommand({ AutoScalingGroupName: groupName, TargetGroupARNs: [tg] }),
  );
  const base: WorkflowState = { fleet, imageId: imageB, channel: fleet, cause: 'test', requestId: fleet };
  const run = async <T>(name: string, state: WorkflowState) =>
    (await runFleetStep({ step: name as never, execution: `exec-${fleet}`, state })) as T;
  const fleetState = await run<FleetState>(FleetSteps.ValidateImage, base);
  let state: WorkflowState = { ...base, fleetState };
  state = {
    ...state,
    launchTemplate: await run<{ version: string }>(FleetSteps.ReconcileLaunchTemplate, state),
  };
  state = { ...state, progress: await run<Progress>(FleetSteps.LaunchBatch, state) };
  return { fleet, imageA, imageB, groupName, tg, run, fleetState, state };
}

const tagsOf = (g: Awaited<ReturnType<typeof group>>) =>
  Object.fromEntries((g?.Tags ?? []).map((t) => [t.Key!, [t.Value!, t.PropagateAtLaunch!]]));

describe('blue-green steps', () => {
  it('reads the strategy and canary tags into the fleet state', async () => {
    const f = await blueGreenFleet(2, { 'phoenix:canary': 'true' });
    const fleetState = await step<FleetState>(f, FleetSteps.ValidateImage, f.state);
    expect(fleetState).toMatchObject({ strategy: 'blue-green', canary: true, desiredCapacity: 2 });
  });

  it('clones blue into green (settings, tags without the identity, new version, no target group); blue keeps its version', async () => {
    const f = await blueGreenFleet(3);
    const { green, check } = await upToGreen(f);
    expect(green.groupName).toBe(greenGroupName(f.fleet, f.execution));
    expect(check.ready).toBe(true);
    const blue = (await group(f.groupName))!;
    const g = (await group(green.groupName))!;
    expect(g).toMatchObject({
      MinSize: 3,
      MaxSize: 5,
      DesiredCapacity: 3,
      HealthCheckType: 'ELB',
      HealthCheckGracePeriod: 120,
      DefaultCooldown: 90,
      TerminationPolicies: ['OldestInstance', 'Default'],
      CapacityRebalance: true,
      TargetGroupARNs: [],
    });
    expect(g.VPCZoneIdentifier ?? g.AvailabilityZones).toEqual(
      blue.VPCZoneIdentifier ?? blue.AvailabilityZones,
    );
    expect(g.LaunchTemplate?.Version).toBe(green.launchTemplateVersion);
    // Blue was on $Latest: pinned to the number $Latest named before, so it never launches the new image.
    expect(blue.LaunchTemplate?.Version).toBe('1');
    expect(green.launchTemplateVersion).toBe('2');
    expect(tagsOf(g)).toEqual({
      team: ['payments', true],
      'cost-center': ['42', false],
      'phoenix:green-of': [f.fleet, false],
      'phoenix:rollout': [f.execution, false],
    });
    expect(green.targetGroupArns).toEqual(f.tgs);
    // The fleet is still one group: blue.
    expect((await groupsOfFleet(f.fleet)).map((m) => m.group.AutoScalingGroupName)).toEqual([f.groupName]);
    const view = await world.viewFleet(green.groupName);
    expect(view.instances.map((i) => i.imageId)).toEqual(Array(3).fill(f.imageB));

    // Run twice (a retried step): the same group, not a second one.
    const again = await step<GreenState>(f, FleetSteps.CreateGreenGroup, {
      ...f.state,
      fleetState: (await upToGreen(f)).fleetState,
    });
    expect(again.groupName).toBe(green.groupName);
    expect((await world.viewFleet(green.groupName)).instances).toHaveLength(3);
  });

  it('attaches, cuts over and retires blue: one group tagged as the fleet, on the new image, in the target groups', async () => {
    const f = await blueGreenFleet(3);
    const blueIds = (await world.viewFleet(f.groupName)).instances.map((i) => i.instanceId);
    let { state } = await upToGreen(f);
    const green = await step<GreenState>(f, FleetSteps.AttachGreenTargetGroups, state);
    expect(green.attached).toBe(true);
    state = { ...state, green };
    expect((await group(green.groupName))!.TargetGroupARNs).toEqual(f.tgs);
    const targets = await step<GreenCheck>(f, FleetSteps.CheckGreenHealth, state, { gate: 'targets' });
    expect(targets).toMatchObject({ ready: true, key: 'targets:3', checks: 1 });
    const greenIds = (await world.viewFleet(green.groupName)).instances.map((i) => i.instanceId);
    // Both groups serve the target groups before the cutover.
    for (const tg of f.tgs) expect(await registered(tg)).toEqual([...blueIds, ...greenIds].sort());

    await step(f, FleetSteps.CutOverToGreen, state);
    await step(f, FleetSteps.CutOverToGreen, state); // a retried step changes nothing
    const fleetGroups = await groupsOfFleet(f.fleet);
    expect(fleetGroups.map((m) => m.group.AutoScalingGroupName)).toEqual([green.groupName]);
    expect(tagsOf(await group(green.groupName))).toEqual({
      'phoenix:fleet': [f.fleet, true],
      'phoenix:strategy': ['blue-green', false],
      team: ['payments', true],
      'cost-center': ['42', false],
    });
    expect(tagsOf(await group(f.groupName))).toEqual({
      team: ['payments', true],
      'cost-center': ['42', false],
      'phoenix:blue-of': [f.fleet, false],
      'phoenix:rollout': [f.execution, false],
    });

    let retire: RetireProgress | undefined;
    for (let i = 0; i < 5 && !retire?.deleted; i++) {
      retire = await step<RetireProgress>(f, FleetSteps.RetireBlue, { ...state, retire }, { maxChecks: 5 });
    }
    expect(retire).toMatchObject({ deleted: true, draining: 0 });
    expect(await group(f.groupName)).toBeUndefined();
    for (const tg of f.tgs) expect(await registered(tg)).toEqual([...greenIds].sort());
    const view = await world.viewFleet(green.groupName);
    expect(view.instances.filter((i) => i.lifecycleState === 'InService').map((i) => i.imageId)).toEqual(
      Array(3).fill(f.imageB),
    );
    // Already gone: done.
    expect(await step<RetireProgress>(f, FleetSteps.RetireBlue, state)).toMatchObject({ deleted: true });
  });

  it('retires blue only while green alone serves the fleet floor (torture seed 7: a green instance lost after the gates)', async () => {
    const f = await blueGreenFleet(3);
    let { state } = await upToGreen(f);
    const green = await step<GreenState>(f, FleetSteps.AttachGreenTargetGroups, state);
    state = { ...state, green };
    await step(f, FleetSteps.CutOverToGreen, state);
    const greenIds = (await world.viewFleet(green.groupName)).instances.map((i) => i.instanceId);
    // One green instance stops serving after the gates passed (min-healthy 100 %: floor 3).
    await autoScaling.send(
      new SetInstanceHealthCommand({ InstanceId: greenIds[0]!, HealthStatus: 'Unhealthy' }),
    );
    const waiting = await step<RetireProgress>(f, FleetSteps.RetireBlue, state, { maxChecks: 3 });
    expect(waiting).toMatchObject({ deleted: false, greenServing: 2, checks: 1 });
    // Blue still serves: in its group, still in the target groups.
    expect((await group(f.groupName))!.TargetGroupARNs).toEqual(f.tgs);
    // Past the check bound, blue is left in place (the workflow reports RolloutFailed).
    await expect(
      step(f, FleetSteps.RetireBlue, { ...state, retire: { ...waiting, checks: 2 } }, { maxChecks: 3 }),
    ).rejects.toThrow(
      /serves 2 instance\(s\), below the fleet's floor of 3: blue group .* was left in place/,
    );
    expect(await group(f.groupName)).toBeDefined();
    // Green serves again (its group refilled): blue goes.
    await autoScaling.send(
      new SetInstanceHealthCommand({ InstanceId: greenIds[0]!, HealthStatus: 'Healthy' }),
    );
    let retire: RetireProgress | undefined = waiting;
    for (let i = 0; i < 5 && !retire?.deleted; i++) {
      retire = await step<RetireProgress>(f, FleetSteps.RetireBlue, { ...state, retire }, { maxChecks: 8 });
    }
    expect(retire).toMatchObject({ deleted: true });
    expect(await group(f.groupName)).toBeUndefined();
  });

  it('canary: green starts at one instance, then is scaled to the fleet', async () => {
    const f = await blueGreenFleet(4, { 'phoenix:canary': 'true' });
    let { state, green } = await upToGreen(f);
    expect(green.desired).toBe(1);
    expect((await world.viewFleet(green.groupName)).instances).toHaveLength(1);
    green = await step<GreenState>(f, FleetSteps.AttachGreenTargetGroups, state);
    state = { ...state, green };
    green = await step<GreenState>(f, FleetSteps.ScaleGreenGroup, state);
    expect(green.desired).toBe(4);
    state = { ...state, green };
    const check = await step<GreenCheck>(f, FleetSteps.CheckGreenHealth, state, { gate: 'capacity' });
    expect(check).toMatchObject({ key: 'capacity:4', checks: 1, ready: true });
    expect(await group(green.groupName)).toMatchObject({ MinSize: 4, DesiredCapacity: 4 });
    // Attached before scaling: the new instances are registered as they come.
    const ids = (await world.viewFleet(green.groupName)).instances.map((i) => i.instanceId);
    expect(await registered(f.tgs[0]!)).toEqual(expect.arrayContaining(ids));
  });

  it('rollback: green detached and deleted, blue untouched; also after a half-done cutover', async () => {
    const f = await blueGreenFleet(2);
    const before = await group(f.groupName);
    const blueIds = (await world.viewFleet(f.groupName)).instances.map((i) => i.instanceId).sort();
    let { state } = await upToGreen(f);
    const green = await step<GreenState>(f, FleetSteps.AttachGreenTargetGroups, state);
    state = { ...state, green };
    // Half a cutover: the identity is on green too (two groups tagged), blue still has it.
    await world.tagGroup(green.groupName, 'phoenix:fleet', f.fleet);
    expect(await groupsOfFleet(f.fleet)).toHaveLength(2);

    const rollback = await step<{ removedNew: number }>(f, FleetSteps.DiscardGreen, state);
    expect(rollback.removedNew).toBe(2);
    expect(await group(green.groupName)).toBeUndefined();
    expect((await groupsOfFleet(f.fleet)).map((m) => m.group.AutoScalingGroupName)).toEqual([f.groupName]);
    const after = (await group(f.groupName))!;
    expect(tagsOf(after)).toEqual(tagsOf(before));
    expect(after.TargetGroupARNs).toEqual(f.tgs);
    expect(after.DesiredCapacity).toBe(2);
    for (const tg of f.tgs) expect(await registered(tg)).toEqual(blueIds);
    const view = await world.viewFleet(f.groupName);
    expect(view.instances.map((i) => i.imageId)).toEqual([f.imageA, f.imageA]);
    // Twice: nothing more to do.
    await step(f, FleetSteps.DiscardGreen, state);
    expect(await groupsOfFleet(f.fleet)).toHaveLength(1);
  });

  it('rollback after a cutover that moved the identity: it goes back to blue', async () => {
    const f = await blueGreenFleet(1);
    const before = await group(f.groupName);
    let { state } = await upToGreen(f);
    const green = await step<GreenState>(f, FleetSteps.AttachGreenTargetGroups, state);
    state = { ...state, green };
    await step(f, FleetSteps.CutOverToGreen, state);
    await step(f, FleetSteps.DiscardGreen, state);
    expect(await group(green.groupName)).toBeUndefined();
    expect(tagsOf(await group(f.groupName))).toEqual(tagsOf(before));
  });

  it('never deletes a group that still carries phoenix:fleet', async () => {
    const f = await blueGreenFleet(1);
    const { state } = await upToGreen(f);
    await expect(step(f, FleetSteps.RetireBlue, state)).rejects.toThrow(/still carries phoenix:fleet/);
    expect(await group(f.groupName)).toBeDefined();
  });

  it('green never at capacity: after maxChecks checks, BatchNotHealthyError names the green group', async () => {
    const f = await blueGreenFleet(2);
    const { state, green } = await upToGreen(f);
    await expect(
      step(
        f,
        FleetSteps.CheckGreenHealth,
        { ...state, green: { ...green, desired: 5 } },
        { gate: 'capacity', maxChecks: 1 },
      ),
    ).rejects.toThrow(BatchNotHealthyError);
  });

  it('past the rollout deadline, or with a bake that would end after it: RolloutTimedOutError (green is then discarded)', async () => {
    const f = await blueGreenFleet(2);
    const { state, fleetState } = await upToGreen(f);
    const now = Math.floor(Date.now() / 1000);
    const past = { ...state, lock: { deadline: now - 1 } };
    await expect(step(f, FleetSteps.CheckGreenHealth, past, { gate: 'capacity' })).rejects.toThrow(
      RolloutTimedOutError,
    );
    const tight = {
      ...state,
      fleetState: { ...fleetState, bakeSeconds: 600 },
      lock: { deadline: now + 300 },
    };
    await expect(step(f, FleetSteps.CheckGreenHealth, tight, { gate: 'targets' })).rejects.toThrow(
      /the bake \(600 s\) would end after its deadline/,
    );
    const ample = { ...state, lock: { deadline: now + 3600 } };
    expect((await step<GreenCheck>(f, FleetSteps.CheckGreenHealth, ample, { gate: 'capacity' })).ready).toBe(
      true,
    );
  });
});

describe('the target-group gate', () => {
  it('green in target groups: an instance `initial` in one of them is not ready (answered by a mock: moto says healthy at once)', async () => {
    const f = await blueGreenFleet(1);
    let { state } = await upToGreen(f);
    const green = await step<GreenState>(f, FleetSteps.AttachGreenTargetGroups, state);
    state = { ...state, green };
    const mock = mockClient(ElasticLoadBalancingV2Client);
    try {
      mock
        .on(DescribeTargetHealthCommand)
        .callsFake((input: { TargetGroupArn: string; Targets: { Id: string }[] }) => ({
          TargetHealthDescriptions: input.Targets.map((t) => ({
            Target: { Id: t.Id, Port: 80 },
            TargetHealth: { State: input.TargetGroupArn === f.tgs[1] ? 'initial' : 'healthy' },
          })),
        }));
      const check = await step<GreenCheck>(f, FleetSteps.CheckGreenHealth, state, { gate: 'targets' });
      expect(check.ready).toBe(false);
      expect(
        mock.commandCalls(DescribeTargetHealthCommand).map((c) => c.args[0].input.TargetGroupArn),
      ).toEqual(f.tgs);
    } finally {
      mock.restore();
    }
    expect((await step<GreenCheck>(f, FleetSteps.CheckGreenHealth, state, { gate: 'targets' })).ready).toBe(
      true,
    );
  });

  it('rolling: a batch is ready only when its new instances are healthy in every target group of the group', async () => {
    const { groupName, tg, imageB, run, state } = await rollingBehindTargetGroup('rg', 2);
    const mock = mockClient(ElasticLoadBalancingV2Client);
    try {
      mock.on(DescribeTargetHealthCommand).callsFake((input: { Targets: { Id: string }[] }) => ({
        TargetHealthDescriptions: input.Targets.map((t) => ({
          Target: { Id: t.Id },
          TargetHealth: { State: 'unhealthy' },
        })),
      }));
      expect((await run<Progress>(FleetSteps.CheckBatchHealth, state)).ready).toBe(false);
    } finally {
      mock.restore();
    }
    // The emulator registers the new instance (the group is attached) and reports it healthy.
    expect((await run<Progress>(FleetSteps.CheckBatchHealth, state)).ready).toBe(true);
    const newIds = (await world.viewFleet(groupName)).instances
      .filter((i) => i.imageId === imageB)
      .map((i) => i.instanceId);
    expect(await registered(tg)).toEqual(expect.arrayContaining(newIds));
  });
});

describe('the floor counts what the target groups serve', () => {
  it('rolling: RetireBatch takes an old instance unhealthy in a target group (InService and Healthy in its group) first, never a serving one below the floor', async () => {
    const { groupName, imageA, imageB, run, fleetState, ...launched } = await rollingBehindTargetGroup(
      'rf',
      4,
    );
    expect(fleetState).toMatchObject({ minHealthy: 4, batchSize: 1 });
    let state = launched.state;
    state = { ...state, progress: await run<Progress>(FleetSteps.CheckBatchHealth, state) };
    expect(state.progress!.ready).toBe(true);
    const old = (await world.viewFleet(groupName)).instances
      .filter((i) => i.imageId === imageA)
      .sort((a, b) => a.instanceId.localeCompare(b.instanceId));
    // Not the first to go (launched together, ties go by id): counted as serving by its group's
    // health alone, the first would go instead and the load balancer would serve 3 of the floor's 4.
    const failing = old[old.length - 1]!.instanceId;
    const mock = mockClient(ElasticLoadBalancingV2Client);
    try {
      mock.on(DescribeTargetHealthCommand).callsFake((input: { Targets: { Id: string }[] }) => ({
        TargetHealthDescriptions: input.Targets.map((t) => ({
          Target: { Id: t.Id },
          TargetHealth: { State: t.Id === failing ? 'unhealthy' : 'healthy' },
        })),
      }));
      await run<Progress>(FleetSteps.RetireBatch, state);
    } finally {
      mock.restore();
    }
    const after = (await world.viewFleet(groupName)).instances.filter(
      (i) => i.lifecycleState === 'InService',
    );
    expect(after.map((i) => i.instanceId)).not.toContain(failing);
    expect(
      after
        .filter((i) => i.imageId === imageA)
        .map((i) => i.instanceId)
        .sort(),
    ).toEqual(
      old
        .slice(0, -1)
        .map((i) => i.instanceId)
        .sort(),
    );
  });
});

describe('canary, rolling', () => {
  it('the first batch is exactly 1, the normal batches follow', async () => {
    const fleet = `cn${++counter}`;
    const imageA = await world.registerImage(`${fleet}-a`, fleet);
    const imageB = await world.registerImage(`${fleet}-b`, fleet);
    const groupName = await world.createFleet({
      fleet,
      imageId: imageA,
      size: 5,
      tags: { 'phoenix:canary': 'true', 'phoenix:max-surge': '2' },
    });
    const base: WorkflowState = { fleet, imageId: imageB, channel: fleet, cause: 'test', requestId: fleet };
    const run = async <T>(name: string, state: WorkflowState) =>
      (await runFleetStep({ step: name as never, execution: `exec-${fleet}`, state })) as T;
    const fleetState = await run<FleetState>(FleetSteps.ValidateImage, base);
    expect(fleetState).toMatchObject({ canary: true, batchSize: 2, strategy: 'rolling' });
    let state: WorkflowState = { ...base, fleetState };
    state = {
      ...state,
      launchTemplate: await run<{ version: string }>(FleetSteps.ReconcileLaunchTemplate, state),
    };
    const batches: number[] = [];
    for (let i = 0; i < 10; i++) {
      let progress = await run<Progress>(FleetSteps.LaunchBatch, state);
      batches.push(progress.batch);
      state = { ...state, progress };
      progress = await run<Progress>(FleetSteps.CheckBatchHealth, state);
      expect(progress.ready).toBe(true);
      state = { ...state, progress };
      progress = await run<Progress>(FleetSteps.RetireBatch, state);
      state = { ...state, progress };
      if (progress.remainingOld === 0) break;
    }
    expect(batches).toEqual([1, 2, 2]);
    const view = await world.viewFleet(groupName);
    expect(view.instances.filter((i) => i.lifecycleState === 'InService').map((i) => i.imageId)).toEqual(
      Array(5).fill(imageB),
    );
  });
});
