/**
 * End to end in the local runtime, drain: a fleet behind a target group with a flush document is
 * replaced after a status-check alarm (the Replace workflow deregisters, waits the deregistration
 * delay, runs the flush, then terminates), and Auto Scaling's termination lifecycle action of the
 * hook phoenix-drain (the real published sample, hook name, group and instance rewritten) runs the
 * Drain workflow.
 *
 * The emulator (moto 5.2.5) does not implement CompleteLifecycleAction: the Drain workflow ends
 * DrainFailed here after its retries (what it would report in AWS if the call kept failing), after
 * the flush ran; completion itself is unit-tested with aws-sdk-client-mock
 * (test/unit/drain-complete.test.ts).
 */
import { AttachLoadBalancerTargetGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeVpcsCommand } from '@aws-sdk/client-ec2';
import {
  CreateTargetGroupCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ModifyTargetGroupAttributesCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { CreateDocumentCommand } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { DetailTypes, DRAIN_HOOK_NAME, Tags } from '../../lambdas/domain/contract';
import { worldClients } from '../../local/world';
import { awsEvent, derive } from '../support/fixtures';
import { REGION, useLocalRuntime } from '../support/local-runtime';
import { statusCheckAlarm } from '../support/replace-events';

const local = useLocalRuntime();
const { deliver } = local;

async function drainedFleet(fleet: string) {
  const clients = worldClients({ endpoint: local.endpoint, region: REGION });
  const elb = new ElasticLoadBalancingV2Client({
    region: REGION,
    endpoint: local.endpoint,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  await clients.ssm.send(
    new CreateDocumentCommand({
      Name: `${fleet}-flush`,
      DocumentType: 'Command',
      Content: JSON.stringify({
        schemaVersion: '2.2',
        description: 'flush',
        mainSteps: [{ action: 'aws:runShellScript', name: 'flush', inputs: { runCommand: ['sync'] } }],
      }),
    }),
  );
  const image = await local.world.registerImage(`${fleet}-a`);
  const group = await local.world.createFleet({
    fleet,
    imageId: image,
    size: 2,
    tags: { [Tags.flushDocument]: `${fleet}-flush` },
  });
  const vpcId = (await clients.ec2.send(new DescribeVpcsCommand({}))).Vpcs![0]!.VpcId!;
  const tg = (
    await elb.send(
      new CreateTargetGroupCommand({
        Name: `${fleet}-tg`,
        Protocol: 'HTTP',
        Port: 80,
        VpcId: vpcId,
        // The adoption contract: drain deregisters only from target groups tagged phoenix:fleet.
        Tags: [{ Key: Tags.fleet, Value: fleet }],
      }),
    )
  ).TargetGroups![0]!.TargetGroupArn!;
  await elb.send(
    new ModifyTargetGroupAttributesCommand({
      TargetGroupArn: tg,
      Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '20' }],
    }),
  );
  await clients.autoScaling.send(
    new AttachLoadBalancerTargetGroupsCommand({ AutoScalingGroupName: group, TargetGroupARNs: [tg] }),
  );
  const instances = (await local.world.viewFleet(group)).instances.map((i) => i.instanceId);
  const registered = async () =>
    ((await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tg }))).TargetHealthDescriptions ?? [])
      .filter((d) => d.TargetHealth?.State !== 'unused')
      .map((d) => d.Target!.Id!);
  return { group, tg, instances, registered };
}

describe('drain, end to end', () => {
  it('a replacement drains the old instance (target group, delay, flush) before it goes', async () => {
    const { group, tg, instances, registered } = await drainedFleet('drn-e2e');
    const target = instances[0]!;
    expect(await registered()).toContain(target);
    await deliver(statusCheckAlarm(target));
    const replaced = await local.outcomes.waitFor(
      (e) => e.detailType === DetailTypes.InstanceReplaced && e.detail['instanceId'] === target,
      60_000,
    );
    expect(replaced.detail['drain']).toEqual({
      deregisteredFrom: [tg],
      delaySeconds: 20,
      flush: { status: 'Success', document: 'drn-e2e-flush' },
    });
    expect(await registered()).not.toContain(target);
    const view = await local.world.viewFleet(group);
    expect(view.instances.filter((i) => i.lifecycleState === 'InService')).toHaveLength(2);
  }, 90_000);

  it('the termination lifecycle action of phoenix-drain runs the Drain workflow: flush, then completion', async () => {
    const { group, instances } = await drainedFleet('drn-hook');
    const event = derive(awsEvent('aws.autoscaling', 'terminate-lifecycle-action'), {
      LifecycleHookName: DRAIN_HOOK_NAME,
      AutoScalingGroupName: group,
      EC2InstanceId: instances[1]!,
    });
    const result = await deliver(event);
    expect(result.intent).toBe('drain');
    // moto has no CompleteLifecycleAction: the workflow reports DrainFailed, after the flush ran.
    const ended = await local.outcomes.waitFor(
      (e) =>
        (e.detailType === DetailTypes.DrainFailed || e.detailType === DetailTypes.InstanceDrained) &&
        e.detail['instanceId'] === instances[1],
      60_000,
    );
    expect(ended.detailType).toBe(DetailTypes.DrainFailed);
    expect(ended.detail).toMatchObject({ groupName: group, hook: DRAIN_HOOK_NAME, fleet: 'drn-hook' });
    const execution = local.runtime.stepFunctions
      .listExecutions()
      .find((e) => e.name === result.drain!.execution)!;
    const entered = execution.events
      .filter((e) => e.type.endsWith('StateEntered'))
      .map((e) => (e['stateEnteredEventDetails'] as { name: string }).name);
    expect(entered).toEqual(
      expect.arrayContaining([
        'ResolveLifecycleAction',
        'StartFlush',
        'CheckFlush',
        'CompleteLifecycleAction',
      ]),
    );
    expect(entered.indexOf('CheckFlush')).toBeLessThan(entered.indexOf('CompleteLifecycleAction'));
  }, 90_000);
});
