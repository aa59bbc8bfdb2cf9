/**
 * Quarantine (issue 13 §3), the real steps against the emulator: QuarantineImage tags the AMI only
 * when the image caused the rollback; ValidateImage then refuses it; ReportOutcome of the rollback
 * records `IMAGE#<imageId>` once (the first quarantine wins, one ImageQuarantined) and reports what
 * failed of the quarantine in RolloutRolledBack's `quarantine`, never throwing for it.
 */
import { DescribeImagesCommand } from '@aws-sdk/client-ec2';
import { beforeAll, describe, expect, it } from 'vitest';
import { readImageRecord } from '../../lambdas/aws/store/images';
import { DetailTypes, Tags } from '../../lambdas/domain/contract';
import { ImageRejectedError } from '../../lambdas/domain/errors';
import type { WorkflowState } from '../../lambdas/domain/rollout';
import { FleetSteps, RecordSteps } from '../../lambdas/domain/steps';
import { runFleetStep } from '../../lambdas/rollout-fleet';
import { runRecordStep } from '../../lambdas/steps/record';
import { type ControlPlaneWorld, freshWorld } from '../support/control-plane';

let fx: ControlPlaneWorld;
let counter = 0;

beforeAll(async () => {
  fx = await freshWorld();
  return fx.stop;
});

const unhealthy = {
  Error: 'BatchNotHealthyError',
  Cause: JSON.stringify({
    errorType: 'BatchNotHealthyError',
    errorMessage: 'after 40 checks, 0 of 1 instances on the image are InService and healthy',
  }),
};
const timedOut = {
  Error: 'RolloutTimedOutError',
  Cause: JSON.stringify({ errorType: 'RolloutTimedOutError', errorMessage: 'past the deadline' }),
};

async function fleetWithImage(): Promise<{ state: WorkflowState; imageB: string }> {
  const fleet = `qfleet${++counter}`;
  const imageA = await fx.world.registerImage(`${fleet}-a`, fleet);
  const imageB = await fx.world.registerImage(`${fleet}-b`, fleet);
  await fx.world.createFleet({ fleet, imageId: imageA, size: 1 });
  return {
    imageB,
    state: { fleet, imageId: imageB, channel: fleet, cause: 'test', requestId: `req-${fleet}` },
  };
}

async function quarantineTag(imageId: string): Promise<string | undefined> {
  const page = await fx.clients.ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }));
  return page.Images?.[0]?.Tags?.find((t) => t.Key === Tags.quarantined)?.Value;
}

const rolledBack = (state: WorkflowState, execution: string) =>
  fx.outcomes.waitFor(
    (e) =>
      e.detailType === DetailTypes.RolloutRolledBack &&
      e.detail['execution'] === execution &&
      e.detail['imageId'] === state.imageId,
  );

