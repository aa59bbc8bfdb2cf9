/**
 * Drain against the emulator: the drain steps (the real handler's functions) on a real group with
 * real target groups and a real SSM document, a whole replacement driven through them as the
 * Replace workflow drives it, and the termination hook installed and removed by the reconcile sweep.
 *
 * What the emulator (moto 5.2.5) does here: a group created with TargetGroupARNs registers its
 * instances (`healthy` at once); DeregisterTargets removes one at once (no `draining` state) and
 * answers InvalidTarget for one not registered; DescribeTargetGroupAttributes reports
 * `deregistration_delay.timeout_seconds` (300 by default, ModifyTargetGroupAttributes changes it).
 * SendCommand accepts any document name (it does not check that the document exists) and the
 * command is `Success` at once; GetCommandInvocation answers `Success`; ListCommandInvocations is
 * not implemented. PutLifecycleHook, DescribeLifecycleHooks and DeleteLifecycleHook work, but a
 * hook holds nothing: terminations proceed at once, no `Terminating:Wait`, no lifecycle event, and
 * CompleteLifecycleAction is not implemented (test/unit/drain-complete.test.ts mocks it).
 */
import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  DeleteLifecycleHookCommand,
  DeleteTagsCommand,
  DescribeLifecycleHooksCommand,
  DescribeAutoScalingGroupsCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateLaunchTemplateCommand,
  CreateTagsCommand,
  DescribeTagsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import {
  CreateTargetGroupCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ModifyTargetGroupAttributesCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { CreateDocumentCommand, SSMClient } from '@aws-sdk/client-ssm';
import { beforeAll, describe, expect, it } from 'vitest';
import { DetailTypes, DRAIN_HOOK_NAME, Tags } from '../../lambdas/domain/contract';
import type { DrainState, FlushState } from '../../lambdas/domain/drain';
import type {
  ReplacementHealth,
  ReplacementProgress,
  ReplaceState,
  ResolvedInstance,
  SlotState,
} from '../../lambdas/domain/replace';
import { DrainSteps, ReplaceSteps, RetireInstanceStep } from '../../lambdas/domain/steps';
import { runDrainStep, type DrainWorkflowState } from '../../lambdas/steps/drain';
import { runReconcile } from '../../lambdas/steps/reconcile';
import { runReplaceStep } from '../../lambdas/steps/replace';
import type { OutcomeListener } from '../../local/outcomes';
import { World } from '../../local/world';
import { freshWorld } from '../support/control-plane';

let world: World;
let autoScaling: AutoScalingClient;
let ec2: EC2Client;
let elb: ElasticLoadBalancingV2Client;
let ssm: SSMClient;
let outcomes: OutcomeListener;
let vpcId: string;
let subnets: string[];
let counter = 0;

beforeAll(async () => {
  const fx = await freshWorld();
  ({ world, outcomes } = fx);
  ({ autoScaling, ec2, ssm } = fx.clients);
  elb = new ElasticLoadBalancingV2Client(fx.clientConfig);
  ({ vpcId, subnets } = await fx.network());
  await ssm.send(
    new CreateDocumentCommand({
      Name: 'phoenix-test-flush-logs',
      DocumentType: 'Command',
      Content: JSON.stringify({
        schemaVersion: '2.2',
        description: 'Flush the application logs before the instance goes',
        mainSteps: [{ action: 'aws:runShellScript', name: 'flush', inputs: { runCommand: ['sync'] } }],
      }),
    }),
  );
  return fx.stop;
});

async function targetGroup(name: string, delaySeconds?: number): Promise<string> {
  const created = await elb.send(
    new CreateTargetGroupCommand({
      Name: name,
      Protocol: 'HTTP',
      Port: 80,
      VpcId: vpcId,
      TargetType: 'instance',
      // The adoption contract: drain deregisters only from target groups tagged phoenix:fleet.
      Tags: [{ Key: Tags.fleet, Value: name }],
    }),
  );
  const arn = created.TargetGroups![0]!.TargetGroupArn!;
  if (delaySeconds !== undefined) {
    await elb.send(
      new ModifyTargetGroupAttributesCommand({
        TargetGroupArn: arn,
        Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: String(delaySeconds) }],
      }),
    );
  }
  return arn;
}

