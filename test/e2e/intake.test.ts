/**
 * End to end in the local runtime, one event of each intent: real published samples (with real
 * ids put in place of their placeholders) go into the emulator's EventBridge, the synthesized
 * rules route them, the intake handles them, and the outcome is read back from the Phoenix bus.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DetailTypes } from '../../lambdas/domain/contract';
import { resetEmulator } from '../../local/emulator';
import { silentLogger } from '../../local/log';
import { type OutcomeListener, listenToOutcomes } from '../../local/outcomes';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime';
import { World } from '../../local/world';
import { awsEvent, derive } from '../support/fixtures';

const REGION = 'us-east-1';
let runtime: LocalRuntime;
let world: World;
let outcomes: OutcomeListener;

beforeAll(async () => {
  const endpoint = inject('emulatorEndpoint');
  await resetEmulator(endpoint);
  runtime = await startLocalRuntime({
    emulatorEndpoint: endpoint,
    region: REGION,
    timeScale: 0.01,
    log: silentLogger,
  });
  world = new World({ endpoint, region: REGION });
  outcomes = await listenToOutcomes({
    endpoint,
    region: REGION,
    eventBusName: runtime.resources.eventBusName!,
  });
});

afterAll(async () => {
  await outcomes?.stop();
  await runtime?.stop();
});

/** Put a (derived) sample on the default bus as its AWS source would, and wait for the intake to handle it. */
async function deliver(event: Record<string, any>) {
  const marker = JSON.stringify(event['detail']);
  const delivered = runtime.router.waitForDelivery(
    (d) => JSON.stringify((d.payload as { detail?: unknown }).detail) === marker,
  );
  await world.putRaw({
    Source: event['source'],
    DetailType: event['detail-type'],
    Detail: JSON.stringify(event['detail']),
    Resources: event['resources'] ?? [],
  });
  const delivery = await delivered;
  expect(delivery.outcome).toBe('succeeded');
  return delivery.result as { intent: string; reason?: string };
}

describe('one event of each intent', () => {
  it('replace: a status-check alarm on a fleet instance asks for its replacement', async () => {
    const image = await world.registerImage('base');
    const group = await world.createFleet({ fleet: 'web', imageId: image, size: 2 });
    const [instance] = (await world.viewFleet(group)).instances;
    const sample = awsEvent('aws.cloudwatch', 'alarm-state-change-status-check-failed');
    const metrics = structuredClone(sample['detail'].configuration.metrics);
    metrics[0].metricStat.metric.dimensions.InstanceId = instance!.instanceId;
    const result = await deliver(
      derive(sample, { configuration: { ...sample['detail'].configuration, metrics } }),
    );
    expect(result.intent).toBe('replace');
    const requested = await outcomes.waitFor(
      (e) =>
        e.detailType === DetailTypes.ReplacementRequested && e.detail['instanceId'] === instance!.instanceId,
    );
    expect(requested.detail).toMatchObject({ fleet: 'web', cause: 'health' });
  });

  it('replace, unmanaged: a shell opened on an instance outside any fleet is reported and left alone', async () => {
    const image = await world.registerImage('base');
    const stray = await world.runStrayInstance(image);
    const sample = awsEvent('aws.ssm', 'cloudtrail-start-session');
    const result = await deliver(derive(sample, { requestParameters: { target: stray } }));
    expect(result.intent).toBe('replace');
    const skipped = await outcomes.waitFor(
      (e) => e.detailType === DetailTypes.ReplacementSkipped && e.detail['instanceId'] === stray,
    );
    expect(skipped.detail).toMatchObject({ cause: 'shell-access' });
  });

  it('ignore: a CPU alarm reaches the intake (the rule cannot filter metrics) and changes nothing', async () => {
    const before = outcomes.received.length;
    const result = await deliver(awsEvent('aws.cloudwatch', 'alarm-state-change-cpu-utilization'));
    expect(result).toMatchObject({ intent: 'ignore', reason: expect.stringContaining('CPUUtilization') });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(outcomes.received.slice(before)).toEqual([]);
  });

  it('rollout: an Image Builder image rolls the fleets of its AMI channel', async () => {
    const base = await world.registerImage('base', 'built');
    const group = await world.createFleet({ fleet: 'built', imageId: base, size: 2 });
    const arn = `arn:aws:imagebuilder:${REGION}:123456789012:image/built-recipe/2.0.0/1`;
    const image = await world.registerImage('built-2.0.0-1', 'built');
    await world.tagImageWith(image, 'Ec2ImageBuilderArn', arn);
    const sample = awsEvent('aws.imagebuilder', 'image-state-change-available');
    const result = await deliver({ ...sample, resources: [arn] });
    expect(result.intent).toBe('rollout');
    await outcomes.waitFor(
      (e) => e.detailType === DetailTypes.RolloutSucceeded && e.detail['fleet'] === 'built',
      60_000,
    );
    const view = await world.viewFleet(group);
    expect(view.instances.filter((i) => i.lifecycleState === 'InService').map((i) => i.imageId)).toEqual([
      image,
      image,
    ]);
  });
});