describe('quarantine steps', () => {
  it('a rollback the image caused: tagged, refused by ValidateImage, recorded once with one ImageQuarantined', async () => {
    const { state, imageB } = await fleetWithImage();
    const failed: WorkflowState = { ...state, error: unhealthy, failedStep: 'CheckBatchHealth' };
    const tag = await runFleetStep({
      step: FleetSteps.QuarantineImage,
      execution: 'q-exec-1',
      state: failed,
    });
    expect(tag).toEqual({ reason: 'health', tagged: true });
    expect(await quarantineTag(imageB)).toBe('health');

    await runRecordStep({
      step: RecordSteps.ReportOutcome,
      execution: 'q-exec-1',
      outcome: DetailTypes.RolloutRolledBack,
      state: { ...failed, quarantine: { reason: 'health', tagged: true } },
    });
    const outcome = await rolledBack(state, 'q-exec-1');
    expect(outcome.detail['quarantine']).toEqual({ reason: 'health', tagged: true, recorded: true });
    const quarantined = await fx.outcomes.waitFor(
      (e) => e.detailType === DetailTypes.ImageQuarantined && e.detail['imageId'] === imageB,
    );
    expect(quarantined.detail).toMatchObject({
      reason: 'health',
      fleet: state.fleet,
      execution: 'q-exec-1',
      step: 'CheckBatchHealth',
      tagged: true,
    });
    expect(String(quarantined.detail['cause'])).toContain('InService and healthy');
    expect((await readImageRecord(imageB))?.quarantine).toMatchObject({
      reason: 'health',
      execution: 'q-exec-1',
      fleet: state.fleet,
    });

    // The same image rolled back by another execution: the first quarantine stays, no second outcome.
    await runRecordStep({
      step: RecordSteps.ReportOutcome,
      execution: 'q-exec-2',
      outcome: DetailTypes.RolloutRolledBack,
      state: { ...failed, quarantine: { reason: 'health', tagged: true } },
    });
    expect((await rolledBack(state, 'q-exec-2')).detail['quarantine']).toMatchObject({ recorded: true });
    expect((await readImageRecord(imageB))?.quarantine?.execution).toBe('q-exec-1');
    expect(
      fx.outcomes.received.filter(
        (e) => e.detailType === DetailTypes.ImageQuarantined && e.detail['imageId'] === imageB,
      ),
    ).toHaveLength(1);

    // Every rollout of it is refused before anything changes, naming the quarantine.
    const refused = runFleetStep({ step: FleetSteps.ValidateImage, execution: 'q-exec-3', state });
    await expect(refused).rejects.toThrow(ImageRejectedError);
    await expect(
      runFleetStep({ step: FleetSteps.ValidateImage, execution: 'q-exec-3', state }),
    ).rejects.toThrow(`is quarantined (${Tags.quarantined}=health)`);
  });

  it('a rollback Phoenix caused itself (its deadline): no tag, no record, no quarantine field', async () => {
    const { state, imageB } = await fleetWithImage();
    const failed: WorkflowState = { ...state, error: timedOut, failedStep: 'CheckBatchHealth' };
    expect(
      await runFleetStep({ step: FleetSteps.QuarantineImage, execution: 'q-exec-4', state: failed }),
    ).toEqual({ tagged: false });
    expect(await quarantineTag(imageB)).toBeUndefined();
    await runRecordStep({
      step: RecordSteps.ReportOutcome,
      execution: 'q-exec-4',
      outcome: DetailTypes.RolloutRolledBack,
      state: { ...failed, quarantine: { tagged: false } },
    });
    expect((await rolledBack(state, 'q-exec-4')).detail['quarantine']).toBeUndefined();
    expect(await readImageRecord(imageB)).toBeUndefined();
    await expect(
      runFleetStep({ step: FleetSteps.ValidateImage, execution: 'q-exec-5', state }),
    ).resolves.toMatchObject({ upToDate: false });
  });

  it('a failed tag is reported in RolloutRolledBack (tagged false, the error), the rollback still reported', async () => {
    const { state, imageB } = await fleetWithImage();
    await runRecordStep({
      step: RecordSteps.ReportOutcome,
      execution: 'q-exec-6',
      outcome: DetailTypes.RolloutRolledBack,
      state: {
        ...state,
        error: unhealthy,
        failedStep: 'CheckBatchHealth',
        quarantineError: {
          Error: 'UnauthorizedOperation',
          Cause: JSON.stringify({ errorType: 'UnauthorizedOperation', errorMessage: 'not authorized' }),
        },
      },
    });
    const quarantine = (await rolledBack(state, 'q-exec-6')).detail['quarantine'] as Record<string, unknown>;
    expect(quarantine).toMatchObject({ reason: 'health', tagged: false, recorded: true });
    expect(String(quarantine['error'])).toContain('UnauthorizedOperation: not authorized');
    expect((await readImageRecord(imageB))?.quarantine?.reason).toBe('health');
    const q = await fx.outcomes.waitFor(
      (e) => e.detailType === DetailTypes.ImageQuarantined && e.detail['imageId'] === imageB,
    );
    expect(q.detail['tagged']).toBe(false);
  });
});
