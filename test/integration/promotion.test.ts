/**
 * The promotion check against the emulator (lambdas/steps/promote.ts): it promotes through the
 * channel parameter (a new version), once; it announces waiting once per image and reason; a
 * gating alarm in ALARM blocks; the emulator emits "Parameter Store Change" for a channel
 * parameter, as Parameter Store does; and the AWS calls per check stay flat as upstream fleets
 * grow (2 and 20 fleets: printed, and equal).
 */
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { beforeAll, describe, expect, it } from 'vitest';
import { claimPromotion } from '../../lambdas/aws/channels';
import { recordOutcome } from '../../lambdas/aws/store/history';
import { DetailTypes } from '../../lambdas/domain/contract';
import type { PromotionRule } from '../../lambdas/domain/promotion';
import { runPromotion } from '../../lambdas/steps/promote';
import type { OutcomeListener } from '../../local/outcomes';
import { World, worldClients } from '../../local/world';
import { freshWorld } from '../support/control-plane';

let world: World;
let outcomes: OutcomeListener;
let clients: ReturnType<typeof worldClients>;
let clientConfig: Awaited<ReturnType<typeof freshWorld>>['clientConfig'];
let oldImage: string;
let newImage: string;

beforeAll(async () => {
  const fx = await freshWorld();
  ({ world, clients, outcomes } = fx);
  clientConfig = fx.clientConfig;
  oldImage = await world.registerImage('promo-old');
  newImage = await world.registerImage('promo-new');
  return fx.stop;
});

const HOUR = 3600_000;
const rule = (prefix: string, extra: Partial<PromotionRule> = {}): PromotionRule => ({
  channel: `${prefix}-prod`,
  promoteFrom: `${prefix}-staging`,
  afterSeconds: 3600,
  approval: false,
  maxHealthReplacements: 0,
  ...extra,
});

/** `count` fleets following `<prefix>-staging`, each fully rolled on the new image 2 hours ago. */
async function stagingFleets(prefix: string, count: number, tags: Record<string, string> = {}) {
  const rolledAt = new Date(Date.now() - 2 * HOUR).toISOString();
  for (let i = 0; i < count; i++) {
    const fleet = `${prefix}-s${String(i).padStart(2, '0')}`;
    await world.createFleet({ fleet, imageId: newImage, size: 1, channel: `${prefix}-staging`, tags });
    await recordOutcome({
      fleet,
      execution: `seed-${fleet}`,
      entry: { imageId: newImage, outcome: 'succeeded', at: rolledAt, execution: `seed-${fleet}` },
      desiredImage: newImage,
      now: new Date(),
    });
  }
  await world.setChannelParameter(`${prefix}-staging`, newImage);
  await world.setChannelParameter(`${prefix}-prod`, oldImage);
}

const parameterVersion = async (channel: string) =>
  (await clients.ssm.send(new GetParameterCommand({ Name: `/phoenix/channels/${channel}` }))).Parameter!;

