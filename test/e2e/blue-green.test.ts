/**
 * End to end in the local runtime: a fleet tagged `phoenix:strategy=blue-green` (and one with a
 * canary) is rolled onto a published image through the emulator's EventBridge, the real handlers
 * and the synthesized workflow; the result is read back through the emulator's APIs.
 */
import {
  AttachLoadBalancerTargetGroupsCommand,
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
} from '@aws-sdk/client-auto-scaling';
import { DescribeVpcsCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  CreateTargetGroupCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { describe, expect, it } from 'vitest';
import { DetailTypes } from '../../lambdas/domain/contract';
import { readFleetRecord } from '../../lambdas/aws/store/fleet-records';
import { REGION, useLocalRuntime } from '../support/local-runtime';

const local = useLocalRuntime();

function clients() {
  const config = {
    region: REGION,
    endpoint: local.endpoint,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  };
  return {
    autoScaling: new AutoScalingClient(config),
    ec2: new EC2Client(config),
    elb: new ElasticLoadBalancingV2Client(config),
  };
}

/** A fleet of `size` on image A behind one target group, tagged for blue-green; then image B is published. */
async function rollBlueGreen(fleet: string, size: number, tags: Record<string, string> = {}) {
  const { autoScaling, ec2, elb } = clients();
  const imageA = await local.world.registerImage(`${fleet}-a`, fleet);
  const groupName = await local.world.createFleet({
    fleet,
    imageId: imageA,
    size,
    tags: { 'phoenix:strategy': 'blue-green', 'phoenix:bake-seconds': '60', ...tags },
  });
  const vpcId = (await ec2.send(new DescribeVpcsCommand({}))).Vpcs![0]!.VpcId!;
  const tg = (
    await elb.send(
      new CreateTargetGroupCommand({ Name: `${fleet}-tg`, Protocol: 'HTTP', Port: 80, VpcId: vpcId }),
    )
  ).TargetGroups![0]!.TargetGroupArn!;
  await autoScaling.send(
    new AttachLoadBalancerTargetGroupsCommand({ AutoScalingGroupName: groupName, TargetGroupARNs: [tg] }),
  );
  const imageB = await local.world.registerImage(`${fleet}-b`, fleet);
  const ended = local.executionEnd(fleet);
  await local.world.publishImage(local.busName, imageB);
  const execution = await ended;

  const tagged = await autoScaling.send(
    new DescribeAutoScalingGroupsCommand({ Filters: [{ Name: `tag:phoenix:fleet`, Values: [fleet] }] }),
  );
  const old = await autoScaling.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] }),
  );
  const health = await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tg }));
  return { execution, imageA, imageB, groupName, tg, tagged: tagged.AutoScalingGroups ?? [], old, health };
}

