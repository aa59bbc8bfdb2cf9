/**
 * The record steps of the Rollout workflow (DynamoDB + EventBridge): the fleet lock, the fleet's
 * desired image and history, and the outcome event that ends every rollout.
 */
import * as clock from '../domain/clock';
import { DetailTypes, Env, type OutcomeType, type QuarantineDetail } from '../domain/contract';
import {
  causeMessage,
  ConfigurationError,
  FleetBusyError,
  FleetPausedError,
  OlderImageError,
  RolloutQueuedError,
  RolloutSlotQueuedError,
} from '../domain/errors';
import {
  DEFAULT_MAX_CONCURRENT_ROLLOUTS,
  type ActiveRollout,
  type FleetRecord,
  type HistoryEntry,
  type RolloutOutcome,
} from '../domain/fleet-record';
import {
  checkDeadline,
  continuationName,
  isNewerImage,
  type HistoryBudget,
  rolloutDeadline,
  type SafePoint,
  segmentHistory,
  type WorkflowState,
} from '../domain/rollout';
import { quarantineReason } from '../domain/quarantine';
import { RecordSteps, type RecordStep } from '../domain/steps';
import { logger } from '../powertools';
import { putOutcome } from '../aws/outcomes';
import { errorName } from '../aws/errors';
import {
  acquireLock,
  clearSupersede,
  markRolloutQueued,
  readFleetRecord,
  requestSupersede,
  takeOverLock,
} from '../aws/store/fleet-records';
import { recordOutcome } from '../aws/store/history';
import { recordQuarantine } from '../aws/store/images';
import {
  acquireRolloutSlot,
  registerSlotWaiter,
  isTaskGone,
  sendSlotWakeUp,
  transferRolloutSlot,
} from '../aws/store/rollout-slots';

export interface RecordStepRequest {
  readonly step: RecordStep;
  readonly execution: string;
  readonly state: WorkflowState;
  /** ReportOutcome: which outcome to report. */
  readonly outcome?: string;
  /** AcquireFleetLock: how long the lock holds before it counts as abandoned. */
  readonly lockSeconds?: number;
  /** AcquireFleetLock: the rollout timeout (its deadline is the execution's start plus this). */
  readonly timeoutSeconds?: number;
  /** AcquireFleetLock: the execution's start (`$$.Execution.StartTime`). */
  readonly startedAt?: string;
  /** ReportOutcome: the reason, when the state has no error (a stop at a safe point). */
  readonly reason?: string;
  /** CheckSafePoint: the definition's history costs (continue-as-new). */
  readonly historyBudget?: HistoryBudget;
  /** WaitForRolloutSlot: the task token of its `.waitForTaskToken` task (`$$.Task.Token`). */
  readonly token?: string;
}

const DEFAULT_LOCK_SECONDS = 2 * 60 * 60;

/** `maxConcurrentRollouts` from the environment (set by the CDK app), else the default. */
export function maxConcurrentRollouts(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[Env.maxConcurrentRollouts]?.trim();
  if (raw === undefined || raw === '') return DEFAULT_MAX_CONCURRENT_ROLLOUTS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    throw new ConfigurationError(
      `${Env.maxConcurrentRollouts} must be a positive integer, got ${JSON.stringify(raw)}`,
    );
  }
  return n;
}

