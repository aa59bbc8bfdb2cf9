/**
 * The rollout steps (the real handlers' domain functions) against the emulator: what each step
 * does to a real Auto Scaling group, driven in the order the workflow drives them.
 */
import {
  DeregisterImageCommand,
  DescribeImagesCommand,
  DescribeLaunchTemplateVersionsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidFleetSettingError } from '../../lambdas/domain/fleet-settings';
import { Env } from '../../lambdas/domain/contract';
import {
  AlarmBreachedError,
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

async function setup(
  size = 4,
  options: { tags?: Record<string, string>; architectures?: ['x86_64' | 'arm64', 'x86_64' | 'arm64'] } = {},
): Promise<Setup> {
  const fleet = `fleet${++fleetCounter}`;
  const [archA, archB] = options.architectures ?? [];
  const imageA = await world.registerImage(`${fleet}-a`, fleet, archA ? { architecture: archA } : {});
  const imageB = await world.registerImage(`${fleet}-b`, fleet, archB ? { architecture: archB } : {});
  const groupName = await world.createFleet({
    fleet,
    imageId: imageA,
    size,
    ...(options.tags ? { tags: options.tags } : {}),
  });
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

describe('image policy and fleet settings', () => {
  /** Nothing was launched or changed: the group is as setup() made it. */
  async function untouched(s: Setup, size = 4) {
    const view = await world.viewFleet(s.groupName);
    expect(view.desiredCapacity).toBe(size);
    expect(view.launchTemplateVersion).toBe('$Latest');
    expect(view.instances.map((i) => i.imageId)).toEqual(Array(size).fill(s.imageA));
  }

  it('rejects an arm64 image for an x86_64 fleet; nothing is launched', async () => {
    const s = await setup(4, { architectures: ['x86_64', 'arm64'] });
    const attempt = fleetStep(FleetSteps.ValidateImage, s.state);
    await expect(attempt).rejects.toThrow(ImageRejectedError);
    await expect(attempt).rejects.toThrow(
      `image ${s.imageB} is arm64 but the fleet runs x86_64 (${s.imageA})`,
    );
    await untouched(s);
  });

  it('accepts a newer image of the same architecture', async () => {
    const s = await setup(2, { architectures: ['arm64', 'arm64'] });
    await expect(fleetStep<FleetState>(FleetSteps.ValidateImage, s.state)).resolves.toMatchObject({
      upToDate: false,
    });
  });

  it("rejects an image older than the fleet's current one", async () => {
    const older = await world.registerImage('older');
    const s = await setup(2);
    await expect(fleetStep(FleetSteps.ValidateImage, { ...s.state, imageId: older })).rejects.toThrow(
      new RegExp(`image ${older} .*is not newer than the fleet's current image ${s.imageA}`),
    );
  });

  it('rejects an image whose owner is not allowed (Amazon not in the allowlist)', async () => {
    const s = await setup(2, { architectures: ['x86_64', 'x86_64'] });
    const ec2 = new EC2Client({ region: REGION, endpoint });
    const { Images } = await ec2.send(
      new DescribeImagesCommand({
        Owners: ['amazon'],
        Filters: [{ Name: 'architecture', Values: ['x86_64'] }],
      }),
    );
    const amazonImage = Images![0]!.ImageId!;
    const saved = process.env[Env.allowedImageOwners];
    process.env[Env.allowedImageOwners] = '123456789012';
    try {
      await expect(fleetStep(FleetSteps.ValidateImage, { ...s.state, imageId: amazonImage })).rejects.toThrow(
        /owned by \d{12} \(amazon\), not by an allowed owner \(123456789012\)/,
      );
    } finally {
      process.env[Env.allowedImageOwners] = saved;
    }
  });

  it('rejects a fleet with an invalid max-surge tag, naming the tag and the value; nothing is launched', async () => {
    const s = await setup(4, { tags: { 'phoenix:max-surge': 'lots' } });
    const attempt = fleetStep(FleetSteps.ValidateImage, s.state);
    await expect(attempt).rejects.toThrow(InvalidFleetSettingError);
    await expect(attempt).rejects.toThrow('tag phoenix:max-surge="lots" is invalid');
    await untouched(s);
  });

  it('rolls in batches of 2 with phoenix:max-surge=2', async () => {
    const s = await setup(4, { tags: { 'phoenix:max-surge': '2' } });
    const fs = await fleetStep<FleetState>(FleetSteps.ValidateImage, s.state);
    expect(fs.batchSize).toBe(2);
    let state: WorkflowState = { ...s.state, fleetState: fs };
    state = { ...state, launchTemplate: await fleetStep(FleetSteps.ReconcileLaunchTemplate, state) };
    const batches: number[] = [];
    for (let batch = 0; batch < 4; batch++) {
      let progress = await fleetStep<Progress>(FleetSteps.LaunchBatch, state);
      batches.push(progress.batch);
      expect((await world.viewFleet(s.groupName)).desiredCapacity).toBe(6);
      state = { ...state, progress };
      for (let check = 0; !progress.ready; check++) {
        progress = await fleetStep<Progress>(FleetSteps.CheckBatchHealth, state);
        state = { ...state, progress };
        expect(check).toBeLessThan(5);
      }
      progress = await fleetStep<Progress>(FleetSteps.RetireBatch, state);
      state = { ...state, progress };
      if (progress.remainingOld === 0) break;
    }
    expect(batches).toEqual([2, 2]);
    expect(await serving(s.groupName, s.imageB)).toBe(4);
  });

  it('reads the gating alarms: OK passes, ALARM (set with SetAlarmState) is named, a missing alarm blocks', async () => {
    const gate = `gate${fleetCounter + 1}`;
    const s = await setup(2, { tags: { 'phoenix:alarms': `${gate}-errors,${gate}-latency` } });
    await world.createAlarm(`${gate}-errors`);
    await world.createAlarm(`${gate}-latency`);
    const fs = await fleetStep<FleetState>(FleetSteps.ValidateImage, s.state);
    expect(fs.alarms).toEqual([`${gate}-errors`, `${gate}-latency`]);
    const state = { ...s.state, fleetState: fs };
    await expect(fleetStep(FleetSteps.CheckAlarms, state, { phase: 'start' })).resolves.toEqual({
      checked: 2,
    });

    await world.setAlarmState(`${gate}-latency`, 'ALARM');
    const attempt = fleetStep(FleetSteps.CheckAlarms, state, { phase: 'start' });
    await expect(attempt).rejects.toThrow(AlarmBreachedError);
    await expect(attempt).rejects.toThrow(`alarm ${gate}-latency is in ALARM before the start`);
    await untouched(s, 2);

    await expect(
      fleetStep(FleetSteps.CheckAlarms, { ...state, fleetState: { ...fs, alarms: ['no-such-alarm'] } }),
    ).rejects.toThrow('alarm no-such-alarm (tag phoenix:alarms) does not exist');
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
