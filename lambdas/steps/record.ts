/**
 * The record steps of the Rollout workflow (DynamoDB + EventBridge): the fleet lock, the fleet's
 * desired image and history, and the outcome event that ends every rollout.
 */
import { DetailTypes } from '../domain/contract';
import { causeMessage, ConfigurationError, FleetBusyError } from '../domain/errors';
import type { HistoryEntry, RolloutOutcome } from '../domain/fleet-record';
import type { WorkflowState } from '../domain/rollout';
import { RecordSteps, type RecordStep } from '../domain/steps';
import { acquireLock, putOutcome, recordOutcome } from '../aws/store';

export interface RecordStepRequest {
  readonly step: RecordStep;
  readonly execution: string;
  readonly state: WorkflowState;
  /** ReportOutcome: which outcome to report. */
  readonly outcome?: string;
  /** AcquireFleetLock: how long the lock holds before it counts as abandoned. */
  readonly lockSeconds?: number;
}

/** The clock, replaceable in tests. */
export const clock = { now: () => new Date() };

const DEFAULT_LOCK_SECONDS = 2 * 60 * 60;

export async function acquireFleetLock(request: RecordStepRequest) {
  const { fleet, channel, imageId } = request.state;
  const now = clock.now();
  const expiresAt = Math.floor(now.getTime() / 1000) + (request.lockSeconds ?? DEFAULT_LOCK_SECONDS);
  const result = await acquireLock({
    fleet,
    channel,
    now,
    lock: { execution: request.execution, imageId, startedAt: now.toISOString(), expiresAt },
  });
  if (!result.acquired) {
    const holder = result.holder;
    throw new FleetBusyError(
      holder
        ? `fleet ${fleet} is already rolling out ${holder.imageId} (execution ${holder.execution}, since ${holder.startedAt})`
        : `fleet ${fleet} is locked by another rollout`,
    );
  }
  await putOutcome(DetailTypes.RolloutStarted, {
    fleet,
    channel,
    imageId,
    execution: request.execution,
    cause: request.state.cause,
  });
  return {
    ...(result.record.desiredImage !== undefined ? { previousDesiredImage: result.record.desiredImage } : {}),
  };
}

export async function commitRollout(request: RecordStepRequest) {
  const { fleet, channel, imageId } = request.state;
  const now = clock.now();
  const previousImage = request.state.fleetState?.previousImageId ?? request.state.lock?.previousDesiredImage;
  await recordOutcome({
    fleet,
    execution: request.execution,
    entry: { imageId, outcome: 'succeeded', at: now.toISOString(), execution: request.execution },
    desiredImage: imageId,
    ...(previousImage !== undefined ? { previousImage } : {}),
    now,
  });
  const detail = {
    fleet,
    channel,
    imageId,
    ...(previousImage !== undefined ? { previousImageId: previousImage } : {}),
    execution: request.execution,
    instancesReplaced: request.state.progress?.replaced ?? 0,
    alreadyOnImage: request.state.fleetState?.upToDate ?? false,
  };
  await putOutcome(DetailTypes.RolloutSucceeded, detail);
  return { outcome: DetailTypes.RolloutSucceeded };
}

const OUTCOMES: Record<string, RolloutOutcome> = {
  [DetailTypes.RolloutRejected]: 'rejected',
  [DetailTypes.RolloutRolledBack]: 'rolled-back',
  [DetailTypes.RolloutFailed]: 'failed',
};

export async function reportOutcome(request: RecordStepRequest) {
  const outcome = request.outcome !== undefined ? OUTCOMES[request.outcome] : undefined;
  if (!outcome || request.outcome === undefined) {
    throw new ConfigurationError(
      `ReportOutcome needs outcome in ${Object.keys(OUTCOMES).join(', ')}, got ${String(request.outcome)}`,
    );
  }
  const { fleet, channel, imageId } = request.state;
  const now = clock.now();
  const error = request.state.error;
  const reason = error ? causeMessage(error.Cause) : 'unknown';
  const rollbackError = request.state.rollbackError;
  const entry: HistoryEntry = {
    imageId,
    outcome,
    at: now.toISOString(),
    execution: request.execution,
    reason: rollbackError ? `${reason}; rollback failed: ${causeMessage(rollbackError.Cause)}` : reason,
    ...(request.state.failedStep !== undefined ? { step: request.state.failedStep } : {}),
  };
  await recordOutcome({ fleet, execution: request.execution, entry, now });
  await putOutcome(request.outcome, {
    fleet,
    channel,
    imageId,
    execution: request.execution,
    reason: entry.reason,
    error: error?.Error ?? 'unknown',
    ...(entry.step !== undefined ? { step: entry.step } : {}),
    ...(request.state.fleetState?.previousImageId !== undefined
      ? { previousImageId: request.state.fleetState.previousImageId }
      : {}),
  });
  return { outcome: request.outcome };
}

const steps: Record<RecordStep, (request: RecordStepRequest) => Promise<unknown>> = {
  [RecordSteps.AcquireFleetLock]: acquireFleetLock,
  [RecordSteps.CommitRollout]: commitRollout,
  [RecordSteps.ReportOutcome]: reportOutcome,
};

export async function runRecordStep(request: RecordStepRequest): Promise<unknown> {
  const run = steps[request.step];
  if (!run) throw new ConfigurationError(`unknown record step ${JSON.stringify(request.step)}`);
  return run(request);
}
