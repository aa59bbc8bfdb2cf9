/**
 * End to end in the local runtime: events go into the emulator's EventBridge exactly as anyone
 * would put them (SDK against the endpoint), the synthesized rules route them, the real handlers
 * and the synthesized workflow run, and the result is read back through the emulator's Auto
 * Scaling and EC2 APIs.
 */
import { ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DetailTypes, Handlers } from '../../lambdas/domain/contract';
import { readFleetRecord } from '../../lambdas/aws/store';
import { resetEmulator } from '../../local/emulator';
import { silentLogger } from '../../local/log';
import { type OutcomeListener, listenToOutcomes } from '../../local/outcomes';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime';
import type { ExecutionRecord } from '../../local/stepfunctions';
import { World } from '../../local/world';
import { inject } from 'vitest';

const REGION = 'us-east-1';
let runtime: LocalRuntime;
let world: World;
let outcomes: OutcomeListener;
let busName: string;

beforeAll(async () => {
  const endpoint = inject('emulatorEndpoint');
  await resetEmulator(endpoint);
  runtime = await startLocalRuntime({
    emulatorEndpoint: endpoint,
    region: REGION,
    timeScale: 0.01,
    // No reconcile sweeps here (test/e2e/reconcile.test.ts has them): only what the test causes.
    fireSchedules: false,
    log: silentLogger,
  });
  world = new World({ endpoint, region: REGION });
  busName = runtime.resources.eventBusName!;
  outcomes = await listenToOutcomes({ endpoint, region: REGION, eventBusName: busName });
});

afterAll(async () => {
  await outcomes?.stop();
  await runtime?.stop();
});

/** The next execution for `fleet` to end. */
function executionEnd(fleet: string, timeoutMs = 60_000): Promise<ExecutionRecord> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no rollout of ${fleet} ended within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = runtime.stepFunctions.onExecutionEnd((record) => {
      if ((JSON.parse(record.input) as { fleet?: string }).fleet === fleet) {
        clearTimeout(timer);
        off();
        resolve(record);
      }
    });
  });
}

const executionsOf = (fleet: string) =>
  runtime.stepFunctions
    .listExecutions()
    .filter((e) => (JSON.parse(e.input) as { fleet?: string }).fleet === fleet);

async function fleetOf(fleet: string, size = 4) {
  const imageA = await world.registerImage(`${fleet}-a`, fleet);
  const groupName = await world.createFleet({ fleet, imageId: imageA, size });
  return { imageA, groupName };
}

const inService = async (groupName: string) =>
  (await world.viewFleet(groupName)).instances.filter((i) => i.lifecycleState === 'InService');

