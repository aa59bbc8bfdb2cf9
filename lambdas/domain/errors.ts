/**
 * Named errors. Each sets `name` to a string from `ErrorNames` (minified bundles rename classes,
 * and the workflows' Retry and Catch match on the name), keeps the `cause`, and says what was
 * received. The workflows (lib/) build every Retry and Catch list from the same map.
 *
 * Transient errors (worth a retry) are `TransientAwsError`; everything else is terminal.
 */

/** The `name` of every Phoenix error: what a Lambda failure reports as its `errorType`. */
export const ErrorNames = {
  MalformedEventError: 'MalformedEventError',
  ImageRejectedError: 'ImageRejectedError',
  FleetNotFoundError: 'FleetNotFoundError',
  UnsupportedFleetError: 'UnsupportedFleetError',
  /** Its class lives with the settings it checks (domain/fleet-settings.ts). */
  InvalidFleetSettingError: 'InvalidFleetSettingError',
  /** Its class lives with the records it parses (domain/fleet-record.ts). */
  MalformedRecordError: 'MalformedRecordError',
  FleetBusyError: 'FleetBusyError',
  FleetPausedError: 'FleetPausedError',
  RolloutQueuedError: 'RolloutQueuedError',
  RolloutSlotQueuedError: 'RolloutSlotQueuedError',
  BatchNotHealthyError: 'BatchNotHealthyError',
  AlarmBreachedError: 'AlarmBreachedError',
  RollbackStalledError: 'RollbackStalledError',
  ReplacementNotHealthyError: 'ReplacementNotHealthyError',
  RolloutTimedOutError: 'RolloutTimedOutError',
  OlderImageError: 'OlderImageError',
  ConfigurationError: 'ConfigurationError',
  ValidationTimedOutError: 'ValidationTimedOutError',
  TransientAwsError: 'TransientAwsError',
} as const;
export type ErrorName = (typeof ErrorNames)[keyof typeof ErrorNames];

export abstract class PhoenixError extends Error {
  abstract override readonly name: ErrorName;
}

/** An incoming event that is not what its source and detail-type promise. Goes to the DLQ. */
export class MalformedEventError extends PhoenixError {
  override readonly name = ErrorNames.MalformedEventError;
}

/** The image cannot be rolled out: missing, not available, not an AMI id. Nothing is launched. */
export class ImageRejectedError extends PhoenixError {
  override readonly name = ErrorNames.ImageRejectedError;
}

/** No Auto Scaling group carries the fleet's tag (any more). */
export class FleetNotFoundError extends PhoenixError {
  override readonly name = ErrorNames.FleetNotFoundError;
}

/** The fleet's group is of a shape Phoenix does not manage (launch configuration, mixed instances…). */
export class UnsupportedFleetError extends PhoenixError {
  override readonly name = ErrorNames.UnsupportedFleetError;
}

/** Another rollout holds the fleet's lock. */
export class FleetBusyError extends PhoenixError {
  override readonly name = ErrorNames.FleetBusyError;
}

/** The fleet is paused (`phoenix pause`): no rollout starts until `phoenix resume`. */
export class FleetPausedError extends PhoenixError {
  override readonly name = ErrorNames.FleetPausedError;
}

/**
 * The rollout waits in line (the workflow waits and asks again, until its deadline): an older
 * image's rollout holds the fleet and was asked to stop (supersede), or replacements of the fleet
 * are in flight.
 */
export class RolloutQueuedError extends PhoenixError {
  override readonly name: ErrorName = ErrorNames.RolloutQueuedError;
}

/**
 * The rollout waits for a global rollout slot (`maxConcurrentRollouts`), with the fleet lock
 * held: the workflow registers as a waiter (WaitForRolloutSlot, the callback pattern) and is woken
 * when a slot is given back, or asks again after one lock-wait interval.
 */
export class RolloutSlotQueuedError extends RolloutQueuedError {
  override readonly name: ErrorName = ErrorNames.RolloutSlotQueuedError;
}

/** A batch of new instances did not become InService and healthy in time. */
export class BatchNotHealthyError extends PhoenixError {
  override readonly name = ErrorNames.BatchNotHealthyError;
}

/** A CloudWatch alarm that gates the fleet's rollouts (tag `phoenix:alarms`) is in ALARM. */
export class AlarmBreachedError extends PhoenixError {
  override readonly name = ErrorNames.AlarmBreachedError;
}

/** A rollback could not restore the previous image's healthy capacity in time. */
export class RollbackStalledError extends PhoenixError {
  override readonly name = ErrorNames.RollbackStalledError;
}

/** A replacement did not leave the group at its desired capacity, serving, in time. */
export class ReplacementNotHealthyError extends PhoenixError {
  override readonly name = ErrorNames.ReplacementNotHealthyError;
}

/**
 * A rollout passed its deadline (set once at its start from the rollout timeout) in a step that
 * waits or loops: the rollout rolls back (or, before anything changed, is rejected).
 */
export class RolloutTimedOutError extends PhoenixError {
  override readonly name = ErrorNames.RolloutTimedOutError;
}

/**
 * The image is older than (or as old as) the image another rollout is rolling out or the fleet's
 * desired image (events are unordered: a late event must not roll a fleet back). Nothing changes.
 */
export class OlderImageError extends PhoenixError {
  override readonly name = ErrorNames.OlderImageError;
}

/** A deployment or wiring mistake: a missing environment variable, an unknown step. */
export class ConfigurationError extends PhoenixError {
  override readonly name = ErrorNames.ConfigurationError;
}

/** Throttling, a 5xx, a network fault: the same call may succeed later. */
export class TransientAwsError extends PhoenixError {
  override readonly name = ErrorNames.TransientAwsError;
}

/** The workflow's `$.error.Cause` for a Lambda failure is JSON `{errorType, errorMessage}`; extract the message. */
export function causeMessage(cause: unknown): string {
  if (typeof cause !== 'string') return 'unknown cause';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // not JSON: Step Functions' own errors carry plain text
  }
  return cause;
}

/** Post-creation validation: the image's instance or its test did not finish within the timeout. */
export class ValidationTimedOutError extends PhoenixError {
  override readonly name = ErrorNames.ValidationTimedOutError;
}
