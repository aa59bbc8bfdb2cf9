/**
 * The intake against the emulator: channel resolution from real AMI tags, parameters and groups,
 * and rollouts started through the real Step Functions client (against the local Step Functions
 * service, whose executions are not run to completion here).
 */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { COMMAND_SOURCE, DetailTypes } from '../../lambdas/domain/contract';
import { MalformedEventError } from '../../lambdas/domain/errors';
import { runIntake } from '../../lambdas/steps/intake';
import type { OutcomeListener } from '../../local/outcomes';
import { LocalStepFunctions } from '../../local/stepfunctions';
import { World } from '../../local/world';
import { freshWorld, neverEnds, notRunHere, REGION } from '../support/control-plane';
import { awsEvent, derive } from '../support/fixtures';

let world: World;
let service: LocalStepFunctions;
let stateMachineArn: string;
let replaceStateMachineArn: string;
let outcomes: OutcomeListener;
let counter = 0;

beforeAll(async () => {
  // Executions start but their tasks are not run here: the workflow has tests of its own.
  // Replace executions stay RUNNING (an ended one that did not replace its instance would be
  // followed by a new attempt: see test/unit/re-replacement.test.ts); rollouts fail.
  const fx = await freshWorld({ tasks: (fn) => (fn?.handler === 'replace' ? neverEnds() : notRunHere()) });
  ({ world, outcomes, service } = fx);
  stateMachineArn = fx.stateMachineArn('Rollout');
  replaceStateMachineArn = fx.stateMachineArn('Replace');
  return fx.stop;
});

const amiSample = awsEvent('aws.ec2', 'ami-state-change-available');
const amiEvent = (imageId: string, id = `ami-event-${++counter}`) =>
  derive(
    amiSample,
    { ImageId: imageId },
    { id, region: REGION, resources: [`arn:aws:ec2:${REGION}::image/${imageId}`] },
  );

const started = () =>
  service
    .listExecutions({ stateMachineArn })
    .map((e) => ({ name: e.name, input: JSON.parse(e.input) as Record<string, string> }));

let before = new Set<string>();
beforeEach(() => {
  before = new Set(started().map((e) => e.name));
});
/** Executions started by the current test. */
const startedSince = () => started().filter((e) => !before.has(e.name));