async function registered(targetGroupArn: string): Promise<string[]> {
  const health = await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }));
  return (health.TargetHealthDescriptions ?? [])
    .filter((d) => d.TargetHealth?.State !== 'unused')
    .map((d) => d.Target!.Id!)
    .sort();
}

/** A fleet behind two target groups (deregistration delays 45 s and 20 s), max one above desired. */
async function fleetBehindTargetGroups(size: number, tags: Record<string, string> = {}) {
  const fleet = `drn${++counter}`;
  const imageId = await world.registerImage(`${fleet}-a`, fleet);
  const tgs = [await targetGroup(`${fleet}-tg1`, 45), await targetGroup(`${fleet}-tg2`, 20)];
  const lt = await ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: `${fleet}-lt`,
      LaunchTemplateData: { ImageId: imageId, InstanceType: 't3.micro' },
      TagSpecifications: [{ ResourceType: 'launch-template', Tags: [{ Key: Tags.fleet, Value: fleet }] }],
    }),
  );
  const groupName = `${fleet}-asg`;
  await autoScaling.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: groupName,
      MinSize: size,
      MaxSize: size + 1,
      DesiredCapacity: size,
      LaunchTemplate: { LaunchTemplateId: lt.LaunchTemplate!.LaunchTemplateId!, Version: '$Latest' },
      VPCZoneIdentifier: subnets.join(','),
      TargetGroupARNs: tgs,
      Tags: Object.entries({ [Tags.fleet]: fleet, ...tags }).map(([Key, Value]) => ({
        Key,
        Value,
        PropagateAtLaunch: Key === Tags.fleet,
        ResourceId: groupName,
        ResourceType: 'auto-scaling-group',
      })),
    }),
  );
  const instances = (await world.viewFleet(groupName)).instances.map((i) => i.instanceId);
  return { fleet, groupName, tgs, instances };
}

const input = (fleet: string, instanceId: string, cause: ReplaceState['cause'] = 'health'): ReplaceState => ({
  fleet,
  instanceId,
  cause,
  reason: 'test',
  requestId: `req-${fleet}-${instanceId}`,
});

const replaceStep = <T>(
  step: string,
  execution: string,
  state: ReplaceState,
  extra: Record<string, unknown> = {},
) => runReplaceStep({ step: step as never, execution, state, ...extra }) as Promise<T>;
const drainStep = <T>(step: string, execution: string, state: DrainWorkflowState) =>
  runDrainStep({ step: step as never, execution, state, pollSeconds: 5 }) as Promise<T>;

/** The flush as the workflow runs it: send, then check until it is no longer running. */
async function flush<S extends DrainWorkflowState & { drain: DrainState }>(
  s: S,
  execution: string,
): Promise<S> {
  if (s.drain.flush.status !== 'Pending') return s;
  let state = {
    ...s,
    drain: { ...s.drain, flush: await drainStep<FlushState>(DrainSteps.StartFlush, execution, s) },
  };
  for (let i = 0; i < 50 && state.drain.flush.status === 'Running'; i++) {
    state = {
      ...state,
      drain: { ...state.drain, flush: await drainStep<FlushState>(DrainSteps.CheckFlush, execution, state) },
    };
  }
  return state;
}