export async function acquireFleetLock(request: RecordStepRequest) {
  const { fleet, channel, imageId } = request.state;
  const now = clock.now();
  // The deadline is the execution's start plus the rollout timeout: the same on every attempt
  // (a rollout that waits for the lock waits within it).
  const started = request.startedAt !== undefined ? new Date(request.startedAt) : now;
  const deadline =
    request.state.lock?.deadline ??
    rolloutDeadline(
      Number.isNaN(started.getTime()) ? now : started,
      request.timeoutSeconds ?? DEFAULT_LOCK_SECONDS,
    );
  checkDeadline(deadline, now, RecordSteps.AcquireFleetLock);
  const imageCreatedAt = request.state.image?.creationDate;
  const expiresAt = Math.floor(now.getTime() / 1000) + (request.lockSeconds ?? DEFAULT_LOCK_SECONDS);
  const result = await acquireLock({
    fleet,
    channel,
    now,
    lock: {
      execution: request.execution,
      imageId,
      startedAt: now.toISOString(),
      expiresAt,
      ...(imageCreatedAt !== undefined ? { imageCreatedAt } : {}),
    },
  });
  if (!result.acquired && result.paused !== undefined) {
    throw new FleetPausedError(
      `fleet ${fleet} is paused since ${result.paused.at} (${result.paused.reason}); run phoenix resume ${fleet} first`,
    );
  }
  if (!result.acquired && result.holder !== undefined && result.holder.imageId !== imageId) {
    await queueBehindOrReject(request, result.holder, result.record, now);
  }
  if (!result.acquired) {
    const holder = result.holder;
    throw new FleetBusyError(
      holder
        ? `fleet ${fleet} is already rolling out ${holder.imageId} (execution ${holder.execution}, since ${holder.startedAt})`
        : `fleet ${fleet} is locked by another rollout`,
    );
  }
  // Events are unordered: an image older than the fleet's desired one, or than a newer image
  // waiting for the fleet, is late; it is rejected (ReportOutcome releases the lock).
  rejectLateImage(request, result.record);
  if (result.record.supersedeRequested?.execution === request.execution) {
    await clearSupersede(fleet, request.execution);
  }
  // Found by the torture run: a rollout that started while a replacement surged read the surged
  // capacity as its baseline and gave the fleet back at it (desired 5 of 4). With the lock held
  // (new replacements of the fleet now wait for the rollout), the replacements in flight finish
  // first: the workflow waits and asks again (RolloutQueuedError), within its deadline.
  const replacing = result.record.replacementsInFlight ?? 0;
  if (replacing > 0) {
    throw new RolloutQueuedError(
      `fleet ${fleet}: ${replacing} replacement(s) in flight; the rollout waits for them before it reads the fleet's capacity`,
    );
  }
  // The global fan-out limit: with the fleet lock held, a rollout slot, or wait for one (the
  // workflow catches RolloutSlotQueuedError and waits in WaitForRolloutSlot until a released slot
  // wakes it, or one lock-wait interval, then asks again).
  const limit = maxConcurrentRollouts();
  const slot = await acquireRolloutSlot({ execution: request.execution, limit, expiresAt, now });
  // This execution's own queue mark (not one a dead holder of the lock left behind).
  const queued =
    result.record.activeRollout?.execution === request.execution ? result.record.rolloutQueued : undefined;
  if (!slot.acquired) {
    const since = queued?.since ?? now.toISOString();
    await markRolloutQueued(fleet, request.execution, { since, inFlight: slot.inFlight, limit });
    if (queued === undefined) {
      await putOutcome(DetailTypes.RolloutQueued, {
        fleet,
        channel,
        imageId,
        execution: request.execution,
        inFlight: slot.inFlight,
        limit,
        reason: `all ${limit} rollout slots are in use (maxConcurrentRollouts): the rollout waits for one`,
      });
    }
    throw new RolloutSlotQueuedError(
      `fleet ${fleet}: all ${limit} rollout slots are in use (maxConcurrentRollouts); queued since ${since}`,
    );
  }
  if (result.record.rolloutQueued !== undefined) {
    await markRolloutQueued(fleet, request.execution, undefined); // ours, or a dead holder's
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
    deadline,
  };
}

/**
 * No global rollout slot was free (AcquireFleetLock threw RolloutSlotQueuedError): wait for one
 * with the callback pattern. The task token is registered as a waiter on the slots while every
 * slot is held; a release grants the oldest waiters its slot and wakes them (SendTaskSuccess), and
 * the task times out after one lock-wait interval otherwise (a lost wake-up costs that, as the
 * plain wait did). A slot freed between AcquireFleetLock and now is taken at once and the task
 * wakes itself: it never sleeps with a slot free. Either way AcquireFleetLock comes next.
 */