describe('image publication', () => {
  it('starts one rollout per fleet that follows the AMI channel, and none for other fleets', async () => {
    const base = await world.registerImage('base');
    await world.createFleet({ fleet: 'web', imageId: base, size: 1 }); // channel defaults to the fleet name
    await world.createFleet({ fleet: 'web-canary', imageId: base, size: 1, channel: 'web' });
    await world.createFleet({ fleet: 'api', imageId: base, size: 1 });
    const image = await world.registerImage('web-v2', 'web');

    const result = await runIntake(amiEvent(image, 'evt-web-v2'));
    expect(result).toMatchObject({ intent: 'rollout', imageId: image, channel: 'web' });
    expect(result.started.map((s) => [s.fleet, s.duplicate])).toEqual([
      ['web', false],
      ['web-canary', false],
    ]);
    const executions = startedSince();
    expect(executions.map((e) => e.input['fleet']).sort()).toEqual(['web', 'web-canary']);
    expect(executions[0]!.input).toMatchObject({
      imageId: image,
      channel: 'web',
      requestId: 'evt-web-v2',
      cause: 'aws.ec2/EC2 AMI State Change',
    });
  });

  it('starts nothing new when the same event is delivered twice', async () => {
    const base = await world.registerImage('base');
    await world.createFleet({ fleet: 'dup', imageId: base, size: 1 });
    const image = await world.registerImage('dup-v2', 'dup');
    const event = amiEvent(image, 'evt-dup');
    const first = await runIntake(event);
    const second = await runIntake(structuredClone(event));
    expect(first.started).toEqual([expect.objectContaining({ fleet: 'dup', duplicate: false })]);
    expect(second).toMatchObject({ duplicateEvent: true, started: [] });
    expect(startedSince()).toHaveLength(1);
  });

  it('ignores an image in no channel, and says why on the bus', async () => {
    const image = await world.registerImage('untagged');
    const result = await runIntake(amiEvent(image));
    expect(result).toMatchObject({ intent: 'ignore', started: [] });
    expect(result.reason).toContain('has no phoenix:channel tag');
    const ignored = await outcomes.waitFor(
      (e) => e.detailType === DetailTypes.PublicationIgnored && String(e.detail['reason']).includes(image),
    );
    expect(ignored.detail['reason']).toContain('belongs to no channel');
    expect(startedSince()).toHaveLength(0);
  });

  it('ignores a channel no fleet follows, and says so', async () => {
    const image = await world.registerImage('lonely', 'nobody-follows');
    const result = await runIntake(amiEvent(image));
    expect(result.reason).toBe('no fleet follows channel nobody-follows');
    await outcomes.waitFor(
      (e) => e.detailType === DetailTypes.PublicationIgnored && e.detail['channel'] === 'nobody-follows',
    );
  });

  it('reads the image of a channel parameter, which the event does not carry', async () => {
    const base = await world.registerImage('base');
    await world.createFleet({ fleet: 'golden', imageId: base, size: 1 });
    const image = await world.registerImage('golden-v2');
    await world.setChannelParameter('golden', image);
    const sample = awsEvent('aws.ssm', 'parameter-store-change-create');
    const result = await runIntake(
      derive(sample, { name: '/phoenix/channels/golden', operation: 'Update' }, { id: 'evt-golden' }),
    );
    expect(result).toMatchObject({ intent: 'rollout', imageId: image, channel: 'golden' });
    expect(startedSince().map((e) => e.input['imageId'])).toEqual([image]);
  });

  it('passes a PublishImage command for a missing image on, so each fleet rejects it', async () => {
    const base = await world.registerImage('base');
    await world.createFleet({ fleet: 'cmd', imageId: base, size: 1 });
    const result = await runIntake({
      version: '0',
      id: 'evt-cmd',
      source: COMMAND_SOURCE,
      'detail-type': 'PublishImage',
      account: '123456789012',
      time: '2026-11-27T00:00:00Z',
      region: REGION,
      resources: [],
      detail: { imageId: 'ami-0000000000000dead', channel: 'cmd' },
    });
    expect(result.started.map((s) => s.fleet)).toEqual(['cmd']);
  });

  it('follows a golden-AMI parameter by the tag phoenix:image-parameter', async () => {
    const base = await world.registerImage('base');
    const group = await world.createFleet({ fleet: 'gold-follower', imageId: base, size: 1 });
    await world.tagGroup(group, 'phoenix:image-parameter', '/corp/golden/al2023');
    const image = await world.registerImage('al2023-v2');
    await world.putParameter('/corp/golden/al2023', image);
    const sample = awsEvent('aws.ssm', 'parameter-store-change-create');
    const result = await runIntake(
      derive(sample, { name: '/corp/golden/al2023', operation: 'Update' }, { id: 'evt-gold' }),
    );
    expect(result).toMatchObject({ intent: 'rollout', imageId: image });
    expect(startedSince().map((e) => [e.input['fleet'], e.input['imageId']])).toEqual([
      ['gold-follower', image],
    ]);
  });

  it('finds the AMI an Image Builder image produced, by its Ec2ImageBuilderArn tag', async () => {
    const base = await world.registerImage('base');
    await world.createFleet({ fleet: 'built', imageId: base, size: 1 });
    const sample = awsEvent('aws.imagebuilder', 'image-state-change-available');
    const arn = `arn:aws:imagebuilder:${REGION}:123456789012:image/built-recipe/1.0.0/3`;
    const image = await world.registerImage('built-1.0.0-3', 'built');
    await world.tagImageWith(image, 'Ec2ImageBuilderArn', arn);
    const result = await runIntake({ ...sample, id: 'evt-built', resources: [arn] });
    expect(result).toMatchObject({ intent: 'rollout', imageId: image, channel: 'built' });
  });

  it('says so when no AMI carries the Image Builder ARN', async () => {
    const sample = awsEvent('aws.imagebuilder', 'image-state-change-available');
    const result = await runIntake({ ...sample, id: 'evt-unbuilt' });
    expect(result.reason).toContain('no AMI in this account and region carries Ec2ImageBuilderArn');
  });

  it('starts one Replace execution per managed instance, named after it, and skips an unmanaged one, touching nothing', async () => {
    const base = await world.registerImage('base');
    const group = await world.createFleet({ fleet: 'sick', imageId: base, size: 2 });
    const [managed] = (await world.viewFleet(group)).instances;
    const stray = await world.runStrayInstance(base);
    const sample = awsEvent('aws.ec2', 'spot-interruption-warning');
    for (const [id, instanceId] of [
      ['evt-sick', managed!.instanceId],
      ['evt-stray', stray],
    ] as const) {
      await runIntake(derive(sample, { 'instance-id': instanceId }, { id, resources: [] }));
    }
    const replaces = service
      .listExecutions({ stateMachineArn: replaceStateMachineArn })
      .filter((e) => e.name === `sick--${managed!.instanceId}`);
    expect(replaces).toHaveLength(1);
    expect(JSON.parse(replaces[0]!.input)).toEqual({
      fleet: 'sick',
      instanceId: managed!.instanceId,
      cause: 'interruption',
      reason: 'EC2 Spot Instance Interruption Warning',
      requestId: 'evt-sick',
      // The published sample's time is a placeholder: the need was seen when the intake handled it.
      detectedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    // No rollout, and nothing but the workflow reports on a managed instance.
    expect(startedSince()).toHaveLength(0);
    const skipped = await outcomes.waitFor(
      (e) => e.detailType === DetailTypes.ReplacementSkipped && e.detail['instanceId'] === stray,
    );
    expect(skipped.detail['reason']).toContain('is not in a managed fleet');
    expect((await world.viewFleet(group)).instances.map((i) => i.instanceId)).toContain(managed!.instanceId);
  });

  it('replaces an instance once: another event for the same instance is a duplicate', async () => {
    const base = await world.registerImage('base');
    const group = await world.createFleet({ fleet: 'twice', imageId: base, size: 1 });
    const [instance] = (await world.viewFleet(group)).instances;
    const sample = awsEvent('aws.ec2', 'spot-interruption-warning');
    const first = await runIntake(
      derive(sample, { 'instance-id': instance!.instanceId }, { id: 'evt-twice-1', resources: [] }),
    );
    // A different event (a rebalance recommendation after the interruption warning, say).
    const second = await runIntake(
      derive(sample, { 'instance-id': instance!.instanceId }, { id: 'evt-twice-2', resources: [] }),
    );
    expect(first.replacements).toEqual([
      expect.objectContaining({
        fleet: 'twice',
        execution: `twice--${instance!.instanceId}`,
        duplicate: false,
      }),
    ]);
    expect(second.replacements).toEqual([expect.objectContaining({ duplicate: true })]);
    expect(
      service
        .listExecutions({ stateMachineArn: replaceStateMachineArn })
        .filter((e) => e.name === `twice--${instance!.instanceId}`),
    ).toHaveLength(1);
  });

  it('handles an event once: a redelivery after success does nothing again', async () => {
    const sample = awsEvent('aws.ec2', 'spot-interruption-warning');
    const event = derive(sample, { 'instance-id': 'i-0fedcba9876543210' }, { id: 'evt-once', resources: [] });
    const first = await runIntake(event);
    const again = await runIntake(event);
    expect(first.duplicateEvent).toBeUndefined();
    expect(again).toMatchObject({ duplicateEvent: true });
    await outcomes.waitFor(
      (e) => e.detailType === DetailTypes.ReplacementSkipped && e.detail['eventId'] === 'evt-once',
    );
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(outcomes.received.filter((e) => e.detail['eventId'] === 'evt-once')).toHaveLength(1);
  });

  it('fails with a named error on a payload that is not an event', async () => {
    await expect(runIntake({ not: 'an event' })).rejects.toThrow(MalformedEventError);
  });
});