/** A whole replacement, as the Replace workflow drives it (drain included). */
async function drive(state: ReplaceState, execution: string) {
  let s: ReplaceState = { ...state };
  s = { ...s, instance: await replaceStep<ResolvedInstance>(ReplaceSteps.ResolveInstance, execution, s) };
  await replaceStep(ReplaceSteps.TaintInstance, execution, s);
  s = { ...s, slot: await replaceStep<SlotState>(ReplaceSteps.AcquireReplacementSlot, execution, s) };
  expect(s.slot?.acquired).toBe(true);
  for (let i = 0; i < 20 && !s.replacement?.retire && !s.replacement?.done; i++) {
    s = {
      ...s,
      replacement: await replaceStep<ReplacementProgress>(ReplaceSteps.ReplaceInstance, execution, s),
    };
  }
  expect(s.replacement?.retire).toBe(true);
  s = { ...s, drain: await drainStep<DrainState>(DrainSteps.DeregisterInstance, execution, s) };
  s = await flush(s as ReplaceState & { drain: DrainState }, execution);
  s = { ...s, replacement: await replaceStep<ReplacementProgress>(RetireInstanceStep, execution, s) };
  expect(s.replacement?.done).toBe(true);
  for (let i = 0; i < 20 && !s.health?.ready; i++) {
    s = { ...s, health: await replaceStep<ReplacementHealth>(ReplaceSteps.WaitForReplacement, execution, s) };
  }
  expect(s.health?.ready).toBe(true);
  await replaceStep(ReplaceSteps.ReleaseReplacementSlot, execution, s, {
    outcome: DetailTypes.InstanceReplaced,
  });
  return s;
}

async function instanceTag(instanceId: string, key: string): Promise<string | undefined> {
  const tags = await ec2.send(
    new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [instanceId] }] }),
  );
  return tags.Tags?.find((t) => t.Key === key)?.Value;
}

