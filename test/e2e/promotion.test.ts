/**
 * End to end in the local runtime (issue 13 §1, §4, §5): a staging fleet and a prod fleet, prod
 * declared `{ promoteFrom: 'staging', after: 6 s }`, the promotion check on its schedule
 * (rate(1 minute) × 0.02: every 1.2 s). Publish to staging → the staging fleet rolls → after the
 * delay the image is promoted (ImagePromoted, the prod parameter's new version, written by the
 * promote function through PutParameter; the emulator emits Parameter Store Change as AWS does) →
 * the prod fleet rolls. A manual approval holds a promotion until `phoenix approve`; a gating
 * alarm in ALARM blocks one (PromotionBlocked). A broken image rolls back in staging, is
 * quarantined, and never reaches prod. `phoenix channels --json` shows the pipeline.
 * The timeline is printed at the local time scale.
 */
import { SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import { describe, expect, it } from 'vitest';
import { DetailTypes } from '../../lambdas/domain/contract';
import { worldClients } from '../../local/world';
import { REGION, useLocalRuntime } from '../support/local-runtime';

const TIME_SCALE = 0.02;
const local = useLocalRuntime({
  timeScale: TIME_SCALE,
  fireSchedules: true,
  stackProps: {
    controlPlane: {
      channels: {
        staging: {},
        prod: { promoteFrom: 'staging', after: Duration.seconds(6) },
        'canary-p': { promoteFrom: 'canary-s', after: Duration.seconds(0), approval: true },
        'gate-p': { promoteFrom: 'gate-s', after: Duration.seconds(8) },
        'broken-p': { promoteFrom: 'broken-s', after: Duration.seconds(0) },
      },
      promotionSchedule: events.Schedule.rate(Duration.minutes(1)),
    },
  },
});

const phoenix = (args: string[]) => local.phoenix(args);

const succeeded = (fleet: string, imageId: string) =>
  local.outcomes.waitFor(
    (e) =>
      e.detailType === DetailTypes.RolloutSucceeded &&
      e.detail['fleet'] === fleet &&
      e.detail['imageId'] === imageId,
    90_000,
  );
const outcome = (type: string, channel: string, imageId: string, timeoutMs = 60_000) =>
  local.outcomes.waitFor(
    (e) => e.detailType === type && e.detail['channel'] === channel && e.detail['imageId'] === imageId,
    timeoutMs,
  );
const parameter = async (channel: string) =>
  (
    await worldClients({ endpoint: local.endpoint, region: REGION }).ssm.send(
      new GetParameterCommand({ Name: `/phoenix/channels/${channel}` }),
    )
  ).Parameter!;

describe('promotion in the local runtime', () => {
  it('publish to staging → staging rolls → promoted after the delay → prod rolls (timeline)', async () => {
    const base = await local.world.registerImage('web-base');
    await local.world.createFleet({ fleet: 'web-staging', imageId: base, size: 2, channel: 'staging' });
    const prodGroup = await local.world.createFleet({
      fleet: 'web-prod',
      imageId: base,
      size: 2,
      channel: 'prod',
    });
    const image = await local.world.registerImage('web-v2');
    const t0 = Date.now();
    const stagingDone = succeeded('web-staging', image);
    const promotedEvent = outcome(DetailTypes.ImagePromoted, 'prod', image, 90_000);
    const prodDone = succeeded('web-prod', image);
    await local.world.setChannelParameter('staging', image);

    const waiting = await outcome(DetailTypes.PromotionWaiting, 'prod', image);
    expect(waiting.detail['waitingFor']).toEqual(
      expect.arrayContaining([expect.stringMatching(/fleets-not-rolled|delay/)]),
    );
    await stagingDone;
    const t1 = Date.now();
    const promoted = await promotedEvent;
    const t2 = Date.now();
    expect(promoted.detail).toMatchObject({
      from: 'staging',
      imageId: image,
      delaySeconds: 6,
      healthReplacements: 0,
      fleets: [{ fleet: 'web-staging', healthReplacements: 0 }],
    });
    expect(t2 - t1).toBeGreaterThanOrEqual(5_000);
    const param = await parameter('prod');
    expect(param.Value).toBe(image);
    expect(param.Version).toBe(promoted.detail['parameterVersion']);
    await prodDone;
    const t3 = Date.now();
    const view = await local.world.viewFleet(prodGroup);
    expect(view.instances.filter((i) => i.lifecycleState === 'InService').map((i) => i.imageId)).toEqual([
      image,
      image,
    ]);
    // Promoted once: however many checks ran since.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(
      local.outcomes.received.filter(
        (e) => e.detailType === DetailTypes.ImagePromoted && e.detail['channel'] === 'prod',
      ),
    ).toHaveLength(1);
    console.log(
      `promotion timeline (time scale ${TIME_SCALE}, after 6 s, check every ${60 * TIME_SCALE} s): publish 0 s → staging done ${((t1 - t0) / 1000).toFixed(1)} s → promoted ${((t2 - t0) / 1000).toFixed(1)} s → prod done ${((t3 - t0) / 1000).toFixed(1)} s`,
    );

    const channels = await phoenix(['channels', '--json']);
    expect(channels.code).toBe(0);
    const model = JSON.parse(channels.stdout) as {
      channels: { channel: string; upstream?: string; image?: string }[];
    };
    expect(model.channels.find((c) => c.channel === 'prod')).toMatchObject({ upstream: 'staging', image });
    const text = await phoenix(['channels']);
    expect(text.stdout.split('\n')[0]).toMatch(/^CHANNEL\s+FROM\s+IMAGE\s+PROMOTION/);
  }, 240_000);

  it('a manual approval holds the promotion until phoenix approve', async () => {
    const base = await local.world.registerImage('api-base');
    await local.world.createFleet({ fleet: 'api-s', imageId: base, size: 1, channel: 'canary-s' });
    const image = await local.world.registerImage('api-v2');
    const stagingDone = succeeded('api-s', image);
    await local.world.setChannelParameter('canary-s', image);
    await stagingDone;
    const held = await local.outcomes.waitFor(
      (e) =>
        e.detailType === DetailTypes.PromotionWaiting &&
        e.detail['channel'] === 'canary-p' &&
        (e.detail['waitingFor'] as string[]).join() === 'approval',
      30_000,
    );
    expect(held.detail['imageId']).toBe(image);
    await new Promise((r) => setTimeout(r, 3_000)); // several checks: still held
    expect(
      local.outcomes.received.some(
        (e) => e.detailType === DetailTypes.ImagePromoted && e.detail['channel'] === 'canary-p',
      ),
    ).toBe(false);
    const channels = await phoenix(['channels']);
    expect(channels.stdout).toMatch(new RegExp(`canary-p\\s+canary-s\\s+-\\s+${image} waiting: approval`));

    const promoted = outcome(DetailTypes.ImagePromoted, 'canary-p', image);
    const approve = await phoenix(['approve', 'canary-p', image, '--json']);
    expect(approve.code).toBe(0);
    const report = JSON.parse(approve.stdout) as { by: string; alreadyApproved: boolean };
    expect(report).toMatchObject({ alreadyApproved: false, by: expect.stringMatching(/^arn:aws:/) });
    await outcome(DetailTypes.PromotionApproved, 'canary-p', image);
    expect((await promoted).detail).toMatchObject({ approvedBy: report.by });
    expect((await parameter('canary-p')).Value).toBe(image);
    const again = await phoenix(['approve', 'canary-p', image]);
    expect(again.stdout).toContain('already approved');
    expect((await phoenix(['approve', 'canary-p', 'not-an-image'])).code).not.toBe(0);
  }, 180_000);

  it('a gating alarm in ALARM blocks the promotion (PromotionBlocked)', async () => {
    const clients = worldClients({ endpoint: local.endpoint, region: REGION });
    await local.world.createAlarm('gate-s-errors');
    await clients.cloudWatch.send(
      new SetAlarmStateCommand({ AlarmName: 'gate-s-errors', StateValue: 'OK', StateReason: 'quiet' }),
    );
    const base = await local.world.registerImage('gate-base');
    await local.world.createFleet({
      fleet: 'gate-s-fleet',
      imageId: base,
      size: 1,
      channel: 'gate-s',
      tags: { 'phoenix:alarms': 'gate-s-errors' },
    });
    const image = await local.world.registerImage('gate-v2');
    const stagingDone = succeeded('gate-s-fleet', image);
    await local.world.setChannelParameter('gate-s', image);
    await stagingDone;
    await clients.cloudWatch.send(
      new SetAlarmStateCommand({ AlarmName: 'gate-s-errors', StateValue: 'ALARM', StateReason: 'errors' }),
    );
    const blocked = await outcome(DetailTypes.PromotionBlocked, 'gate-p', image);
    expect(blocked.detail).toMatchObject({ blockedBy: 'alarm', subjects: ['gate-s-errors'] });
    await new Promise((r) => setTimeout(r, 10_000)); // past the delay: still blocked
    expect(
      local.outcomes.received.some(
        (e) => e.detailType === DetailTypes.ImagePromoted && e.detail['channel'] === 'gate-p',
      ),
    ).toBe(false);
    const channels = await phoenix(['channels']);
    expect(channels.stdout).toMatch(new RegExp(`gate-p\\s+gate-s\\s+-\\s+${image} BLOCKED \\(alarm\\)`));
  }, 180_000);

  it('a broken image rolls back in staging, is quarantined and never reaches prod', async () => {
    const base = await local.world.registerImage('pay-base');
    await local.world.createFleet({ fleet: 'pay-s', imageId: base, size: 2, channel: 'broken-s' });
    const prodGroup = await local.world.createFleet({
      fleet: 'pay-p',
      imageId: base,
      size: 2,
      channel: 'broken-p',
    });
    const broken = await local.world.registerImage('pay-v2');
    await local.world.markImageBroken(broken);
    const rolledBack = local.outcomes.waitFor(
      (e) =>
        e.detailType === DetailTypes.RolloutRolledBack &&
        e.detail['fleet'] === 'pay-s' &&
        e.detail['imageId'] === broken,
      120_000,
    );
    const quarantined = local.outcomes.waitFor(
      (e) => e.detailType === DetailTypes.ImageQuarantined && e.detail['imageId'] === broken,
      120_000,
    );
    const blocked = outcome(DetailTypes.PromotionBlocked, 'broken-p', broken, 120_000);
    await local.world.setChannelParameter('broken-s', broken);
    await rolledBack;
    expect((await quarantined).detail).toMatchObject({ fleet: 'pay-s', reason: 'health' });
    // The check sees the rollback or the quarantine, whichever it reads first: blocked either way.
    expect(['quarantined', 'rollback']).toContain((await blocked).detail['blockedBy']);
    await new Promise((r) => setTimeout(r, 5_000)); // several checks past the delay (0 s)
    const about = (e: { detail: Record<string, unknown> }) =>
      e.detail['imageId'] === broken && (e.detail['channel'] === 'broken-p' || e.detail['fleet'] === 'pay-p');
    expect(
      local.outcomes.received
        .filter(about)
        .map((e) => e.detailType)
        .filter((t) => t === DetailTypes.ImagePromoted || t.startsWith('Rollout')),
    ).toEqual([]);
    const prodParameter = await parameter('broken-p').catch(() => undefined);
    expect(prodParameter?.Value).not.toBe(broken);
    const view = await local.world.viewFleet(prodGroup);
    expect(view.instances.map((i) => i.imageId)).toEqual([base, base]);
    const channels = await phoenix(['channels', '--json']);
    expect(channels.stdout).toContain(broken);
  }, 240_000);
});