describe('a published image rolls the fleet', () => {
  it('AMI State Change: every instance ends on the new image, recorded, announced, delivered once', async () => {
    const { groupName, imageA } = await fleetOf('web');
    const imageB = await world.registerImage('web-b', 'web');
    const ended = executionEnd('web');

    // Duplicate delivery: hand the intake the very event EventBridge delivered, a second time.
    const intakeRuleQueue = runtime.resources.ruleQueues.find((q) =>
      q.rule.eventPattern?.includes('EC2 AMI State Change'),
    )!;
    const firstDelivery = runtime.router.waitForDelivery((d) => JSON.stringify(d.payload).includes(imageB));
    await world.announceImage(imageB);
    const delivered = await firstDelivery;
    expect(delivered.outcome).toBe('succeeded');
    const duplicate = runtime.router.waitForDelivery((d) => JSON.stringify(d.payload).includes(imageB));
    await new SQSClient({ region: REGION, endpoint: runtime.endpoint }).send(
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

    const view = await world.viewFleet(groupName);
    expect(view.desiredCapacity).toBe(4);
    const running = view.instances.filter((i) => i.lifecycleState === 'InService');
    expect(running).toHaveLength(4);
    expect(running.every((i) => i.imageId === imageB)).toBe(true);

    const record = await readFleetRecord('web');
    expect(record).toMatchObject({ desiredImage: imageB, previousImage: imageA });
    expect(record?.activeRollout).toBeUndefined();
    const succeeded = await outcomes.waitFor(
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
    const imageB = await world.registerImage('golden-b');
    const ended = executionEnd('golden');
    await world.setChannelParameter('golden', imageB);
    expect((await ended).status).toBe('SUCCEEDED');
    const running = await inService(groupName);
    expect(running.map((i) => i.imageId)).toEqual([imageB, imageB]);
  });

  it('PublishImage command: rolls the fleets of the image channel', async () => {
    const { groupName } = await fleetOf('api', 3);
    const imageB = await world.registerImage('api-b', 'api');
    const ended = executionEnd('api');
    await world.publishImage(busName, imageB);
    expect((await ended).status).toBe('SUCCEEDED');
    expect((await inService(groupName)).every((i) => i.imageId === imageB)).toBe(true);
  });
});

describe('gates', () => {
  it('a gating alarm that goes to ALARM during the rollout rolls it back: the fleet ends on the old image, at capacity', async () => {
    const fleet = 'gated';
    const alarm = 'gated-5xx';
    await world.createAlarm(alarm);
    const imageA = await world.registerImage(`${fleet}-a`, fleet);
    const groupName = await world.createFleet({
      fleet,
      imageId: imageA,
      size: 4,
      // Warm-up and bake are Wait states, scaled by the runtime's time scale (0.01: 3 s of bake).
      tags: { 'phoenix:alarms': alarm, 'phoenix:max-surge': '2', 'phoenix:bake-seconds': '300' },
    });
    const imageB = await world.registerImage(`${fleet}-b`, fleet);
    const ended = executionEnd(fleet);
    await world.publishImage(busName, imageB);

    // Once the first new instance serves, the alarm fires.
    for (let i = 0; ; i++) {
      const running = await inService(groupName);
      if (running.some((r) => r.imageId === imageB)) break;
      expect(i).toBeLessThan(200);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await world.setAlarmState(alarm, 'ALARM');

    const execution = await ended;
    expect(execution.status).toBe('FAILED');
    expect(execution.error).toBe('RolloutRolledBack');
    const rolledBack = await outcomes.waitFor(
      (e) => e.detailType === DetailTypes.RolloutRolledBack && e.detail['fleet'] === fleet,
    );
    expect(rolledBack.detail['reason']).toContain(`alarm ${alarm} is in ALARM`);
    expect(['CheckAlarmsAfterBatch', 'CheckAlarmsAfterBake']).toContain(rolledBack.detail['step']);

    const view = await world.viewFleet(groupName);
    expect(view.desiredCapacity).toBe(4);
    const running = view.instances.filter((i) => i.lifecycleState === 'InService');
    expect(running.map((i) => i.imageId)).toEqual(Array(4).fill(imageA));
    expect((await readFleetRecord(fleet))?.activeRollout).toBeUndefined();
  });

  it('a gating alarm already in ALARM rejects the rollout before anything changes', async () => {
    const fleet = 'held';
    await world.createAlarm('held-5xx');
    await world.setAlarmState('held-5xx', 'ALARM');
    const imageA = await world.registerImage(`${fleet}-a`, fleet);
    const groupName = await world.createFleet({
      fleet,
      imageId: imageA,
      size: 2,
      tags: { 'phoenix:alarms': 'held-5xx' },
    });
    const imageB = await world.registerImage(`${fleet}-b`, fleet);
    const before = await world.viewFleet(groupName);
    const ended = executionEnd(fleet);
    await world.publishImage(busName, imageB);
    const execution = await ended;
    expect(execution.error).toBe('RolloutRejected');
    const rejected = await outcomes.waitFor(
      (e) => e.detailType === DetailTypes.RolloutRejected && e.detail['fleet'] === fleet,
    );
    expect(rejected.detail['reason']).toContain('alarm held-5xx is in ALARM before the start');
    expect(await world.viewFleet(groupName)).toEqual(before);
  });
});

describe('what is not rolled out', () => {
  it('an image that does not exist is rejected with RolloutRejected, and the fleet is untouched', async () => {
    const { groupName } = await fleetOf('safe', 2);
    const before = await world.viewFleet(groupName);
    const ended = executionEnd('safe');
    await world.publishImage(busName, 'ami-0000000000000dead', 'safe');
    const execution = await ended;
    expect(execution.status).toBe('FAILED');
    expect(execution.error).toBe('RolloutRejected');
    const rejected = await outcomes.waitFor(
      (e) => e.detailType === DetailTypes.RolloutRejected && e.detail['fleet'] === 'safe',
    );
    expect(rejected.detail['reason']).toContain('ami-0000000000000dead does not exist');
    const after = await world.viewFleet(groupName);
    expect(after).toEqual(before);
    expect((await readFleetRecord('safe'))?.activeRollout).toBeUndefined();
  });

  it('a malformed command is not lost: it reaches the intake dead-letter queue with its error', async () => {
    const deadLettered = runtime.router.waitForDelivery((d) => d.outcome === 'dead-lettered');
    await world.putRaw({
      EventBusName: busName,
      Source: 'phoenix.command',
      DetailType: 'PublishImage',
      Detail: '{"channel":"web"}',
    });
    const delivery = await deadLettered;
    expect(delivery.error?.errorType).toBe('MalformedEventError');
    expect(delivery.attempts).toBe(3);

    const intake = runtime.model.functions.find((f) => f.handler === Handlers.intake)!;
    const dlq = runtime.model.findQueue(intake.deadLetterArn!)!;
    const messages = await new SQSClient({ region: REGION, endpoint: runtime.endpoint }).send(
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
