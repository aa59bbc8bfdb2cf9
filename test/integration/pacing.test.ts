/**
 * Check pacing (lambdas/domain/pacing.ts) against the emulator with the realism layer's boot time
 * and target health checks: CheckBatchHealth (a rolling batch) and ReplaceInstance (a surge) ask
 * for their next check after the poll interval while the new instances boot, within half the
 * target group's health-check interval once they wait for its initial health checks alone, and at
 * most `fastChecks` times. Nothing is mocked: the targets are `initial` because the realism layer
 * keeps them so for interval × healthy threshold after the boot.
 */
import {
  AttachLoadBalancerTargetGroupsCommand,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateTargetGroupCommand,
  ElasticLoadBalancingV2Client,
  ModifyTargetGroupCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type {
  ReplacementProgress,
  ReplaceState,
  ResolvedInstance,
  SlotState,
} from '../../lambdas/domain/replace';
import type { FleetState, Progress, WorkflowState } from '../../lambdas/domain/rollout';
import { BatchNotHealthyError } from '../../lambdas/domain/errors';
import { FleetSteps, ReplaceSteps } from '../../lambdas/domain/steps';
import { runFleetStep } from '../../lambdas/rollout-fleet';
import { runReplaceStep } from '../../lambdas/steps/replace';
import type { World } from '../../local/world';
import { type ControlPlaneWorld, freshWorld } from '../support/control-plane';

let fx: ControlPlaneWorld;
let world: World;
let elb: ElasticLoadBalancingV2Client;
let counter = 0;

/** Simulated seconds × this are real ones: a boot of 40 s takes 2 s, 3 health checks of 10 s 1.5 s. */
const TIME_SCALE = 0.05;
const BOOT_SECONDS = 40;
const HEALTH_INTERVAL = 10;
const HEALTHY_THRESHOLD = 3;
const POLL = 15;

beforeAll(async () => {
  fx = await freshWorld({ outcomes: false });
  world = fx.world;
  elb = new ElasticLoadBalancingV2Client(fx.clientConfig);
  return fx.stop;
});

afterEach(async () => {
  await world.configureRealism({ bootSeconds: 0, timeScale: 1, targetHealthChecks: false });
});

/**
 * A fleet of `size` behind a target group health-checked every HEALTH_INTERVAL s, its instances
 * healthy already; then boot time and target health checks on, for what launches next.
 */
async function fleetBehindTargetGroup(prefix: string, size: number, maxSize = size) {
  const fleet = `${prefix}${++counter}`;
  const imageA = await world.registerImage(`${fleet}-a`, fleet);
  const imageB = await world.registerImage(`${fleet}-b`, fleet);
  const groupName = await world.createFleet({ fleet, imageId: imageA, size });
  if (maxSize !== size) {
    await fx.clients.autoScaling.send(
      new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: groupName, MaxSize: maxSize }),
    );
  }
  const { vpcId } = await fx.network();
  const created = await elb.send(
    new CreateTargetGroupCommand({
      Name: `${fleet}-tg`,
      Protocol: 'HTTP',
      Port: 80,
      VpcId: vpcId,
      TargetType: 'instance',
    }),
  );
  const tg = created.TargetGroups![0]!.TargetGroupArn!;
  await elb.send(
    new ModifyTargetGroupCommand({
      TargetGroupArn: tg,
      HealthCheckIntervalSeconds: HEALTH_INTERVAL,
      HealthyThresholdCount: HEALTHY_THRESHOLD,
    }),
  );
  await fx.clients.autoScaling.send(
    new AttachLoadBalancerTargetGroupsCommand({ AutoScalingGroupName: groupName, TargetGroupARNs: [tg] }),
  );
  const instances = (await world.viewFleet(groupName)).instances.map((i) => i.instanceId);
  await world.configureRealism({
    bootSeconds: BOOT_SECONDS,
    timeScale: TIME_SCALE,
    targetHealthChecks: true,
  });
  return { fleet, imageA, imageB, groupName, tg, instances };
}

/**
 * A rolling rollout of a fleet behind a target group (see fleetBehindTargetGroup) up to its first
 * batch's launch, through the real steps; `run` runs a fleet step with an optional payload.
 */
async function rollingBatchLaunched(prefix: string, size: number, maxChecks?: number) {
  const f = await fleetBehindTargetGroup(prefix, size);
  const base: WorkflowState = {
    fleet: f.fleet,
    imageId: f.imageB,
    channel: f.fleet,
    cause: 'test',
    requestId: f.fleet,
  };
  const run = async <T>(step: string, state: WorkflowState, extra: Record<string, unknown> = {}) =>
    (await runFleetStep({ step: step as never, execution: `exec-${f.fleet}`, state, ...extra })) as T;
  const fleetState = await run<FleetState>(
    FleetSteps.ValidateImage,
    base,
    maxChecks !== undefined ? { maxChecks } : {},
  );
  let state: WorkflowState = { ...base, fleetState };
  state = {
    ...state,
    launchTemplate: await run<{ version: string }>(FleetSteps.ReconcileLaunchTemplate, state),
  };
  state = { ...state, progress: await run<Progress>(FleetSteps.LaunchBatch, state) };
  return { run, fleetState, state };
}

/**
 * Call `next` every 200 ms (4 simulated seconds: within the initial window, and far fewer calls than
 * the check bound) until `done` accepts its result (bounded: a real-time guard, not a speed check).
 */