describe('blue-green rollout', () => {
  it('a fleet of 6 ends as one group tagged phoenix:fleet, 6 instances on the new image, the old group gone', async () => {
    const fleet = 'bluegreen';
    const r = await rollBlueGreen(fleet, 6);
    expect(r.execution.status).toBe('SUCCEEDED');

    expect(r.tagged).toHaveLength(1);
    const green = r.tagged[0]!;
    expect(green.AutoScalingGroupName).not.toBe(r.groupName);
    expect(r.old.AutoScalingGroups ?? []).toHaveLength(0);
    expect(green.DesiredCapacity).toBe(6);
    expect(green.TargetGroupARNs).toEqual([r.tg]);
    const view = await local.world.viewFleet(green.AutoScalingGroupName!);
    const running = view.instances.filter((i) => i.lifecycleState === 'InService');
    expect(running.map((i) => i.imageId)).toEqual(Array(6).fill(r.imageB));
    // The target group serves exactly green's instances.
    const healthy = (r.health.TargetHealthDescriptions ?? [])
      .filter((d) => d.TargetHealth?.State === 'healthy')
      .map((d) => d.Target!.Id!)
      .sort();
    expect(healthy).toEqual(running.map((i) => i.instanceId).sort());

    const record = await readFleetRecord(fleet);
    expect(record).toMatchObject({ desiredImage: r.imageB, previousImage: r.imageA });
    expect(record?.activeRollout).toBeUndefined();
    const succeeded = await local.outcomes.waitFor(
      (e) => e.detailType === DetailTypes.RolloutSucceeded && e.detail['fleet'] === fleet,
    );
    expect(succeeded.detail).toMatchObject({
      imageId: r.imageB,
      previousImageId: r.imageA,
      instancesReplaced: 6,
    });
  });

  it('an alarm during the bake rolls back: green is deleted, the fleet stays on its group and image', async () => {
    const fleet = 'bgalarm';
    const alarm = 'bgalarm-5xx';
    const { autoScaling, ec2, elb } = clients();
    await local.world.createAlarm(alarm);
    const imageA = await local.world.registerImage(`${fleet}-a`, fleet);
    const groupName = await local.world.createFleet({
      fleet,
      imageId: imageA,
      size: 3,
      // 600 s of bake at the runtime's time scale (0.01): 6 s.
      tags: { 'phoenix:strategy': 'blue-green', 'phoenix:bake-seconds': '600', 'phoenix:alarms': alarm },
    });
    const vpcId = (await ec2.send(new DescribeVpcsCommand({}))).Vpcs![0]!.VpcId!;
    const tg = (
      await elb.send(
        new CreateTargetGroupCommand({ Name: `${fleet}-tg`, Protocol: 'HTTP', Port: 80, VpcId: vpcId }),
      )
    ).TargetGroups![0]!.TargetGroupArn!;
    await autoScaling.send(
      new AttachLoadBalancerTargetGroupsCommand({ AutoScalingGroupName: groupName, TargetGroupARNs: [tg] }),
    );
    const blueIds = (await local.world.viewFleet(groupName)).instances.map((i) => i.instanceId).sort();
    const imageB = await local.world.registerImage(`${fleet}-b`, fleet);
    const ended = local.executionEnd(fleet);
    await local.world.publishImage(local.busName, imageB);

    // Once green is attached to the target group (it bakes next), the alarm fires.
    const greens = () =>
      autoScaling.send(
        new DescribeAutoScalingGroupsCommand({
          Filters: [{ Name: 'tag:phoenix:green-of', Values: [fleet] }],
        }),
      );
    for (let i = 0; ; i++) {
      const green = (await greens()).AutoScalingGroups?.[0];
      if ((green?.TargetGroupARNs ?? []).length > 0) break;
      expect(i).toBeLessThan(400);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await local.world.setAlarmState(alarm, 'ALARM');

    const execution = await ended;
    expect(execution.status).toBe('SUCCEEDED');
    expect(JSON.parse(execution.output!)).toMatchObject({ outcome: 'RolloutRolledBack' });
    const rolledBack = await local.outcomes.waitFor(
      (e) => e.detailType === DetailTypes.RolloutRolledBack && e.detail['fleet'] === fleet,
    );
    expect(rolledBack.detail['reason']).toContain(`alarm ${alarm} is in ALARM`);
    expect(['CheckAlarmsAfterGreen', 'CheckAlarmsAfterGreenBake']).toContain(rolledBack.detail['step']);

    expect((await greens()).AutoScalingGroups ?? []).toHaveLength(0);
    const tagged = await autoScaling.send(
      new DescribeAutoScalingGroupsCommand({ Filters: [{ Name: 'tag:phoenix:fleet', Values: [fleet] }] }),
    );
    expect((tagged.AutoScalingGroups ?? []).map((g) => g.AutoScalingGroupName)).toEqual([groupName]);
    const view = await local.world.viewFleet(groupName);
    expect(view.desiredCapacity).toBe(3);
    expect(view.instances.map((i) => i.instanceId).sort()).toEqual(blueIds);
    expect(view.instances.map((i) => i.imageId)).toEqual(Array(3).fill(imageA));
    const health = await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tg }));
    expect(
      (health.TargetHealthDescriptions ?? [])
        .filter((d) => d.TargetHealth?.State === 'healthy')
        .map((d) => d.Target!.Id!)
        .sort(),
    ).toEqual(blueIds);
    expect((await readFleetRecord(fleet))?.activeRollout).toBeUndefined();
  });

  it('canary: green starts at one instance and ends at the fleet capacity', async () => {
    const fleet = 'bgcanary';
    const r = await rollBlueGreen(fleet, 3, { 'phoenix:canary': 'true' });
    expect(r.execution.status).toBe('SUCCEEDED');
    expect(r.tagged).toHaveLength(1);
    expect(r.old.AutoScalingGroups ?? []).toHaveLength(0);
    const view = await local.world.viewFleet(r.tagged[0]!.AutoScalingGroupName!);
    expect(view.instances.filter((i) => i.lifecycleState === 'InService').map((i) => i.imageId)).toEqual(
      Array(3).fill(r.imageB),
    );
    const events = JSON.stringify(r.execution);
    expect(events).toContain('ScaleGreenGroup');
  });
});
