/**
 * End to end in the local runtime, one event of each intent: real published samples (with real
 * ids put in place of their placeholders) go into the emulator's EventBridge, the synthesized
 * rules route them, the intake handles them, and the outcome is read back from the Phoenix bus.
 */
import { describe, expect, it } from 'vitest';
import { DetailTypes } from '../../lambdas/domain/contract';
import { UpdateAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import { worldClients } from '../../local/world';
import { awsEvent, derive } from '../support/fixtures';
import { REGION, useLocalRuntime } from '../support/local-runtime';

const local = useLocalRuntime();
const { deliver } = local;

describe('one event of each intent', () => {
  it('replace: a status-check alarm on a fleet instance gets it replaced, surge first, capacity kept', async () => {
    const image = await local.world.registerImage('base');
    const group = await local.world.createFleet({ fleet: 'web', imageId: image, size: 2 });
    // Room for one more: the replacement surges.
    await worldClients({ endpoint: local.endpoint, region: REGION }).autoScaling.send(
      new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: group, MaxSize: 3 }),
    );
    const [instance] = (await local.world.viewFleet(group)).instances;
    // Watch the serving capacity through the emulator's APIs while the replacement runs.
    const seen: number[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const view = await local.world.viewFleet(group);
        seen.push(
          view.instances.filter((i) => i.lifecycleState === 'InService' && i.healthStatus === 'Healthy')
            .length,
        );
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    })();
    const sample = awsEvent('aws.cloudwatch', 'alarm-state-change-status-check-failed');
    const metrics = structuredClone(sample['detail'].configuration.metrics);
    metrics[0].metricStat.metric.dimensions.InstanceId = instance!.instanceId;
    const result = await deliver(
      derive(sample, { configuration: { ...sample['detail'].configuration, metrics } }),
    );
    expect(result.intent).toBe('replace');
    const replaced = await local.outcomes.waitFor(
      (e) => e.detailType === DetailTypes.InstanceReplaced && e.detail['instanceId'] === instance!.instanceId,
      60_000,
    );
    watching = false;
    await watcher;
    expect(replaced.detail).toMatchObject({ fleet: 'web', cause: 'health', mode: 'surge' });
    const view = await local.world.viewFleet(group);
    expect(view.desiredCapacity).toBe(2);
    const inService = view.instances.filter((i) => i.lifecycleState === 'InService');
    expect(inService.map((i) => i.instanceId)).not.toContain(instance!.instanceId);
    expect(inService).toHaveLength(2);
    // The new instance runs the fleet's desired image (its launch template's).
    expect(inService.map((i) => i.instanceId)).toContain(replaced.detail['replacementInstanceId']);
    expect(inService.every((i) => i.imageId === image)).toBe(true);
    expect(seen.length).toBeGreaterThan(0);
    expect(Math.min(...seen)).toBeGreaterThanOrEqual(2);
    // Announced once, and nothing else announced for it.
    expect(
      local.outcomes.received.filter(
        (e) =>
          e.detail['instanceId'] === instance!.instanceId && e.detailType !== DetailTypes.InstanceReplaced,
      ),
    ).toEqual([]);
  });

  it('replace, unmanaged: a shell opened on an instance outside any fleet is reported and left alone', async () => {
    const image = await local.world.registerImage('base');
    const stray = await local.world.runStrayInstance(image);
    const sample = awsEvent('aws.ssm', 'cloudtrail-start-session');
    const result = await deliver(derive(sample, { requestParameters: { target: stray } }));
    expect(result.intent).toBe('replace');
    const skipped = await local.outcomes.waitFor(
      (e) => e.detailType === DetailTypes.ReplacementSkipped && e.detail['instanceId'] === stray,
    );
    expect(skipped.detail).toMatchObject({ cause: 'shell-access' });
  });

  it('ignore: a CPU alarm reaches the intake (the rule cannot filter metrics) and changes nothing', async () => {
    const before = local.outcomes.received.length;
    const result = await deliver(awsEvent('aws.cloudwatch', 'alarm-state-change-cpu-utilization'));
    expect(result).toMatchObject({ intent: 'ignore', reason: expect.stringContaining('CPUUtilization') });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(local.outcomes.received.slice(before)).toEqual([]);
  });

  it('rollout: an Image Builder image rolls the fleets of its AMI channel', async () => {
    const base = await local.world.registerImage('base', 'built');
    const group = await local.world.createFleet({ fleet: 'built', imageId: base, size: 2 });
    const arn = `arn:aws:imagebuilder:${REGION}:123456789012:image/built-recipe/2.0.0/1`;
    const image = await local.world.registerImage('built-2.0.0-1', 'built');
    await local.world.tagImageWith(image, 'Ec2ImageBuilderArn', arn);
    const sample = awsEvent('aws.imagebuilder', 'image-state-change-available');
    const result = await deliver({ ...sample, resources: [arn] });
    expect(result.intent).toBe('rollout');
    await local.outcomes.waitFor(
      (e) => e.detailType === DetailTypes.RolloutSucceeded && e.detail['fleet'] === 'built',
      60_000,
    );
    const view = await local.world.viewFleet(group);
    expect(view.instances.filter((i) => i.lifecycleState === 'InService').map((i) => i.imageId)).toEqual([
      image,
      image,
    ]);
  });
});