describe('drain steps against the emulator', () => {
  it('deregisters the instance from every target group holding it and reports the longest delay', async () => {
    const { fleet, groupName, tgs, instances } = await fleetBehindTargetGroups(2);
    const [old, other] = [instances[0]!, instances[1]!];
    expect(await registered(tgs[0]!)).toContain(old);
    const state = { ...input(fleet, old), instance: { groupName } };
    const drain = await drainStep<DrainState>(DrainSteps.DeregisterInstance, 'exec-d', state);
    expect([...drain.deregisteredFrom].sort()).toEqual([...tgs].sort());
    expect(drain.delaySeconds).toBe(45);
    expect(drain.flush.status).toBe('None');
    for (const tg of tgs) {
      expect(await registered(tg)).not.toContain(old);
      expect(await registered(tg)).toContain(other);
    }
    // Again (a retried step): nothing left to deregister from, no error.
    const again = await drainStep<DrainState>(DrainSteps.DeregisterInstance, 'exec-d', state);
    expect(again.deregisteredFrom).toEqual([]);
  });

  it('a Spot interruption deregisters but waits no delay, and caps the flush at 60 s', async () => {
    const { fleet, groupName, tgs, instances } = await fleetBehindTargetGroups(2, {
      [Tags.flushDocument]: 'phoenix-test-flush-logs',
      [Tags.flushTimeoutSeconds]: '300',
    });
    const state = { ...input(fleet, instances[0]!, 'interruption'), instance: { groupName } };
    const drain = await drainStep<DrainState>(DrainSteps.DeregisterInstance, 'exec-s', state);
    expect(drain.deregisteredFrom).toHaveLength(2);
    expect(drain).toMatchObject({ delaySeconds: 0, deregistrationDelaySeconds: 45 });
    expect(drain.flush).toMatchObject({
      status: 'Pending',
      document: 'phoenix-test-flush-logs',
      timeoutSeconds: 60,
    });
    expect(await registered(tgs[0]!)).not.toContain(instances[0]);
  });

  it('runs the flush document with SendCommand and follows it to its end', async () => {
    const { fleet, groupName, instances } = await fleetBehindTargetGroups(1, {
      [Tags.flushDocument]: 'phoenix-test-flush-logs',
    });
    const state = { ...input(fleet, instances[0]!), instance: { groupName } };
    const drain = await drainStep<DrainState>(DrainSteps.DeregisterInstance, 'exec-f', state);
    expect(drain.flush).toEqual({
      status: 'Pending',
      document: 'phoenix-test-flush-logs',
      timeoutSeconds: 120,
      polls: 0,
    });
    const sent = await drainStep<FlushState>(DrainSteps.StartFlush, 'exec-f', { ...state, drain });
    expect(sent.status).toBe('Running');
    expect(sent.commandId).toMatch(/^[0-9a-f-]{36}$/);
    // A retried StartFlush sends nothing again.
    expect(
      await drainStep<FlushState>(DrainSteps.StartFlush, 'exec-f', {
        ...state,
        drain: { ...drain, flush: sent },
      }),
    ).toEqual(sent);
    const checked = await drainStep<FlushState>(DrainSteps.CheckFlush, 'exec-f', {
      ...state,
      drain: { ...drain, flush: sent },
    });
    expect(checked).toMatchObject({ status: 'Success', commandId: sent.commandId, polls: 1 });
  });

  it('an invalid flush timeout tag: the default applies, and DrainSettingInvalid says why', async () => {
    const { fleet, groupName, instances } = await fleetBehindTargetGroups(1, {
      [Tags.flushDocument]: 'phoenix-test-flush-logs',
      [Tags.flushTimeoutSeconds]: 'forever',
    });
    const state = { ...input(fleet, instances[0]!), instance: { groupName } };
    const drain = await drainStep<DrainState>(DrainSteps.DeregisterInstance, 'exec-i', state);
    expect(drain.flush).toMatchObject({ status: 'Pending', timeoutSeconds: 120 });
    expect(drain.flush.reason).toContain('"forever"');
    const reported = await outcomes.waitFor(
      (e) => e.detailType === DetailTypes.DrainSettingInvalid && e.detail['groupName'] === groupName,
    );
    expect(reported.detail).toMatchObject({
      tag: Tags.flushTimeoutSeconds,
      value: 'forever',
      timeoutSeconds: 120,
    });
  });

  it('a whole surge replacement drains the old instance first and reports the drain in InstanceReplaced', async () => {
    const { fleet, groupName, tgs, instances } = await fleetBehindTargetGroups(2, {
      [Tags.flushDocument]: 'phoenix-test-flush-logs',
    });
    const old = instances[0]!;
    const s = await drive(input(fleet, old), `${fleet}--${old}`);
    expect(s.replacement?.mode).toBe('surge');
    const view = await world.viewFleet(groupName);
    expect(view.desiredCapacity).toBe(2);
    expect(
      view.instances.filter((i) => i.lifecycleState === 'InService').map((i) => i.instanceId),
    ).not.toContain(old);
    // Tagged drained before it went: the lifecycle hook will not flush it again.
    expect(await instanceTag(old, Tags.drained)).toMatch(/^\d{4}-\d\d-\d\dT/);
    const reported = await outcomes.waitFor(
      (e) => e.detailType === DetailTypes.InstanceReplaced && e.detail['instanceId'] === old,
    );
    expect(reported.detail['drain']).toEqual({
      deregisteredFrom: expect.arrayContaining(tgs),
      delaySeconds: 45,
      flush: { status: 'Success', document: 'phoenix-test-flush-logs' },
    });
  });

  it('the lifecycle action of an instance Phoenix drained completes without a flush; another one is flushed', async () => {
    const { groupName, instances } = await fleetBehindTargetGroups(2, {
      [Tags.flushDocument]: 'phoenix-test-flush-logs',
    });
    const [a, b] = [instances[0]!, instances[1]!];
    await ec2.send(
      new CreateTagsCommand({
        Resources: [a],
        Tags: [{ Key: Tags.drained, Value: '2026-11-27T05:00:00.000Z' }],
      }),
    );
    const action = (instanceId: string) => ({
      instanceId,
      groupName,
      hookName: DRAIN_HOOK_NAME,
      token: '87654321-4321-4321-4321-210987654321',
      requestId: 'evt-hook',
    });
    const drained = await drainStep<DrainState & { drained: boolean }>(
      DrainSteps.ResolveLifecycleAction,
      'exec-h',
      action(a),
    );
    expect(drained).toMatchObject({ drained: true, flush: { status: 'Skipped' } });
    const other = await drainStep<DrainState & { drained: boolean; fleet?: string }>(
      DrainSteps.ResolveLifecycleAction,
      'exec-h',
      action(b),
    );
    expect(other).toMatchObject({ drained: false, deregisteredFrom: [], flush: { status: 'Pending' } });
    expect(other.fleet).toMatch(/^drn\d+$/);
    const flushed = await flush({ ...action(b), drain: other }, 'exec-h');
    expect(flushed.drain.flush.status).toBe('Success');
  });
});

