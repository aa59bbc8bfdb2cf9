/**
 * End to end in the local runtime: the reconcile sweep's schedule fires (rate(5 minutes) × the
 * time scale), finds a fleet instance tainted behind Phoenix's back (its replacement was never
 * started: the event was lost) and hands it to the Replace workflow, which replaces it.
 */
import { CreateTagsCommand } from '@aws-sdk/client-ec2';
import { UpdateAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import { describe, expect, it } from 'vitest';
import { DetailTypes, Tags } from '../../lambdas/domain/contract';
import { replaceExecutionName } from '../../lambdas/domain/replace';
import { worldClients } from '../../local/world';
import { REGION, useLocalRuntime } from '../support/local-runtime';

// rate(5 minutes) × 0.02: a sweep every 6 s.
const local = useLocalRuntime({ timeScale: 0.02, fireSchedules: true });

describe('the reconcile sweep in the local runtime', () => {
  it('replaces an instance tainted behind its back, on schedule, through the Replace workflow', async () => {
    const image = await local.world.registerImage('base');
    const group = await local.world.createFleet({ fleet: 'swept', imageId: image, size: 2 });
    const clients = worldClients({ endpoint: local.endpoint, region: REGION });
    await clients.autoScaling.send(
      new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: group, MaxSize: 3 }),
    );
    const [instance] = (await local.world.viewFleet(group)).instances;
    await clients.ec2.send(
      new CreateTagsCommand({
        Resources: [instance!.instanceId],
        Tags: [{ Key: Tags.tainted, Value: 'drift' }],
      }),
    );
    const sweep = await local.outcomes.waitFor(
      (e) => e.detailType === DetailTypes.ReconcileCompleted && Number(e.detail['started']) >= 1,
      30_000,
    );
    expect(sweep.detail).toMatchObject({ fleets: 1, instances: 2, differences: 1, started: 1 });
    expect(Number(sweep.detail['apiCalls'])).toBeGreaterThan(0);
    const replaced = await local.outcomes.waitFor(
      (e) => e.detailType === DetailTypes.InstanceReplaced && e.detail['instanceId'] === instance!.instanceId,
      30_000,
    );
    expect(replaced.detail).toMatchObject({
      fleet: 'swept',
      cause: 'drift',
      execution: expect.stringContaining(replaceExecutionName('swept', instance!.instanceId)),
    });
    const view = await local.world.viewFleet(group);
    const serving = view.instances.filter((i) => i.lifecycleState === 'InService');
    expect(serving.map((i) => i.instanceId)).not.toContain(instance!.instanceId);
    expect(serving).toHaveLength(2);
  }, 90_000);
});
