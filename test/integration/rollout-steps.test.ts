/**
 * The rollout steps (the real handlers' domain functions) against the emulator: what each step
 * does to a real Auto Scaling group, driven in the order the workflow drives them.
 */
import {
  DeregisterImageCommand,
  DescribeLaunchTemplateVersionsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  FleetBusyError,
  FleetNotFoundError,
  ImageRejectedError,
  UnsupportedFleetError,
} from '../../lambdas/domain/errors';
import type { FleetState, Progress, RollbackProgress, WorkflowState } from '../../lambdas/domain/rollout';
import { FleetSteps, RecordSteps } from '../../lambdas/domain/steps';
import { runFleetStep } from '../../lambdas/steps/fleet';
import { runRecordStep } from '../../lambdas/steps/record';
import { readFleetRecord } from '../../lambdas/aws/store';
import { type OutcomeListener, listenToOutcomes } from '../../local/outcomes';
import { World } from '../../local/world';
import { freshControlPlane, REGION } from '../support/control-plane';

let endpoint: string;
let busName: string;
let world: World;
let outcomes: OutcomeListener;
let fleetCounter = 0;

beforeAll(async () => {
  const cp = await freshControlPlane();
  endpoint = cp.endpoint;
  busName = cp.model.eventBuses[0]!.name;
  world = new World({ endpoint, region: REGION });
  outcomes = await listenToOutcomes({ endpoint, region: REGION, eventBusName: busName });
  return () => outcomes.stop();
});

interface Setup {
  fleet: string;
  groupName: string;
  imageA: string;
  imageB: string;
  state: WorkflowState;
}

async function setup(size = 4): Promise<Setup> {
  const fleet = `fleet${++fleetCounter}`;
  const imageA = await world.registerImage(`${fleet}-a`, fleet);
  const imageB = await world.registerImage(`${fleet}-b`, fleet);
  const groupName = await world.createFleet({ fleet, imageId: imageA, size });
  const state: WorkflowState = {
    fleet,
    imageId: imageB,
    channel: fleet,
    cause: 'test',
    requestId: `req-${fleet}`,
  };
  return { fleet, groupName, imageA, imageB, state };
}

const fleetStep = async <T>(step: string, state: WorkflowState, extra: Record<string, unknown> = {}) =>
  (await runFleetStep({ step: step as never, execution: `exec-${state.fleet}`, state, ...extra })) as T;

async function serving(groupName: string, imageId?: string) {
  const view = await world.viewFleet(groupName);
  return view.instances.filter(
    (i) =>
      i.lifecycleState === 'InService' &&
      i.healthStatus === 'Healthy' &&
      (imageId === undefined || i.imageId === imageId),
  ).length;
}

/** Drive the rolling loop as the workflow does, checking capacity after every step. */
async function rollAll(s: Setup, fleetState: FleetState, stopAfterBatches = Infinity) {
  let state: WorkflowState = { ...s.state, fleetState };
  const lt = await fleetStep<{ version: string }>(FleetSteps.ReconcileLaunchTemplate, state);
  state = { ...state, launchTemplate: lt };
  const minServing: number[] = [];
  for (let batch = 0; batch < 20 && batch < stopAfterBatches; batch++) {
    let progress = await fleetStep<Progress>(FleetSteps.LaunchBatch, state);
    state = { ...state, progress };
    minServing.push(await serving(s.groupName));
    for (let check = 0; !progress.ready; check++) {
      progress = await fleetStep<Progress>(FleetSteps.CheckBatchHealth, state);
      state = { ...state, progress };
      expect(check).toBeLessThan(5);
    }
    progress = await fleetStep<Progress>(FleetSteps.RetireBatch, state);
    state = { ...state, progress };
    minServing.push(await serving(s.groupName));
    if (progress.remainingOld === 0) break;
  }
  return { state, minServing };
}

