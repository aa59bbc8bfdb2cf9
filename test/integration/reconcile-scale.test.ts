/**
 * The reconcile sweep's AWS calls at scale, against the emulator: the count follows the page math
 * (100 groups per DescribeAutoScalingGroups page, 1000 instances per DescribeInstances, 100 fleet
 * records per BatchGetItem, 1000 images per DescribeImages, one PutEvents) and does not grow with
 * the number of fleets otherwise. The full 1,000 instances in 20 fleets are in the benchmark.
 */
import { DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { beforeAll, describe, expect, it } from 'vitest';
import { recordOutcome } from '../../lambdas/aws/store/history';
import { DetailTypes } from '../../lambdas/domain/contract';
import { runReconcile } from '../../lambdas/steps/reconcile';
import type { OutcomeListener } from '../../local/outcomes';
import { World, worldClients } from '../../local/world';
import { freshWorld } from '../support/control-plane';

let world: World;
let outcomes: OutcomeListener;
let image: string;
let clients: ReturnType<typeof worldClients>;

beforeAll(async () => {
  const fx = await freshWorld();
  ({ world, clients, outcomes } = fx);
  image = await world.registerImage('scale-a');
  return fx.stop;
});

/** `count` fleets of `size` instances on `image`, each with a record that wants `image`. */
async function fleets(prefix: string, count: number, size: number) {
  for (let i = 0; i < count; i++) {
    const fleet = `${prefix}${String(i).padStart(3, '0')}`;
    await world.createFleet({ fleet, imageId: image, size });
    await recordOutcome({
      fleet,
      execution: `seed-${fleet}`,
      entry: {
        imageId: image,
        outcome: 'succeeded',
        at: new Date().toISOString(),
        execution: `seed-${fleet}`,
      },
      desiredImage: image,
      now: new Date(),
    });
  }
}

async function allInstanceIds(): Promise<string[]> {
  const ids: string[] = [];
  let token: string | undefined;
  do {
    const page = await clients.autoScaling.send(
      new DescribeAutoScalingGroupsCommand({ MaxRecords: 100, NextToken: token }),
    );
    for (const g of page.AutoScalingGroups ?? []) for (const i of g.Instances ?? []) ids.push(i.InstanceId!);
    token = page.NextToken;
  } while (token);
  return ids;
}

/** How many pages the emulator answers DescribeInstances of these ids (1000 per request) with. */
async function describeInstancesPages(ids: string[]): Promise<number> {
  let pages = 0;
  for (let i = 0; i < ids.length; i += 1000) {
    let token: string | undefined;
    do {
      pages++;
      const page = await clients.ec2.send(
        new DescribeInstancesCommand({ InstanceIds: ids.slice(i, i + 1000), NextToken: token }),
      );
      token = page.NextToken;
    } while (token);
  }
  return pages;
}

/** The calls a sweep in step (no difference) must make: page math only. */
function expectedCalls(groups: number, instances: number, fleetCount: number, images: number) {
  return {
    DescribeAutoScalingGroups: Math.max(1, Math.ceil(groups / 100)),
    // The members by id, 1000 per call, and one page of the instances tagged phoenix:fleet (strays).
    DescribeInstances: Math.ceil(instances / 1000) + 1,
    BatchGetItem: Math.ceil(fleetCount / 100),
    DescribeImages: Math.ceil(images / 1000),
    PutEvents: 1,
  };
}

describe('reconcile call count at scale', () => {
  it('20 fleets of 10 instances: 6 calls, as for 1 fleet', async () => {
    await fleets('s', 20, 10);
    const report = await runReconcile();
    expect(report).toMatchObject({ fleets: 20, instances: 200, differences: 0, started: 0 });
    expect(report.calls).toEqual(expectedCalls(20, 200, 20, 1));
    expect(report.apiCalls).toBe(6);
    const done = await outcomes.waitFor(
      (e) => e.detailType === DetailTypes.ReconcileCompleted && e.detail['fleets'] === 20,
    );
    expect(done.detail).toMatchObject({ instances: 200, apiCalls: 6 });
  }, 120_000);

  it('120 fleets: a second page of groups and a second BatchGetItem, nothing per fleet', async () => {
    await fleets('t', 100, 1);
    const report = await runReconcile();
    expect(report).toMatchObject({ fleets: 120, instances: 300, differences: 0, started: 0 });
    // The emulator pages DescribeInstances at 100 reservations even for a list of ids (AWS answers
    // up to 1000 ids in one page): as many calls as the emulator has pages, no more.
    const pages = await describeInstancesPages(await allInstanceIds());
    expect(pages).toBe(2);
    expect(report.calls).toEqual({ ...expectedCalls(120, 300, 120, 1), DescribeInstances: pages + 1 });
    expect(report.apiCalls).toBe(7 + pages);
    const done = await outcomes.waitFor(
      (e) => e.detailType === DetailTypes.ReconcileCompleted && e.detail['fleets'] === 120,
    );
    expect(done.detail).toMatchObject({ instances: 300, apiCalls: 7 + pages });
  }, 180_000);
});