describe('the termination hook phoenix-drain, kept by the reconcile sweep', () => {
  const hooks = async (groupName: string) =>
    (await autoScaling.send(new DescribeLifecycleHooksCommand({ AutoScalingGroupName: groupName })))
      .LifecycleHooks ?? [];
  const groupTag = async (groupName: string, key: string) =>
    (
      await autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] }))
    ).AutoScalingGroups?.[0]?.Tags?.find((t) => t.Key === key)?.Value;

  it('is installed when the group names a flush document, updated with its timeout, removed when the tag goes', async () => {
    const { fleet, groupName, instances } = await fleetBehindTargetGroups(2, {
      [Tags.flushDocument]: 'phoenix-test-flush-logs',
    });
    const first = await runReconcile({ fleet });
    expect(first.hooks).toEqual([{ groupName, action: 'installed', heartbeatSeconds: 240 }]);
    expect(await hooks(groupName)).toEqual([
      expect.objectContaining({
        LifecycleHookName: DRAIN_HOOK_NAME,
        LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
        HeartbeatTimeout: 240,
        DefaultResult: 'CONTINUE',
      }),
    ]);
    expect(await groupTag(groupName, Tags.drainHook)).toBe('240');
    // Steady state: nothing to change.
    expect((await runReconcile({ fleet })).hooks).toBeUndefined();
    // Someone removed the hook: the next sweep puts it back.
    await autoScaling.send(
      new DeleteLifecycleHookCommand({ AutoScalingGroupName: groupName, LifecycleHookName: DRAIN_HOOK_NAME }),
    );
    expect((await runReconcile({ fleet })).hooks).toEqual([
      { groupName, action: 'installed', heartbeatSeconds: 240 },
    ]);
    // A longer flush: a longer heartbeat.
    await world.tagGroup(groupName, Tags.flushTimeoutSeconds, '600');
    expect((await runReconcile({ fleet })).hooks).toEqual([
      { groupName, action: 'installed', heartbeatSeconds: 720 },
    ]);
    expect((await hooks(groupName))[0]?.HeartbeatTimeout).toBe(720);
    // With the hook in place, the emulator still terminates at once (it holds nothing).
    await autoScaling.send(
      new TerminateInstanceInAutoScalingGroupCommand({
        InstanceId: instances[0]!,
        ShouldDecrementDesiredCapacity: false,
      }),
    );
    // The owner opts out: the hook and its record go.
    await autoScaling.send(
      new DeleteTagsCommand({
        Tags: [{ ResourceId: groupName, ResourceType: 'auto-scaling-group', Key: Tags.flushDocument }],
      }),
    );
    expect((await runReconcile({ fleet })).hooks).toEqual([{ groupName, action: 'removed' }]);
    expect(await hooks(groupName)).toEqual([]);
    expect(await groupTag(groupName, Tags.drainHook)).toBeUndefined();
  });

  it('a group without a flush document gets no hook', async () => {
    const { fleet, groupName } = await fleetBehindTargetGroups(1);
    expect((await runReconcile({ fleet })).hooks).toBeUndefined();
    expect(await hooks(groupName)).toEqual([]);
  });
});
