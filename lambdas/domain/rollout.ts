/**
 * Rollout planning: pure decisions the rollout steps take from the fleet's real state.
 */
import { createHash } from 'node:crypto';
import { RolloutTimedOutError } from './errors';

/** The input of a Rollout execution (what intake starts it with). */
export interface RolloutInput {
  readonly fleet: string;
  readonly imageId: string;
  readonly channel: string;
  /** What published the image, e.g. `aws.ec2/EC2 AMI State Change`. */
  readonly cause: string;
  /** The id of the event that started the rollout. */
  readonly requestId: string;
  /**
   * `rollback` (`phoenix rollback`): the image may be older than the fleet's (image policy
   * `allowOlder`), and the commit pins the fleet to it.
   */
  readonly mode?: 'rollout' | 'rollback';
}

/** What ValidateImage records of the fleet before anything changes (`$.fleetState`). */
export interface FleetState {
  readonly groupName: string;
  readonly launchTemplateId: string;
  /** The group's launch template version exactly as it was configured (`3`, `$Latest` or `$Default`). */
  readonly previousVersion: string;
  /** What that version resolved to before the rollout made a new one. */
  readonly previousVersionNumber: number;
  /** The image of that version, if it names one. */
  readonly previousImageId?: string;
  readonly desiredCapacity: number;
  readonly minSize: number;
  readonly maxSize: number;
  /** New instances launched per batch (surge: tag `phoenix:max-surge`). */
  readonly batchSize: number;
  /**
   * The floor of serving instances (all images) while rolling: `phoenix:min-healthy-percent` of
   * desired capacity, rounded up. A batch counts as ready only when the fleet serves at least this many.
   */
  readonly minHealthy: number;
  /** A Wait after a batch is InService and healthy, before its check and retirement (`phoenix:warmup-seconds`). */
  readonly warmupSeconds: number;
  /** A Wait after the last batch, before the final alarm check and the commit (`phoenix:bake-seconds`). */
  readonly bakeSeconds: number;
  /** CloudWatch alarm names that gate the rollout (`phoenix:alarms`). */
  readonly alarms: readonly string[];
  /** How many health checks a batch (or a rollback) gets before it counts as failed. */
  readonly maxChecks: number;
  /** The launch template already launches the image and every instance runs it: nothing to roll. */
  readonly upToDate: boolean;
  /**
   * The scaling processes Phoenix suspends for the rollout: those of `ROLLOUT_SUSPENDED_PROCESSES`
   * that were not already suspended before it (only these are resumed at the end).
   */
  readonly suspendProcesses?: readonly string[];
  /** `phoenix:strategy`: `rolling` (batches in the group) or `blue-green` (a second group). Absent: rolling. */
  readonly strategy?: 'rolling' | 'blue-green';
  /** `phoenix:canary`: one instance of the new image is validated before the fleet is touched. */
  readonly canary?: boolean;
}

/** Where the batches stand (`$.progress`). */
export interface Progress {
  /** New instances in the current batch. */
  readonly batch: number;
  /** Instances on the new image that must be InService and healthy for the batch to count as ready. */
  readonly expectedNew: number;
  /** Instances not on the new image still in the group. */
  readonly remainingOld: number;
  readonly ready: boolean;
  readonly checks: number;
  /** Old instances retired so far. */
  readonly replaced: number;
  /**
   * CheckBatchHealth: the wait before the batch's next check and its fast checks so far (see
   * domain/pacing.ts); WaitForHealthyBatch waits `nextCheckSeconds`.
   */
  readonly nextCheckSeconds?: number;
  readonly fastChecks?: number;
  readonly healthCheckIntervalSeconds?: number;
}

/** What CheckSafePoint found (`$.safePoint`). */
export interface SafePoint {
  /** Set when the rollout must stop here (no rollback): `RolloutSuperseded` or `RolloutPaused`. */
  readonly outcome?: 'RolloutSuperseded' | 'RolloutPaused';
  readonly reason?: string;
  /** The newer image that superseded this rollout. */
  readonly supersededBy?: string;
  /** The execution that continues this rollout (continue-as-new) if this one hands over here. */
  readonly continuation: { readonly name: string; readonly from: string; readonly number: number };
  /** The history events this execution has recorded so far, at most (see `HistoryBudget`). */
  readonly segment?: { readonly execution: string; readonly events: number };
  /** Hand over to the continuation now: one more batch and the worst end might not fit the budget. */
  readonly continueNow?: boolean;
}