describe('ValidateImage', () => {
  it('records the fleet as it is, before anything changes', async () => {
    const s = await setup();
    const fs = await fleetStep<FleetState>(FleetSteps.ValidateImage, s.state, { maxChecks: 7 });
    expect(fs).toMatchObject({
      groupName: s.groupName,
      previousVersion: '$Latest',
      previousVersionNumber: 1,
      previousImageId: s.imageA,
      desiredCapacity: 4,
      minSize: 4,
      maxSize: 4,
      batchSize: 1,
      maxChecks: 7,
      upToDate: false,
    });
  });

  it('rejects an image that does not exist', async () => {
    const s = await setup();
    await expect(
      fleetStep(FleetSteps.ValidateImage, { ...s.state, imageId: 'ami-0000000000000dead' }),
    ).rejects.toThrow(ImageRejectedError);
  });

  it('rejects a value that is not an AMI id, quoting it', async () => {
    const s = await setup();
    await expect(fleetStep(FleetSteps.ValidateImage, { ...s.state, imageId: 'latest' })).rejects.toThrow(
      /"latest" is not a valid AMI id/,
    );
  });

  it('rejects a deregistered image', async () => {
    const s = await setup();
    await new EC2Client({ region: REGION, endpoint }).send(new DeregisterImageCommand({ ImageId: s.imageB }));
    await expect(fleetStep(FleetSteps.ValidateImage, s.state)).rejects.toThrow(ImageRejectedError);
  });

  it('fails for a fleet no group is tagged with', async () => {
    const s = await setup();
    await expect(fleetStep(FleetSteps.ValidateImage, { ...s.state, fleet: 'nobody' })).rejects.toThrow(
      FleetNotFoundError,
    );
  });

  it('refuses a fleet of two groups, naming them', async () => {
    const s = await setup();
    await world.createFleet({ fleet: s.fleet, imageId: s.imageA, size: 1, groupName: `${s.fleet}-second` });
    const attempt = fleetStep(FleetSteps.ValidateImage, s.state);
    await expect(attempt).rejects.toThrow(UnsupportedFleetError);
    await expect(attempt).rejects.toThrow(
      new RegExp(`${s.groupName}.*${s.fleet}-second|${s.fleet}-second.*${s.groupName}`),
    );
  });
});

describe('rolling, surge first', () => {
  it('replaces every instance, batch by batch, never below desired capacity of serving instances', async () => {
    const s = await setup();
    const fs = await fleetStep<FleetState>(FleetSteps.ValidateImage, s.state);
    const { state, minServing } = await rollAll(s, fs);
    expect(state.progress).toMatchObject({ remainingOld: 0, replaced: 4 });
    expect(Math.min(...minServing)).toBeGreaterThanOrEqual(4);

    const view = await world.viewFleet(s.groupName);
    expect(view.desiredCapacity).toBe(4);
    expect(view.instances.filter((i) => i.lifecycleState === 'InService').map((i) => i.imageId)).toEqual(
      Array(4).fill(s.imageB),
    );
    // The group launches the new version, which names the new image.
    expect(view.launchTemplateVersion).toBe(state.launchTemplate!.version);
    const versions = await new EC2Client({ region: REGION, endpoint }).send(
      new DescribeLaunchTemplateVersionsCommand({
        LaunchTemplateName: `${s.fleet}-lt`,
        Versions: [view.launchTemplateVersion!],
      }),
    );
    expect(versions.LaunchTemplateVersions?.[0]?.LaunchTemplateData?.ImageId).toBe(s.imageB);

    // Re-validating now finds nothing to do.
    const again = await fleetStep<FleetState>(FleetSteps.ValidateImage, s.state);
    expect(again.upToDate).toBe(true);
  });

  it('retires only the surplus when a step runs twice', async () => {
    const s = await setup();
    const fs = await fleetStep<FleetState>(FleetSteps.ValidateImage, s.state);
    let state: WorkflowState = { ...s.state, fleetState: fs };
    state = { ...state, launchTemplate: await fleetStep(FleetSteps.ReconcileLaunchTemplate, state) };
    const progress = await fleetStep<Progress>(FleetSteps.LaunchBatch, state);
    await fleetStep<Progress>(FleetSteps.LaunchBatch, { ...state, progress }); // retried: no second surge
    expect((await world.viewFleet(s.groupName)).desiredCapacity).toBe(5);
    state = {
      ...state,
      progress: await fleetStep<Progress>(FleetSteps.CheckBatchHealth, { ...state, progress }),
    };
    await fleetStep<Progress>(FleetSteps.RetireBatch, state);
    await fleetStep<Progress>(FleetSteps.RetireBatch, state); // retried: nothing more to retire
    expect(await serving(s.groupName)).toBe(4);
    expect(await serving(s.groupName, s.imageA)).toBe(3);
  });
});

describe('rollback', () => {
  it('restores the previous image at full capacity, then removes the new instances', async () => {
    const s = await setup();
    const fs = await fleetStep<FleetState>(FleetSteps.ValidateImage, s.state);
    const { state } = await rollAll(s, fs, 2);
    expect(await serving(s.groupName, s.imageB)).toBe(2);

    let rollback = await fleetStep<RollbackProgress>(FleetSteps.StartRollback, state);
    for (let i = 0; !rollback.ready; i++) {
      rollback = await fleetStep<RollbackProgress>(FleetSteps.CheckRollbackCapacity, { ...state, rollback });
      expect(i).toBeLessThan(5);
    }
    // Capacity of the old image is back before anything new is removed.
    expect(await serving(s.groupName, s.imageA)).toBeGreaterThanOrEqual(4);
    rollback = await fleetStep<RollbackProgress>(FleetSteps.FinishRollback, { ...state, rollback });
    expect(rollback.removedNew).toBe(2);

    const view = await world.viewFleet(s.groupName);
    expect(view.desiredCapacity).toBe(4);
    // The group was on $Latest, which now names the rollout's version: it is pinned to the old one.
    expect(view.launchTemplateVersion).toBe('1');
    const present = view.instances.filter((i) => i.lifecycleState === 'InService');
    expect(present.map((i) => i.imageId)).toEqual(Array(4).fill(s.imageA));
  });

  it('has nothing to undo when the failure came before validation', async () => {
    const s = await setup();
    const rollback = await fleetStep<RollbackProgress>(FleetSteps.StartRollback, s.state);
    expect(rollback).toEqual({ ready: true, checks: 0, nothingToUndo: true });
  });
});

