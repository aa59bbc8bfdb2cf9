/**
 * End to end in the local runtime: events go into the emulator's EventBridge exactly as anyone
 * would put them (SDK against the endpoint), the synthesized rules route them, the real handlers
 * and the synthesized workflow run, and the result is read back through the emulator's Auto
 * Scaling and EC2 APIs.
 */
import { ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { DetailTypes, Handlers } from '../../lambdas/domain/contract';
import { readFleetRecord } from '../../lambdas/aws/store/fleet-records';
import { REGION, useLocalRuntime } from '../support/local-runtime';

const local = useLocalRuntime();

/** The next execution for `fleet` to end. */
const executionsOf = (fleet: string) =>
  local.runtime.stepFunctions
    .listExecutions()
    .filter((e) => (JSON.parse(e.input) as { fleet?: string }).fleet === fleet);

async function fleetOf(fleet: string, size = 4) {
  const imageA = await local.world.registerImage(`${fleet}-a`, fleet);
  const groupName = await local.world.createFleet({ fleet, imageId: imageA, size });
  return { imageA, groupName };
}

const inService = async (groupName: string) =>
  (await local.world.viewFleet(groupName)).instances.filter((i) => i.lifecycleState === 'InService');

describe('a published image rolls the fleet', () => {
  it('AMI State Change: every instance ends on the new image, recorded, announced, delivered once', async () => {
    const { groupName, imageA } = await fleetOf('web');
    const imageB = await local.world.registerImage('web-b', 'web');
    const ended = local.executionEnd('web');

    // Duplicate delivery: hand the intake the very event EventBridge delivered, a second time.
    const intakeRuleQueue = local.runtime.resources.ruleQueues.find((q) =>
      q.rule.eventPattern?.includes('EC2 AMI State Change'),
    )!;
    const firstDelivery = local.runtime.router.waitForDelivery((d) =>
      JSON.stringify(d.payload).includes(imageB),
    );
    await local.world.announceImage(imageB);
    const delivered = await firstDelivery;
    expect(delivered.outcome).toBe('succeeded');
    const duplicate = local.runtime.router.waitForDelivery((d) => JSON.stringify(d.payload).includes(imageB));
    await new SQSClient({ region: REGION, endpoint: local.runtime.endpoint }).send(
      new SendMessageCommand({
        QueueUrl: intakeRuleQueue.queueUrl,
        MessageBody: JSON.stringify(delivered.payload),
      }),
    );
    // The same event again: the intake's idempotency record says it was handled; nothing starts.
    expect((await duplicate).result).toMatchObject({ duplicateEvent: true, started: [] });

    const execution = await ended;
    expect(execution.status).toBe('SUCCEEDED');
    expect(executionsOf('web')).toHaveLength(1);

    const view = await local.world.viewFleet(groupName);
    expect(view.desiredCapacity).toBe(4);
    const running = view.instances.filter((i) => i.lifecycleState === 'InService');
    expect(running).toHaveLength(4);
    expect(running.every((i) => i.imageId === imageB)).toBe(true);

    const record = await readFleetRecord('web');
    expect(record).toMatchObject({ desiredImage: imageB, previousImage: imageA });
    expect(record?.activeRollout).toBeUndefined();
    const succeeded = await local.outcomes.waitFor(
      (e) => e.detailType === DetailTypes.RolloutSucceeded && e.detail['fleet'] === 'web',
    );
    expect(succeeded.detail).toMatchObject({
      imageId: imageB,
      previousImageId: imageA,
      instancesReplaced: 4,
    });
  });

  it('SSM channel parameter: the fleet rolls onto the image the parameter names', async () => {
    const { groupName } = await fleetOf('golden', 2);
    const imageB = await local.world.registerImage('golden-b');
    const ended = local.executionEnd('golden');
    await local.world.setChannelParameter('golden', imageB);
    expect((await ended).status).toBe('SUCCEEDED');
    const running = await inService(groupName);
    expect(running.map((i) => i.imageId)).toEqual([imageB, imageB]);
  });

  it('PublishImage command: rolls the fleets of the image channel', async () => {
    const { groupName } = await fleetOf('api', 3);
    const imageB = await local.world.registerImage('api-b', 'api');
    const ended = local.executionEnd('api');
    await local.world.publishImage(local.busName, imageB);
    expect((await ended).status).toBe('SUCCEEDED');
    expect((await inService(groupName)).every((i) => i.imageId === imageB)).toBe(true);
  });
});

describe('gates', () => {
  it('a gating alarm that goes to ALARM during the rollout rolls it back: the fleet ends on the old image, at capacity', async () => {
    const fleet = 'gated';
    const alarm = 'gated-5xx';
    await local.world.createAlarm(alarm);
    const imageA = await local.world.registerImage(`${fleet}-a`, fleet);
    const groupName = await local.world.createFleet({
      fleet,
      imageId: imageA,
      size: 4,
      // Warm-up and bake are Wait states, scaled by the local runtime's time scale (0.01: 3 s of bake).
      tags: { 'phoenix:alarms': alarm, 'phoenix:max-surge': '2', 'phoenix:bake-seconds': '300' },
    });
    const imageB = await local.world.registerImage(`${fleet}-b`, fleet);
    const ended = local.executionEnd(fleet);
    await local.world.publishImage(local.busName, imageB);

    // Once the first new instance serves, the alarm fires.
    for (let i = 0; ; i++) {
      const running = await inService(groupName);
      if (running.some((r) => r.imageId === imageB)) break;
      expect(i).toBeLessThan(200);
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
    expect(['CheckAlarmsAfterBatch', 'CheckAlarmsAfterBake']).toContain(rolledBack.detail['step']);

    const view = await local.world.viewFleet(groupName);
    expect(view.desiredCapacity).toBe(4);
    const running = view.instances.filter((i) => i.lifecycleState === 'InService');
    expect(running.map((i) => i.imageId)).toEqual(Array(4).fill(imageA));
    expect((await readFleetRecord(fleet))?.activeRollout).toBeUndefined();
  });

  it('a gating alarm already in ALARM rejects the rollout before anything changes', async () => {
    const fleet = 'held';
    await local.world.createAlarm('held-5xx');
    await local.world.setAlarmState('held-5xx', 'ALARM');
    const imageA = await local.world.registerImage(`${fleet}-a`, fleet);
    const groupName = await local.world.createFleet({
      fleet,
      imageId: imageA,
      size: 2,
      tags: { 'phoenix:alarms': 'held-5xx' },
    });
    const imageB = await local.world.registerImage(`${fleet}-b`, fleet);
    const before = await local.world.viewFleet(groupName);
    const ended = local.executionEnd(fleet);
    await local.world.publishImage(local.busName, imageB);
    const execution = await ended;
    expect(execution.status).toBe('SUCCEEDED');
    expect(JSON.parse(execution.output!)).toMatchObject({ outcome: 'RolloutRejected' });
    const rejected = await local.outcomes.waitFor(
      (e) => e.detailType === DetailTypes.RolloutRejected && e.detail['fleet'] === fleet,
    );
    expect(rejected.detail['reason']).toContain('alarm held-5xx is in ALARM before the start');
    expect(await local.world.viewFleet(groupName)).toEqual(before);
  });
});

describe('what is not rolled out', () => {
  it('an image that does not exist is rejected with RolloutRejected, and the fleet is untouched', async () => {
    const { groupName } = await fleetOf('safe', 2);
    const before = await local.world.viewFleet(groupName);
    const ended = local.executionEnd('safe');
    await local.world.publishImage(local.busName, 'ami-0000000000000dead', 'safe');
    const execution = await ended;
    expect(execution.status).toBe('SUCCEEDED');
    expect(JSON.parse(execution.output!)).toMatchObject({ outcome: 'RolloutRejected' });
    const rejected = await local.outcomes.waitFor(
      (e) => e.detailType === DetailTypes.RolloutRejected && e.detail['fleet'] === 'safe',
    );
    expect(rejected.detail['reason']).toContain('ami-0000000000000dead does not exist');
    const after = await local.world.viewFleet(groupName);
    expect(after).toEqual(before);
    expect((await readFleetRecord('safe'))?.activeRollout).toBeUndefined();
  });

  it('a malformed command is not lost: it reaches the intake dead-letter queue with its error', async () => {
    const deadLettered = local.runtime.router.waitForDelivery((d) => d.outcome === 'dead-lettered');
    await local.world.putRaw({
      EventBusName: local.busName,
      Source: 'phoenix.command',
      DetailType: 'PublishImage',
      Detail: '{"channel":"web"}',
    });
    const delivery = await deadLettered;
    expect(delivery.error?.errorType).toBe('MalformedEventError');
    expect(delivery.attempts).toBe(3);

    const intake = local.runtime.model.functions.find((f) => f.handler === Handlers.intake)!;
    const dlq = local.runtime.model.findQueue(intake.deadLetterArn!)!;
    const messages = await new SQSClient({ region: REGION, endpoint: local.runtime.endpoint }).send(
      new ReceiveMessageCommand({
        QueueUrl: dlq.url,
        MaxNumberOfMessages: 10,
        MessageAttributeNames: ['All'],
      }),
    );
    const bodies = (messages.Messages ?? []).map((m) => m.Body ?? '');
    expect(bodies.some((b) => b.includes('"channel":"web"'))).toBe(true);
  });
});