/**
 * The history events of the Rollout workflow as AWS counts them (a Task state 5, any other 2),
 * computed at synth from the definition's shape and passed to CheckSafePoint, which decides where
 * an execution hands over to its continuation (continue-as-new).
 */
export interface HistoryBudget {
  /** The most events an execution may record (worst case). */
  readonly budget: number;
  /** The first execution's start, with the lock wait at its bound. */
  readonly firstStart: number;
  /** A continuation's start. */
  readonly continuationStart: number;
  /** A batch without its health checks. */
  readonly perBatch: number;
  /** Each health check of a batch (Wait, CheckBatchHealth, Choice). */
  readonly perCheck: number;
  /** The most checks a batch may take. */
  readonly maxChecks: number;
  /** The worst end of an execution (a rollback at its bound, then a failed report path). */
  readonly worstEnd: number;
}

/**
 * At a safe point: the events this execution has recorded so far (at most) and whether it must
 * hand over now (after this batch, one more batch at its worst and the worst end would exceed the
 * budget).
 */
export function segmentHistory(
  budget: HistoryBudget,
  execution: string,
  previous: SafePoint | undefined,
  batchChecks: number,
): { segment: { execution: string; events: number }; continueNow: boolean } {
  const base =
    previous?.segment?.execution === execution
      ? previous.segment.events
      : previous !== undefined
        ? budget.continuationStart
        : budget.firstStart;
  const events = base + budget.perBatch + budget.perCheck * Math.max(0, batchChecks);
  const worstBatch = budget.perBatch + budget.perCheck * budget.maxChecks;
  return {
    segment: { execution, events },
    continueNow: events + worstBatch + budget.worstEnd > budget.budget,
  };
}

/** Rollback progress (`$.rollback`). */
export interface RollbackProgress {
  readonly ready: boolean;
  readonly checks: number;
  /** Nothing was changed before the failure: nothing to undo. */
  readonly nothingToUndo: boolean;
  readonly removedNew?: number;
  /**
   * The checks ran out before the previous image's capacity served again, and the surge was taken
   * back with no instance of the new image left (CheckRollbackCapacity): what was seen and done.
   */
  readonly stalled?: string;
}

/** The whole workflow state as the steps receive it. */
export interface WorkflowState extends RolloutInput {
  /** The image as EC2 reports it (ReadImage, before the lock). */
  readonly image?: { readonly imageId: string; readonly creationDate?: string };
  readonly lock?: {
    readonly previousDesiredImage?: string;
    /** Epoch seconds: the rollout's deadline, set once at its start (carried by its continuations). */
    readonly deadline?: number;
  };
  readonly safePoint?: SafePoint;
  readonly fleetState?: FleetState;
  readonly launchTemplate?: { readonly version: string };
  readonly progress?: Progress;
  readonly rollback?: RollbackProgress;
  readonly error?: { readonly Error?: string; readonly Cause?: string };
  /** Set when a rollback step itself failed. */
  readonly rollbackError?: { readonly Error?: string; readonly Cause?: string };
  readonly failedStep?: string;
  /** QuarantineImage (after a rollback): the image's quarantine, when the image caused it. */
  readonly quarantine?: { readonly reason?: string; readonly tagged: boolean };
  /** QuarantineImage itself failed: the rollback is reported all the same, with this. */
  readonly quarantineError?: { readonly Error?: string; readonly Cause?: string };
}

/** One instance of a fleet, as Auto Scaling and EC2 report it together. */
export interface FleetInstance {
  readonly instanceId: string;
  /** From EC2: Auto Scaling does not report an instance's image. */
  readonly imageId?: string;
  readonly lifecycleState: string;
  readonly healthStatus: string;
  readonly launchTime?: Date;
  /**
   * Healthy in every target group of its group (DescribeTargetHealth): `false` when it is not (a
   * target still `initial`, `unhealthy`, `draining`); absent when the group has no target group or
   * the caller did not ask (`servingInstances` in aws/fleets.ts asks).
   */
  readonly inTargetGroups?: boolean;
  /**
   * Not healthy in every target group only because one or more still run their initial health
   * checks (`initial`): it has booted and waits for the target groups alone (see domain/pacing.ts).
   */
  readonly targetsInitial?: boolean;
}

/**
 * The launch template version a rollback points the group at: the version as configured, except
 * `$Latest`, which now names the version the rollout made: then the number it resolved to before.
 */