export async function waitForRolloutSlot(request: RecordStepRequest) {
  const token = request.token;
  if (token === undefined || token === '') {
    throw new ConfigurationError('WaitForRolloutSlot needs token ($$.Task.Token, a .waitForTaskToken task)');
  }
  const now = clock.now();
  const expiresAt = Math.floor(now.getTime() / 1000) + (request.lockSeconds ?? DEFAULT_LOCK_SECONDS);
  const result = await registerSlotWaiter({
    execution: request.execution,
    token,
    limit: maxConcurrentRollouts(),
    expiresAt,
    now,
  });
  if (!result.registered) {
    try {
      await sendSlotWakeUp(token, { granted: result.acquired, at: now.toISOString() });
    } catch (error) {
      if (!isTaskGone(error)) throw error;
      // This very task timed out (or its execution ended) before it could wake itself: its timeout
      // path is AcquireFleetLock too, which claims the slot taken here. Nothing failed.
      logger.info(
        'WaitForRolloutSlot took a free slot after its own task was gone; AcquireFleetLock claims it',
        {
          execution: request.execution,
          error: errorName(error),
        },
      );
    }
  }
  return { registered: result.registered, acquired: result.acquired };
}

/**
 * The fleet is held by a rollout of another image. A newer image (by CreationDate) asks it to stop
 * at its next safe point and waits in line (RolloutQueuedError: the workflow waits and asks again,
 * within its deadline); an older or equally old one is rejected at once (OlderImageError). Returns
 * when the dates are unknown (the caller reports the fleet busy).
 */
async function queueBehindOrReject(
  request: RecordStepRequest,
  holder: ActiveRollout,
  record: FleetRecord | undefined,
  now: Date,
): Promise<void> {
  const { fleet, imageId, image } = request.state;
  const mine = image?.creationDate;
  if (mine === undefined || holder.imageCreatedAt === undefined || request.state.mode === 'rollback') return;
  if (!isNewerImage(mine, holder.imageCreatedAt)) {
    throw new OlderImageError(
      `image ${imageId} (created ${mine}) is not newer than ${holder.imageId} (created ${holder.imageCreatedAt}), which execution ${holder.execution} is rolling out onto fleet ${fleet}: a late event, nothing changed`,
    );
  }
  const waiting = record?.supersedeRequested;
  if (
    waiting !== undefined &&
    waiting.execution !== request.execution &&
    waiting.imageId !== imageId &&
    !isNewerImage(mine, waiting.imageCreatedAt)
  ) {
    throw new OlderImageError(
      `image ${imageId} (created ${mine}) is not newer than ${waiting.imageId} (created ${waiting.imageCreatedAt}), which waits for fleet ${fleet} (execution ${waiting.execution}): a late event, nothing changed`,
    );
  }
  await requestSupersede({
    fleet,
    holder: holder.execution,
    request: { imageId, imageCreatedAt: mine, execution: request.execution, at: now.toISOString() },
    now,
  });
  throw new RolloutQueuedError(
    `fleet ${fleet} is rolling out the older image ${holder.imageId} (execution ${holder.execution}); it was asked to stop at its next safe point, and ${imageId} waits for the fleet`,
  );
}