describe('promotion check', () => {
  it('promotes once through the channel parameter, with the evidence; calls per check flat for 2 and 20 fleets', async () => {
    const figures: Record<number, { apiCalls: number; calls: Record<string, number> }> = {};
    for (const count of [2, 20]) {
      const prefix = `p${count}`;
      await stagingFleets(prefix, count);
      const before = await parameterVersion(`${prefix}-prod`);
      const report = await runPromotion({ rules: [rule(prefix)] });
      const [check] = report.channels;
      expect(check).toMatchObject({ decision: { kind: 'promote', imageId: newImage }, action: 'promoted' });
      const after = await parameterVersion(`${prefix}-prod`);
      expect(after.Value).toBe(newImage);
      expect(after.Version).toBe(before.Version! + 1);
      const promoted = await outcomes.waitFor(
        (e) => e.detailType === DetailTypes.ImagePromoted && e.detail['channel'] === `${prefix}-prod`,
      );
      expect(promoted.detail).toMatchObject({
        from: `${prefix}-staging`,
        imageId: newImage,
        previousImageId: oldImage,
        parameterVersion: after.Version,
        delaySeconds: 3600,
      });
      expect(promoted.detail['fleets']).toHaveLength(count);
      figures[count] = { apiCalls: report.apiCalls, calls: report.calls };
      // Level-triggered and idempotent: the next check finds it promoted and does nothing.
      const again = await runPromotion({ rules: [rule(prefix)] });
      expect(again.channels[0]).toMatchObject({ decision: { kind: 'idle' } });
      expect((await parameterVersion(`${prefix}-prod`)).Version).toBe(after.Version);
    }
    console.log(`promotion check API calls: 2 upstream fleets ${JSON.stringify(figures[2])}`);
    console.log(`promotion check API calls: 20 upstream fleets ${JSON.stringify(figures[20])}`);
    expect(figures[20]!.calls).toEqual(figures[2]!.calls);
  });

  it('a claim is taken once: the second claim of the same image loses', async () => {
    const now = new Date();
    expect(await claimPromotion('claim-prod', 'ami-12345678', 'claim-staging', now)).toBe(true);
    expect(await claimPromotion('claim-prod', 'ami-12345678', 'claim-staging', now)).toBe(false);
  });

  it('waits for an approval, announced once per image and reason', async () => {
    await stagingFleets('ap', 1);
    const r = rule('ap', { approval: true });
    const first = await runPromotion({ rules: [r] });
    const second = await runPromotion({ rules: [r] });
    expect(first.channels[0]).toMatchObject({
      decision: { kind: 'wait', waitingFor: ['approval'] },
      action: 'announced',
    });
    expect(second.channels[0]).toMatchObject({ action: 'unchanged' });
    await outcomes.waitFor(
      (e) => e.detailType === DetailTypes.PromotionWaiting && e.detail['channel'] === 'ap-prod',
    );
    expect(
      outcomes.received.filter(
        (e) => e.detailType === DetailTypes.PromotionWaiting && e.detail['channel'] === 'ap-prod',
      ),
    ).toHaveLength(1);
  });

  it('a gating alarm in ALARM blocks the promotion (PromotionBlocked)', async () => {
    await world.createAlarm('promo-gate');
    await clients.cloudWatch.send(
      new SetAlarmStateCommand({ AlarmName: 'promo-gate', StateValue: 'ALARM', StateReason: 'test' }),
    );
    await stagingFleets('al', 1, { 'phoenix:alarms': 'promo-gate' });
    const report = await runPromotion({ rules: [rule('al')] });
    expect(report.channels[0]).toMatchObject({
      decision: { kind: 'blocked', blockedBy: 'alarm', subjects: ['promo-gate'] },
    });
    const blocked = await outcomes.waitFor(
      (e) => e.detailType === DetailTypes.PromotionBlocked && e.detail['channel'] === 'al-prod',
    );
    expect(blocked.detail).toMatchObject({ blockedBy: 'alarm', imageId: newImage });
    expect((await parameterVersion('al-prod')).Value).toBe(oldImage);
  });
});

describe('the emulator emits Parameter Store Change for a channel parameter', () => {
  it('on the default bus, shaped as AWS shapes it (Create, then Update)', async () => {
    const sqs = new SQSClient(clientConfig);
    const url = (await sqs.send(new CreateQueueCommand({ QueueName: 'ssm-change-listener' }))).QueueUrl!;
    const arn = (
      await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))
    ).Attributes!['QueueArn']!;
    await clients.eventBridge.send(
      new PutRuleCommand({ Name: 'ssm-change', EventPattern: JSON.stringify({ source: ['aws.ssm'] }) }),
    );
    await clients.eventBridge.send(
      new PutTargetsCommand({ Rule: 'ssm-change', Targets: [{ Id: 'q', Arn: arn }] }),
    );
    await world.setChannelParameter('ssm-check', oldImage);
    await world.setChannelParameter('ssm-check', newImage);
    await world.putParameter('/corp/not-a-channel', newImage);
    const bodies: Record<string, any>[] = [];
    for (let i = 0; i < 10 && bodies.length < 2; i++) {
      const page = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 1, MaxNumberOfMessages: 10 }),
      );
      for (const m of page.Messages ?? []) bodies.push(JSON.parse(m.Body!));
    }
    expect(bodies.map((b) => [b['detail-type'], b['source'], b['detail']])).toEqual([
      [
        'Parameter Store Change',
        'aws.ssm',
        {
          exception: 'Unable to Describe Resource',
          dataType: 'aws:ec2:image',
          name: '/phoenix/channels/ssm-check',
          type: 'String',
          operation: 'Create',
        },
      ],
      [
        'Parameter Store Change',
        'aws.ssm',
        {
          exception: 'Unable to Describe Resource',
          dataType: 'aws:ec2:image',
          name: '/phoenix/channels/ssm-check',
          type: 'String',
          operation: 'Update',
        },
      ],
    ]);
    expect(bodies[0]!['resources']).toEqual([
      expect.stringMatching(/^arn:aws:ssm:[a-z0-9-]+:\d{12}:parameter\/phoenix\/channels\/ssm-check$/),
    ]);
  });
});