export function rollbackVersion(
  fleetState: Pick<FleetState, 'previousVersion' | 'previousVersionNumber'>,
): string {
  return fleetState.previousVersion === '$Latest'
    ? String(fleetState.previousVersionNumber)
    : fleetState.previousVersion;
}

/** Default surge: a quarter of the fleet per batch. */
export const DEFAULT_MAX_SURGE_PERCENT = 25;

/** New instances per batch: `percent` of desired capacity, rounded up, at least 1. */
export function batchSize(desiredCapacity: number, percent = DEFAULT_MAX_SURGE_PERCENT): number {
  if (!Number.isInteger(desiredCapacity) || desiredCapacity < 0) {
    throw new RangeError(`desired capacity must be a whole number >= 0, got ${desiredCapacity}`);
  }
  if (!(percent > 0 && percent <= 100))
    throw new RangeError(`surge percent must be in (0, 100], got ${percent}`);
  return Math.max(1, Math.ceil((desiredCapacity * percent) / 100));
}

const GONE_STATES = new Set([
  'Terminating',
  'Terminating:Wait',
  'Terminating:Proceed',
  'Terminated',
  'Detaching',
  'Detached',
]);

/** An instance that is leaving or has left the group does not count towards anything. */
export function isPresent(instance: FleetInstance): boolean {
  return !GONE_STATES.has(instance.lifecycleState);
}

/**
 * Serving: InService and Healthy in its group and, when that was asked (`inTargetGroups`), healthy
 * in every target group. Every guard of the floor counts with this (found by the torture run: an
 * instance the group launched meanwhile, InService but still `initial` in the target group, counted
 * as serving and let RetireBatch take a serving instance below the floor).
 */
export function isServing(instance: FleetInstance): boolean {
  return (
    instance.lifecycleState === 'InService' &&
    instance.healthStatus === 'Healthy' &&
    instance.inTargetGroups !== false
  );
}

/** Split a fleet's present instances into those on `imageId` and the others. */
export function splitByImage(instances: readonly FleetInstance[], imageId: string) {
  const present = instances.filter(isPresent);
  const onImage = present.filter((i) => i.imageId === imageId);
  const others = present.filter((i) => i.imageId !== imageId);
  return {
    present,
    onImage,
    others,
    servingOnImage: onImage.filter(isServing),
    servingOthers: others.filter(isServing),
  };
}

/**
 * Which old instances to retire so that the group is back at its desired capacity: the surplus,
 * those already out of service first, then the oldest (ties by id, so the choice is
 * deterministic). Computed from the actual count, so a retried step never retires more than the
 * surplus. A serving instance is retired only while at least `minServing` (the rollout's floor)
 * would still serve after it: when an instance the group launched in the meantime is not serving
 * yet, the rest of the surplus waits for the next batch (found by test/property/planners.test.ts).
 */
export function instancesToRetire(
  instances: readonly FleetInstance[],
  imageId: string,
  desiredCapacity: number,
  minServing = 0,
): FleetInstance[] {
  const { present, others } = splitByImage(instances, imageId);
  const surplus = Math.max(0, present.length - desiredCapacity);
  const spareServing = Math.max(0, present.filter(isServing).length - minServing);
  const sorted = [...others].sort((a, b) => {
    const servingFirst = Number(isServing(a)) - Number(isServing(b));
    const ta = a.launchTime?.getTime() ?? 0;
    const tb = b.launchTime?.getTime() ?? 0;
    return servingFirst || ta - tb || a.instanceId.localeCompare(b.instanceId);
  });
  return takeSurplus(sorted, surplus, spareServing);
}

/**
 * The first `surplus` of `candidates` (in their order), a serving one only while `spareServing`
 * serving instances may still go; the first serving one past that ends the choice.
 */
function takeSurplus(
  candidates: readonly FleetInstance[],
  surplus: number,
  spareServing: number,
): FleetInstance[] {
  let spare = spareServing;
  const taken: FleetInstance[] = [];
  for (const instance of candidates) {
    if (taken.length >= surplus) break;
    if (isServing(instance)) {
      if (spare === 0) break;
      spare -= 1;
    }
    taken.push(instance);
  }
  return taken;
}

/**
 * A stalled rollback's surplus (found by the torture run, seed 7: a rollback whose old capacity
 * never came back left the group surged, and the next rollout took the surge as the fleet's
 * capacity): which instances go, with a decrement, so that the group is back at the fleet's
 * capacity without Auto Scaling choosing. Those that do not serve go first — of the new image, then
 * of any other, newest first — since removing them costs no serving capacity; then serving ones of
 * the new image, only while at least `minServing` would still serve. A serving instance of another
 * image is never taken. Computed from the actual count: a retried step takes nothing more.
 */