/** With the lock: reject an image older than the fleet's desired one, or than a newer one waiting. */
function rejectLateImage(request: RecordStepRequest, record: FleetRecord): void {
  const { fleet, imageId, image, mode } = request.state;
  const mine = image?.creationDate;
  if (mine === undefined || mode === 'rollback') return;
  if (
    record.desiredImage !== undefined &&
    record.desiredImage !== imageId &&
    record.desiredImageCreatedAt !== undefined &&
    !isNewerImage(mine, record.desiredImageCreatedAt)
  ) {
    throw new OlderImageError(
      `image ${imageId} (created ${mine}) is not newer than fleet ${fleet}'s desired image ${record.desiredImage} (created ${record.desiredImageCreatedAt}): a late event, nothing changed`,
    );
  }
  const waiting = record.supersedeRequested;
  if (
    waiting !== undefined &&
    waiting.execution !== request.execution &&
    waiting.imageId !== imageId &&
    isNewerImage(waiting.imageCreatedAt, mine)
  ) {
    throw new OlderImageError(
      `image ${imageId} (created ${mine}) is older than ${waiting.imageId} (created ${waiting.imageCreatedAt}), which waits for fleet ${fleet} (execution ${waiting.execution}): a late event, nothing changed`,
    );
  }
}

/**
 * Continue-as-new: this execution (a continuation) takes the fleet lock from its predecessor. The
 * deadline and the rest of `$.lock` are carried over; no RolloutStarted again.
 */
export async function takeOverFleetLock(request: RecordStepRequest) {
  const { fleet, imageId } = request.state;
  const from = request.state.safePoint?.continuation.from;
  if (from === undefined) {
    throw new ConfigurationError('TakeOverFleetLock needs $.safePoint.continuation.from (the predecessor)');
  }
  const now = clock.now();
  const expiresAt = Math.floor(now.getTime() / 1000) + (request.lockSeconds ?? DEFAULT_LOCK_SECONDS);
  const imageCreatedAt = request.state.image?.creationDate;
  const taken = await takeOverLock({
    fleet,
    from,
    lock: {
      execution: request.execution,
      imageId,
      startedAt: now.toISOString(),
      expiresAt,
      ...(imageCreatedAt !== undefined ? { imageCreatedAt } : {}),
    },
    now,
  });
  if (!taken) {
    throw new FleetBusyError(
      `fleet ${fleet}: the lock of ${from}, which this execution continues, is no longer held by it`,
    );
  }
  // The global rollout slot (maxConcurrentRollouts) goes with the lock, never freed for a third.
  await transferRolloutSlot({ from, to: request.execution, expiresAt });
  return { ...request.state.lock };
}

/**
 * A safe point (a batch boundary: every instance serves, the group is at its desired capacity):
 * stop cleanly if a newer image's rollout asked to supersede this one or the fleet was paused;
 * time out past the deadline (or when the bake would end after it); and name the continuation.
 */
export async function checkSafePoint(request: RecordStepRequest): Promise<SafePoint> {
  const { fleet, imageId } = request.state;
  const now = clock.now();
  const current = Number(/-c(\d+)$/.exec(request.execution)?.[1] ?? '1');
  const continuation = {
    name: continuationName(request.execution, current + 1),
    from: request.execution,
    number: current + 1,
  };
  const record = await readFleetRecord(fleet);
  if (record?.paused !== undefined) {
    return {
      outcome: 'RolloutPaused',
      reason: `fleet ${fleet} was paused at ${record.paused.at} (${record.paused.reason}); the rollout of ${imageId} stopped at a batch boundary`,
      continuation,
    };
  }
  const waiting = record?.supersedeRequested;
  if (
    waiting !== undefined &&
    waiting.execution !== request.execution &&
    waiting.imageId !== imageId &&
    (request.state.image?.creationDate === undefined ||
      isNewerImage(waiting.imageCreatedAt, request.state.image.creationDate))
  ) {
    return {
      outcome: 'RolloutSuperseded',
      reason: `superseded by the newer image ${waiting.imageId} (execution ${waiting.execution}); the rollout of ${imageId} stopped at a batch boundary`,
      supersededBy: waiting.imageId,
      continuation,
    };
  }
  const lastBatchDone = (request.state.progress?.remainingOld ?? 1) === 0;
  checkDeadline(
    request.state.lock?.deadline,
    now,
    RecordSteps.CheckSafePoint,
    lastBatchDone ? { seconds: request.state.fleetState?.bakeSeconds ?? 0, what: 'bake' } : undefined,
  );
  if (request.historyBudget === undefined) return { continuation };
  return {
    continuation,
    ...segmentHistory(
      request.historyBudget,
      request.execution,
      request.state.safePoint,
      request.state.progress?.checks ?? 0,
    ),
  };
}