async function until<T>(
  next: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 20_000,
): Promise<T[]> {
  const seen: T[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await next();
    seen.push(value);
    if (done(value)) return seen;
    if (Date.now() > deadline)
      throw new Error(`condition not met in ${timeoutMs} ms; last: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('check pacing with boot time and target health checks on', () => {
  it('rolling: CheckBatchHealth waits the poll interval while the batch boots, half the health-check interval once its targets are initial, at most fastChecks times', async () => {
    const launchedBatch = await rollingBatchLaunched('pr', 2, 1000);
    const { run, fleetState } = launchedBatch;
    let state = launchedBatch.state;
    const pacing = { pollSeconds: POLL, fastChecks: 2 };
    const check = async () => {
      const progress = await run<Progress>(FleetSteps.CheckBatchHealth, state, { pacing });
      state = { ...state, progress };
      return progress;
    };
    // The fast checks do not count towards maxChecks (still booting: not ready). Two fast checks
    // among maxChecks: one counted check is left; none among them: the batch has failed.
    const launched = state.progress!;
    const nearBound = { ...launched, checks: fleetState.maxChecks };
    await expect(
      run<Progress>(
        FleetSteps.CheckBatchHealth,
        { ...state, progress: { ...nearBound, fastChecks: 2 } },
        { pacing },
      ),
    ).resolves.toMatchObject({ ready: false, checks: fleetState.maxChecks + 1 });
    await expect(
      run<Progress>(
        FleetSteps.CheckBatchHealth,
        { ...state, progress: { ...nearBound, fastChecks: 0 } },
        { pacing },
      ),
    ).rejects.toThrow(BatchNotHealthyError);
    // Booting (Pending): the poll interval.
    const booting = await check();
    expect(booting).toMatchObject({ ready: false, checks: 1, nextCheckSeconds: POLL, fastChecks: 0 });
    expect(booting.healthCheckIntervalSeconds).toBeUndefined();
    // Booted, its target initial: half the health-check interval, twice (fastChecks), then the poll.
    const seen = await until(check, (p) => p.ready);
    const fast = seen.filter((p) => !p.ready && p.nextCheckSeconds === HEALTH_INTERVAL / 2);
    expect(fast.length).toBeGreaterThanOrEqual(1);
    expect(fast.map((p) => p.fastChecks)).toEqual([1, 2].slice(0, fast.length));
    expect(fast[0]!.healthCheckIntervalSeconds).toBe(HEALTH_INTERVAL);
    for (const p of seen.filter((q) => !q.ready))
      expect([POLL, HEALTH_INTERVAL / 2]).toContain(p.nextCheckSeconds);
    const last = seen[seen.length - 1]!;
    expect(last.fastChecks).toBeLessThanOrEqual(2);
    expect(last.checks).toBe(1 + seen.length);
  });

  it('rolling: without pacing (an execution of an older definition), CheckBatchHealth answers as before', async () => {
    const { run, state } = await rollingBatchLaunched('pn', 1);
    const progress = await run<Progress>(FleetSteps.CheckBatchHealth, state);
    expect(progress).toMatchObject({ ready: false, checks: 1 });
    expect(progress.nextCheckSeconds).toBeUndefined();
    expect(progress.fastChecks).toBeUndefined();
  });

  it('replacement: ReplaceInstance waits the poll interval while the surge boots, half the health-check interval once its target is initial', async () => {
    const f = await fleetBehindTargetGroup('ps', 2, 3);
    const old = f.instances[0]!;
    const execution = `${f.fleet}--${old}`;
    const run = <T>(step: string, state: ReplaceState, extra: Record<string, unknown> = {}) =>
      runReplaceStep({ step: step as never, execution, state, ...extra }) as Promise<T>;
    let s: ReplaceState = {
      fleet: f.fleet,
      instanceId: old,
      cause: 'health',
      reason: 'test',
      requestId: `req-${f.fleet}`,
    };
    s = { ...s, instance: await run<ResolvedInstance>(ReplaceSteps.ResolveInstance, s) };
    await run(ReplaceSteps.TaintInstance, s);
    s = { ...s, slot: await run<SlotState>(ReplaceSteps.AcquireReplacementSlot, s) };
    expect(s.slot?.acquired).toBe(true);
    const pacing = { pollSeconds: POLL, fastChecks: 3 };
    const step = async () => {
      const replacement = await run<ReplacementProgress>(ReplaceSteps.ReplaceInstance, s, {
        pacing,
        maxChecks: 1000,
      });
      s = { ...s, replacement };
      return replacement;
    };
    // Baseline, then the surge: both call again at once (no wait, no pace).
    expect(await step()).toMatchObject({ mode: 'surge', again: true });
    const surged = await step();
    expect(surged).toMatchObject({ mode: 'surge', again: true });
    expect(surged.nextCheckSeconds).toBeUndefined();
    // The surge boots: the poll interval.
    expect(await step()).toMatchObject({ mode: 'surge', done: false, nextCheckSeconds: POLL, fastChecks: 0 });
    const seen = await until(step, (r) => r.retire === true);
    const fast = seen.filter((r) => r.nextCheckSeconds === HEALTH_INTERVAL / 2);
    expect(fast.length).toBeGreaterThanOrEqual(1);
    expect(fast.map((r) => r.fastChecks)).toEqual([1, 2, 3].slice(0, fast.length));
    expect(fast[0]!.healthCheckIntervalSeconds).toBe(HEALTH_INTERVAL);
    for (const r of seen.filter((q) => q.retire !== true))
      expect([POLL, HEALTH_INTERVAL / 2]).toContain(r.nextCheckSeconds);
    // The old instance may go now; it was never terminated before the surge served.
    const present = (await world.viewFleet(f.groupName)).instances.map((i) => i.instanceId);
    expect(present).toContain(old);
  });
});