export function stalledRollbackSurplus(
  instances: readonly FleetInstance[],
  newImageId: string,
  desiredCapacity: number,
  minServing = 0,
): FleetInstance[] {
  const present = instances.filter(isPresent);
  const surplus = Math.max(0, present.length - desiredCapacity);
  const spareServing = Math.max(0, present.filter(isServing).length - minServing);
  const newestFirst = (a: FleetInstance, b: FleetInstance) =>
    (b.launchTime?.getTime() ?? 0) - (a.launchTime?.getTime() ?? 0) ||
    a.instanceId.localeCompare(b.instanceId);
  const onNew = (i: FleetInstance) => i.imageId === newImageId;
  const candidates = [
    ...present.filter((i) => !isServing(i) && onNew(i)).sort(newestFirst),
    ...present.filter((i) => !isServing(i) && !onNew(i)).sort(newestFirst),
    ...present.filter((i) => isServing(i) && onNew(i)).sort(newestFirst),
  ];
  return takeSurplus(candidates, surplus, spareServing);
}

/**
 * The Step Functions execution name of a rollout: deterministic in (fleet, image, event), so a
 * duplicate delivery of the same event starts nothing new, and within the 80 characters of
 * `[A-Za-z0-9_-]` that Step Functions accepts.
 */
export function executionName(fleet: string, imageId: string, eventId: string): string {
  const digest = createHash('sha256').update(`${fleet}\n${imageId}\n${eventId}`).digest('hex').slice(0, 16);
  const safe = (s: string, max: number) => s.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, max);
  return `${safe(fleet, 39)}--${safe(imageId, 21)}--${digest}`;
}

/**
 * The scaling processes suspended while a rollout runs, so that Auto Scaling neither rebalances
 * zones (terminating instances the rollout counts on), nor scales on alarms or schedules.
 */
export const ROLLOUT_SUSPENDED_PROCESSES = ['AZRebalance', 'AlarmNotification', 'ScheduledActions'] as const;

/** The processes a rollout suspends: those of the list the group has not suspended already. */
export function processesToSuspend(alreadySuspended: readonly string[]): string[] {
  return ROLLOUT_SUSPENDED_PROCESSES.filter((p) => !alreadySuspended.includes(p));
}

/** The rollout's deadline (epoch seconds): its first execution's start plus the rollout timeout. */
export function rolloutDeadline(startedAt: Date, timeoutSeconds: number): number {
  return Math.floor(startedAt.getTime() / 1000) + timeoutSeconds;
}

/**
 * Throw RolloutTimedOutError (naming the step) when `now`, or `now + ahead.seconds` (a Wait that
 * is about to start), is past the deadline. No deadline: nothing to check.
 */
export function checkDeadline(
  deadline: number | undefined,
  now: Date,
  step: string,
  ahead?: { seconds: number; what: string },
): void {
  if (deadline === undefined) return;
  const epoch = Math.floor(now.getTime() / 1000);
  const at = new Date(deadline * 1000).toISOString();
  if (epoch > deadline) {
    throw new RolloutTimedOutError(`the rollout timed out in ${step}: its deadline ${at} has passed`);
  }
  if (ahead !== undefined && ahead.seconds > 0 && epoch + ahead.seconds > deadline) {
    throw new RolloutTimedOutError(
      `the rollout timed out in ${step}: the ${ahead.what} (${ahead.seconds} s) would end after its deadline ${at}`,
    );
  }
}

/**
 * The name of continuation `number` of a rollout execution (continue-as-new): the first
 * execution's name (without a previous `-c<n>` suffix) with `-c<number>`, within the 80
 * characters Step Functions accepts. Deterministic: a retried start starts nothing new.
 */
export function continuationName(execution: string, number: number): string {
  const base = execution.replace(/-c\d+$/, '');
  const suffix = `-c${number}`;
  return `${base.slice(0, 80 - suffix.length)}${suffix}`;
}

/**
 * Is image `a` newer than image `b` by their CreationDate (ISO-8601)? Unknown dates compare as not
 * newer (a rollout that cannot tell supersedes nothing).
 */
export function isNewerImage(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  const ta = Date.parse(a);
  const tb = Date.parse(b);
  return Number.isFinite(ta) && Number.isFinite(tb) && ta > tb;
}