describe('record steps', () => {
  const recordStep = (
    step: string,
    state: WorkflowState,
    execution: string,
    extra: Record<string, unknown> = {},
  ) => runRecordStep({ step: step as never, execution, state, ...extra });

  it('locks a fleet for one execution at a time', async () => {
    const s = await setup(1);
    await recordStep(RecordSteps.AcquireFleetLock, s.state, 'exec-1');
    await recordStep(RecordSteps.AcquireFleetLock, s.state, 'exec-1'); // the same execution, retried
    await expect(recordStep(RecordSteps.AcquireFleetLock, s.state, 'exec-2')).rejects.toThrow(FleetBusyError);
    await expect(recordStep(RecordSteps.AcquireFleetLock, s.state, 'exec-2')).rejects.toThrow(/exec-1/);
    const started = await outcomes.waitFor(
      (e) => e.detailType === 'RolloutStarted' && e.detail['fleet'] === s.fleet,
    );
    expect(started.detail).toMatchObject({ imageId: s.imageB, execution: 'exec-1' });
  });

  it('takes over a lock that has expired', async () => {
    const s = await setup(1);
    await recordStep(RecordSteps.AcquireFleetLock, s.state, 'exec-1', { lockSeconds: -10 });
    await expect(recordStep(RecordSteps.AcquireFleetLock, s.state, 'exec-2')).resolves.toBeDefined();
    expect((await readFleetRecord(s.fleet))?.activeRollout?.execution).toBe('exec-2');
  });

  it('commits the desired image and history, releases the lock and says so', async () => {
    const s = await setup(1);
    await recordStep(RecordSteps.AcquireFleetLock, s.state, 'exec-1');
    const state = { ...s.state, fleetState: { previousImageId: s.imageA } as FleetState };
    await recordStep(RecordSteps.CommitRollout, state, 'exec-1');
    const record = await readFleetRecord(s.fleet);
    expect(record).toMatchObject({ desiredImage: s.imageB, previousImage: s.imageA, channel: s.fleet });
    expect(record?.activeRollout).toBeUndefined();
    expect(record?.imageHistory?.map((h) => [h.imageId, h.outcome])).toEqual([[s.imageB, 'succeeded']]);
    const done = await outcomes.waitFor(
      (e) => e.detailType === 'RolloutSucceeded' && e.detail['fleet'] === s.fleet,
    );
    expect(done.detail).toMatchObject({ imageId: s.imageB, previousImageId: s.imageA });
  });

  it('reports a rejection with its reason, without touching a lock it does not hold', async () => {
    const s = await setup(1);
    await recordStep(RecordSteps.AcquireFleetLock, s.state, 'exec-holder');
    const failed = {
      ...s.state,
      error: {
        Error: 'FleetBusyError',
        Cause: JSON.stringify({ errorType: 'FleetBusyError', errorMessage: 'fleet is busy' }),
      },
    };
    await recordStep(RecordSteps.ReportOutcome, failed, 'exec-other', { outcome: 'RolloutRejected' });
    const record = await readFleetRecord(s.fleet);
    expect(record?.activeRollout?.execution).toBe('exec-holder');
    expect(record?.imageHistory?.at(-1)).toMatchObject({
      outcome: 'rejected',
      reason: 'fleet is busy',
      execution: 'exec-other',
    });
    const rejected = await outcomes.waitFor(
      (e) => e.detailType === 'RolloutRejected' && e.detail['fleet'] === s.fleet,
    );
    expect(rejected.detail).toMatchObject({ reason: 'fleet is busy', error: 'FleetBusyError' });
  });

  it('keeps the history within its limit', async () => {
    const s = await setup(1);
    for (let i = 0; i < 52; i++) {
      await recordStep(
        RecordSteps.ReportOutcome,
        { ...s.state, imageId: `ami-${String(i).padStart(8, '0')}` },
        `e${i}`,
        {
          outcome: 'RolloutFailed',
        },
      );
    }
    const history = (await readFleetRecord(s.fleet))?.imageHistory ?? [];
    expect(history).toHaveLength(50);
    expect(history[0]?.imageId).toBe('ami-00000002');
    expect(history.at(-1)?.imageId).toBe('ami-00000051');
  });
});
