/**
 * End to end in the local runtime: chaos over 48 simulated hours. Several fleets with chaos tags
 * (different mean intervals and hours; one rolled onto a second image first, so that its desired
 * image is not the one it was created with); the real chaos handler is invoked once per simulated
 * hour with EventBridge's Scheduled Event for that hour (and a second time, as EventBridge's retry
 * would, for some hours). After each period every fleet is back at its full healthy capacity on
 * its desired image, and no fleet lost two instances in one period; kills fall within each fleet's
 * hours only.
 */
import { describe, expect, it } from 'vitest';
import { readFleetRecord } from '../../lambdas/aws/store/fleet-records';
import { inChaosHours, parseChaosHours } from '../../lambdas/domain/chaos';
import { DetailTypes, Handlers, Tags } from '../../lambdas/domain/contract';
import { useLocalRuntime } from '../support/local-runtime';

const local = useLocalRuntime();

const HOUR_MS = 3_600_000;
const START = Date.UTC(2026, 10, 27, 0, 0, 0);

interface ChaosFleet {
  fleet: string;
  groupName: string;
  size: number;
  desiredImage: string;
  hours: string;
}

/** EventBridge's Scheduled Event for the rule, at `time` (the shape the router fires locally). */
function scheduledEvent(time: Date) {
  const rule = local.runtime.resources.ruleQueues.find((q) => q.rule.logicalId.includes('ChaosRule'));
  expect(rule, 'the chaos rule is provisioned locally').toBeDefined();
  return {
    version: '0',
    id: `chaos-${time.getTime()}`,
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: local.runtime.account,
    time: time.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: local.runtime.region,
    resources: [rule!.rule.arn],
    detail: {},
  };
}

describe('chaos over 48 simulated hours', () => {
  it('kills at random within the hours, once per period at most, and every fleet is always back at full capacity on its desired image', async () => {
    // Fleet `web`: rolled onto image B before chaos starts (its group points at the new version).
    const webA = await local.world.registerImage('web-a', 'web');
    const webGroup = await local.world.createFleet({
      fleet: 'web',
      imageId: webA,
      size: 3,
      tags: { [Tags.chaos]: '0.125', [Tags.chaosHours]: '00-24' },
    });
    const webB = await local.world.registerImage('web-b', 'web');
    await local.world.publishImage(local.busName, webB);
    await local.outcomes.waitFor(
      (e) => e.detailType === DetailTypes.RolloutSucceeded && e.detail['fleet'] === 'web',
      60_000,
    );
    expect((await readFleetRecord('web'))?.desiredImage).toBe(webB);

    const fleets: ChaosFleet[] = [
      { fleet: 'web', groupName: webGroup, size: 3, desiredImage: webB, hours: '00-24' },
    ];
    for (const [fleet, size, mean, hours] of [
      ['api', 4, '0.02', '09-17'], // a kill due in every period of its hours
      ['batch', 2, '0.25', '22-06'], // nights, wrapping midnight
    ] as const) {
      const imageId = await local.world.registerImage(`${fleet}-a`, fleet);
      const groupName = await local.world.createFleet({
        fleet,
        imageId,
        size,
        tags: { [Tags.chaos]: mean, [Tags.chaosHours]: hours },
      });
      fleets.push({ fleet, groupName, size, desiredImage: imageId, hours });
    }
    // A managed fleet without the chaos tag is never touched.
    const calmImage = await local.world.registerImage('calm-a', 'calm');
    const calmGroup = await local.world.createFleet({ fleet: 'calm', imageId: calmImage, size: 2 });
    const calmInstances = (await local.world.viewFleet(calmGroup)).instances.map((i) => i.instanceId).sort();

    const chaos = local.runtime.resources.functions[Handlers.chaos]!;
    const killsOf = new Map<string, string[]>(); // fleet → periods with a kill
    let total = 0;
    for (let h = 0; h < 48; h++) {
      const time = new Date(START + h * HOUR_MS + 7 * 60_000); // 7 minutes past the hour
      const before = new Map<string, string[]>();
      for (const f of fleets) {
        before.set(
          f.fleet,
          (await local.world.viewFleet(f.groupName)).instances.map((i) => i.instanceId),
        );
      }
      const summary = (await local.runtime.host.invoke(chaos.name, scheduledEvent(time))) as {
        kills: number;
        fleets: number;
        period: string;
      };
      expect(summary.fleets).toBe(3);
      expect(summary.period).toBe(new Date(START + h * HOUR_MS).toISOString());
      if (h % 5 === 0) {
        // EventBridge delivering the same scheduled event again: nothing more happens.
        const retry = (await local.runtime.host.invoke(chaos.name, scheduledEvent(time))) as {
          kills: number;
        };
        expect(retry.kills).toBe(0);
      }
      total += summary.kills;

      for (const f of fleets) {
        const view = await local.world.viewFleet(f.groupName);
        const serving = view.instances.filter(
          (i) => i.lifecycleState === 'InService' && i.healthStatus === 'Healthy',
        );
        expect(view.desiredCapacity, `${f.fleet} desired at hour ${h}`).toBe(f.size);
        expect(serving, `${f.fleet} serving at hour ${h}`).toHaveLength(f.size);
        expect(
          serving.every((i) => i.imageId === f.desiredImage),
          `${f.fleet} on its desired image at hour ${h}`,
        ).toBe(true);
        const gone = before.get(f.fleet)!.filter((id) => !view.instances.some((i) => i.instanceId === id));
        expect(gone.length, `${f.fleet} kills at hour ${h}`).toBeLessThanOrEqual(1);
        if (gone.length === 1) {
          const record = await readFleetRecord(f.fleet);
          expect(record?.lastChaosKill).toMatchObject({ instanceId: gone[0], period: summary.period });
          const hours = parseChaosHours(f.hours);
          expect(hours.ok && inChaosHours(hours.value, time), `${f.fleet} killed outside ${f.hours}`).toBe(
            true,
          );
          killsOf.set(f.fleet, [...(killsOf.get(f.fleet) ?? []), summary.period]);
        }
      }
    }

    // `api` (p = 1 in its 8 hours a day) lost one instance in each of its 16 periods.
    expect(killsOf.get('api')).toHaveLength(16);
    // The others lost some, at random (p = 1/3 and 1/6 per period).
    expect(killsOf.get('web')?.length ?? 0).toBeGreaterThan(0);
    expect(killsOf.get('batch')?.length ?? 0).toBeGreaterThan(0);
    const counted = [...killsOf.values()].reduce((n, periods) => n + periods.length, 0);
    expect(counted).toBe(total);

    // One ChaosKill outcome per kill, never two for a fleet and period.
    await expect
      .poll(() => local.outcomes.received.filter((e) => e.detailType === DetailTypes.ChaosKill).length, {
        timeout: 30_000,
      })
      .toBe(total);
    const keys = local.outcomes.received
      .filter((e) => e.detailType === DetailTypes.ChaosKill)
      .map((e) => `${String(e.detail['fleet'])}@${String(e.detail['period'])}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(local.outcomes.received.filter((e) => e.detailType === DetailTypes.ChaosSkipped)).toEqual([]);

    expect((await local.world.viewFleet(calmGroup)).instances.map((i) => i.instanceId).sort()).toEqual(
      calmInstances,
    );
  }, 240_000);
});