export async function commitRollout(request: RecordStepRequest) {
  const { fleet, channel, imageId } = request.state;
  const now = clock.now();
  const previousImage = request.state.fleetState?.previousImageId ?? request.state.lock?.previousDesiredImage;
  // A committed rollback pins the fleet to its image (publications are ignored until released).
  const pin =
    request.state.mode === 'rollback'
      ? { imageId, at: now.toISOString(), execution: request.execution }
      : undefined;
  await recordOutcome({
    fleet,
    execution: request.execution,
    entry: { imageId, outcome: 'succeeded', at: now.toISOString(), execution: request.execution },
    desiredImage: imageId,
    ...(previousImage !== undefined ? { previousImage } : {}),
    ...(request.state.image?.creationDate !== undefined
      ? { desiredImageCreatedAt: request.state.image.creationDate }
      : {}),
    ...(pin !== undefined ? { pin } : {}),
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
    ...(pin !== undefined ? { mode: 'rollback' as const, pinned: pin } : {}),
  };
  await putOutcome(DetailTypes.RolloutSucceeded, detail);
  return { outcome: DetailTypes.RolloutSucceeded };
}

/** The outcomes ReportOutcome reports, with the history entry each records. */
const OUTCOMES = {
  [DetailTypes.RolloutRejected]: 'rejected',
  [DetailTypes.RolloutRolledBack]: 'rolled-back',
  [DetailTypes.RolloutFailed]: 'failed',
  [DetailTypes.RolloutSuperseded]: 'superseded',
  [DetailTypes.RolloutPaused]: 'paused',
} as const satisfies Partial<Record<OutcomeType, RolloutOutcome>>;
type RolloutEnd = keyof typeof OUTCOMES;

const isRolloutEnd = (name: string | undefined): name is RolloutEnd =>
  name !== undefined && Object.hasOwn(OUTCOMES, name);

export async function reportOutcome(request: RecordStepRequest) {
  const type = request.outcome;
  if (!isRolloutEnd(type)) {
    throw new ConfigurationError(
      `ReportOutcome needs outcome in ${Object.keys(OUTCOMES).join(', ')}, got ${String(request.outcome)}`,
    );
  }
  const outcome = OUTCOMES[type];
  const { fleet, channel, imageId } = request.state;
  const now = clock.now();
  const error = request.state.error;
  const cause = request.reason ?? (error ? causeMessage(error.Cause) : 'unknown');
  const rollbackError = request.state.rollbackError;
  // A rollback that stalled but left nothing of the new image (CheckRollbackCapacity) says so.
  const stalled = request.state.rollback?.stalled;
  const reason = rollbackError
    ? `${cause}; rollback failed: ${causeMessage(rollbackError.Cause)}`
    : stalled !== undefined
      ? `${cause}; rollback stalled: ${stalled}`
      : cause;
  const step = request.state.failedStep;
  const entry: HistoryEntry = {
    imageId,
    outcome,
    at: now.toISOString(),
    execution: request.execution,
    reason,
    ...(step !== undefined ? { step } : {}),
  };
  await recordOutcome({ fleet, execution: request.execution, entry, now });
  // A rollout that gave up waiting for the fleet withdraws its supersede request (idempotent).
  await clearSupersede(fleet, request.execution);
  const previousImageId = request.state.fleetState?.previousImageId;
  const supersededBy = request.state.safePoint?.supersededBy;
  // Stopped at a safe point (superseded, paused): not a failure, no error.
  if (type === DetailTypes.RolloutSuperseded || type === DetailTypes.RolloutPaused) {
    await putOutcome(type, {
      fleet,
      channel,
      imageId,
      execution: request.execution,
      reason,
      ...(supersededBy !== undefined ? { supersededBy } : {}),
      ...(step !== undefined ? { step } : {}),
      ...(previousImageId !== undefined ? { previousImageId } : {}),
    });
  } else {
    const quarantine =
      type === DetailTypes.RolloutRolledBack ? await quarantineAfterRollback(request, cause) : undefined;
    await putOutcome(type, {
      fleet,
      channel,
      imageId,
      execution: request.execution,
      reason,
      error: error?.Error ?? 'unknown',
      ...(step !== undefined ? { step } : {}),
      ...(previousImageId !== undefined ? { previousImageId } : {}),
      ...(quarantine !== undefined ? { quarantine } : {}),
    });
  }
  return { outcome: type };
}

/**
 * A rollback the image caused (domain/quarantine.ts; QuarantineImage tagged the AMI before this
 * report): record the quarantine on `IMAGE#<imageId>` (the first one wins) and put
 * ImageQuarantined (again on a retry of this step by the same execution: at least once). Never
 * throws: what failed is reported in RolloutRolledBack's `quarantine` (the rollback itself was
 * clean). Not retried later: the tag is what makes rollouts refuse the image; an untagged one
 * that is still broken rolls back in the next fleet and is quarantined then.
 */
async function quarantineAfterRollback(
  request: RecordStepRequest,
  cause: string,
): Promise<QuarantineDetail | undefined> {
  const reason = quarantineReason(request.state);
  if (reason === undefined) return undefined;
  const { fleet, channel, imageId } = request.state;
  const tagged = request.state.quarantine?.tagged === true;
  const errors: string[] = [];
  if (!tagged) {
    const failure = request.state.quarantineError;
    errors.push(
      `tagging the image failed: ${failure ? `${failure.Error ?? 'Error'}: ${causeMessage(failure.Cause)}` : 'QuarantineImage did not tag it'}`,
    );
  }
  const step = request.state.failedStep;
  let recorded = false;
  try {
    const now = clock.now();
    const result = await recordQuarantine(
      imageId,
      {
        reason,
        at: now.toISOString(),
        execution: request.execution,
        fleet,
        channel,
        cause,
        ...(step !== undefined ? { step } : {}),
      },
      now,
    );
    recorded = true;
    // This execution's quarantine (new, or its own on a retry): one ImageQuarantined per quarantine.
    if (result.quarantine.execution === request.execution) {
      await putOutcome(DetailTypes.ImageQuarantined, {
        imageId,
        reason,
        fleet,
        channel,
        execution: request.execution,
        ...(step !== undefined ? { step } : {}),
        cause,
        tagged,
      });
    }
  } catch (thrown) {
    const message = thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown);
    errors.push(`${recorded ? 'ImageQuarantined' : 'recording the quarantine'} failed: ${message}`);
  }
  if (errors.length > 0) {
    logger.warn('quarantine incomplete after a rollback', { imageId, reason, errors });
  }
  return { reason, tagged, recorded, ...(errors.length > 0 ? { error: errors.join('; ') } : {}) };
}

const steps: Record<RecordStep, (request: RecordStepRequest) => Promise<unknown>> = {
  [RecordSteps.AcquireFleetLock]: acquireFleetLock,
  [RecordSteps.CommitRollout]: commitRollout,
  [RecordSteps.ReportOutcome]: reportOutcome,
  [RecordSteps.TakeOverFleetLock]: takeOverFleetLock,
  [RecordSteps.CheckSafePoint]: checkSafePoint,
  [RecordSteps.WaitForRolloutSlot]: waitForRolloutSlot,
};

export async function runRecordStep(request: RecordStepRequest): Promise<unknown> {
  const run = steps[request.step];
  if (!run) throw new ConfigurationError(`unknown record step ${JSON.stringify(request.step)}`);
  return run(request);
}
