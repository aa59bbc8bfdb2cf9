/**
 * Rollout planning: pure decisions the rollout steps take from the fleet's real state.
 */
import { createHash } from 'node:crypto';

/** The input of a Rollout execution (what intake starts it with). */
export interface RolloutInput {
  readonly fleet: string;
  readonly imageId: string;
  readonly channel: string;
  /** What published the image, e.g. `aws.ec2/EC2 AMI State Change`. */
  readonly cause: string;
  /** The id of the event that started the rollout. */
  readonly requestId: string;
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
}

/** Rollback progress (`$.rollback`). */
export interface RollbackProgress {
  readonly ready: boolean;
  readonly checks: number;
  /** Nothing was changed before the failure: nothing to undo. */
  readonly nothingToUndo: boolean;
  readonly removedNew?: number;
}

/** The whole workflow state as the steps receive it. */
export interface WorkflowState extends RolloutInput {
  readonly lock?: { readonly previousDesiredImage?: string };
  readonly fleetState?: FleetState;
  readonly launchTemplate?: { readonly version: string };
  readonly progress?: Progress;
  readonly rollback?: RollbackProgress;
  readonly error?: { readonly Error?: string; readonly Cause?: string };
  /** Set when a rollback step itself failed. */
  readonly rollbackError?: { readonly Error?: string; readonly Cause?: string };
  readonly failedStep?: string;
}

/** One instance of a fleet, as Auto Scaling and EC2 report it together. */
export interface FleetInstance {
  readonly instanceId: string;
  /** From EC2: Auto Scaling does not report an instance's image. */
  readonly imageId?: string;
  readonly lifecycleState: string;
  readonly healthStatus: string;
  readonly launchTime?: Date;
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

export function isServing(instance: FleetInstance): boolean {
  return instance.lifecycleState === 'InService' && instance.healthStatus === 'Healthy';
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
 * surplus.
 */
export function instancesToRetire(
  instances: readonly FleetInstance[],
  imageId: string,
  desiredCapacity: number,
): FleetInstance[] {
  const { present, others } = splitByImage(instances, imageId);
  const surplus = Math.max(0, present.length - desiredCapacity);
  return [...others]
    .sort((a, b) => {
      const servingFirst = Number(isServing(a)) - Number(isServing(b));
      const ta = a.launchTime?.getTime() ?? 0;
      const tb = b.launchTime?.getTime() ?? 0;
      return servingFirst || ta - tb || a.instanceId.localeCompare(b.instanceId);
    })
    .slice(0, surplus);
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
