/**
 * Quarantine (issue 13 §3): an image rolled back because of the image itself is tagged
 * `phoenix:quarantined=<reason>` on the AMI and recorded (`IMAGE#<imageId>` in the fleet table);
 * every channel's rollouts refuse it until an operator clears it (`phoenix release`).
 *
 * Which rollbacks are the image's fault is decided here, from the failed step and the error the
 * workflow caught, and nowhere else (the fleet step that tags and the record step that records
 * both ask the same function). Pure module: no SDK.
 */
import { Tags } from './contract';
import { ErrorNames } from './errors';
import { MalformedRecordError } from './fleet-record';

/** Why an image is quarantined: the value of its `phoenix:quarantined` tag. */
export const QuarantineReasons = {
  /** A batch (or green) never became InService and healthy: BatchNotHealthyError. */
  health: 'health',
  /** A gating alarm went into ALARM after a batch (or after green came up). */
  alarm: 'alarm',
  /** A gating alarm went into ALARM after the bake. */
  bake: 'bake',
  /** The channel's post-creation validation test failed (or timed out). */
  validation: 'validation',
} as const;
export type QuarantineReason = (typeof QuarantineReasons)[keyof typeof QuarantineReasons];

/** The gating-alarm checks after a bake (rolling and blue-green): their failure is the bake's. */
const BAKE_ALARM_STEPS: readonly string[] = ['CheckAlarmsAfterBake', 'CheckAlarmsAfterGreenBake'];

/** What the decision reads of a rolled-back rollout's state. */
export interface RolledBackRollout {
  /** The state that failed (`$.failedStep`, set by `onFailure`). */
  readonly failedStep?: string;
  /** The caught error (`$.error`). */
  readonly error?: { readonly Error?: string; readonly Cause?: string };
  /** `rollback` for `phoenix rollback` onto an older image. */
  readonly mode?: string;
}

/**
 * Was this rollback the image's fault, and how? `undefined` for everything else: a transient AWS
 * failure, Phoenix's own deadline (RolloutTimedOutError), a step's own failure (configuration, a
 * group that vanished), and any failure of an operator's `phoenix rollback` onto an older image
 * (the operator chose that image to get away from a worse one; it is not judged here).
 */
export function quarantineReason(rollout: RolledBackRollout): QuarantineReason | undefined {
  if (rollout.mode === 'rollback') return undefined;
  const error = rollout.error?.Error;
  if (error === ErrorNames.BatchNotHealthyError) return QuarantineReasons.health;
  if (error === ErrorNames.AlarmBreachedError) {
    // An alarm that does not exist also throws AlarmBreachedError: a fleet's misconfiguration, not the image.
    if (/does not exist/.test(rollout.error?.Cause ?? '')) return undefined;
    return BAKE_ALARM_STEPS.includes(rollout.failedStep ?? '')
      ? QuarantineReasons.bake
      : QuarantineReasons.alarm;
  }
  return undefined;
}

/** The image's quarantine as its AMI tags say (`undefined`: not quarantined). */
export function quarantineOf(tags: Readonly<Record<string, string>>): string | undefined {
  const value = tags[Tags.quarantined];
  return value === undefined ? undefined : value === '' ? 'unknown' : value;
}

/** The RolloutRejected reason for a quarantined image. */
export function quarantinedMessage(imageId: string, reason: string): string {
  return `image ${imageId} is quarantined (${Tags.quarantined}=${reason}): a rollout of it rolled back because of the image; every channel refuses it until an operator runs phoenix release ${imageId}`;
}

/** The key of an image's item in the fleet table. */
export const imageKey = (imageId: string) => `IMAGE#${imageId}`;

/** The quarantine an image's record holds (present while the image is quarantined). */
export interface ImageQuarantine {
  readonly reason: string;
  readonly at: string;
  readonly execution: string;
  readonly fleet?: string;
  readonly channel?: string;
  readonly step?: string;
  readonly cause: string;
}

/** One release of an image's quarantine (`phoenix release`), kept in the record's `releases`. */
export interface ImageRelease {
  readonly by: string;
  readonly at: string;
  readonly reason: string;
  readonly quarantine?: ImageQuarantine;
}

/** The image's item `IMAGE#<imageId>`: its quarantine (if any) and its releases, oldest first. */
export interface ImageRecord {
  readonly imageId: string;
  readonly quarantine?: ImageQuarantine;
  readonly releases: readonly ImageRelease[];
  /** Validation (issue 13 §2): `validated` or `failed`, once per image. */
  readonly validation?: { readonly status: string; readonly at: string; readonly execution?: string };
}

/** At most this many releases are kept on an image's record (the newest). */
export const MAX_RELEASES = 20;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function str(where: string, v: unknown): string {
  if (typeof v !== 'string')
    throw new MalformedRecordError(`${where} must be a string, got ${JSON.stringify(v)}`);
  return v;
}
const optStr = (where: string, v: unknown) => (v === undefined || v === null ? undefined : str(where, v));

export function parseImageQuarantine(where: string, v: unknown): ImageQuarantine {
  if (!isRecord(v)) throw new MalformedRecordError(`${where} must be a map, got ${JSON.stringify(v)}`);
  const fleet = optStr(`${where}.fleet`, v.fleet);
  const channel = optStr(`${where}.channel`, v.channel);
  const step = optStr(`${where}.step`, v.step);
  return {
    reason: str(`${where}.reason`, v.reason),
    at: str(`${where}.at`, v.at),
    execution: str(`${where}.execution`, v.execution),
    cause: str(`${where}.cause`, v.cause),
    ...(fleet !== undefined ? { fleet } : {}),
    ...(channel !== undefined ? { channel } : {}),
    ...(step !== undefined ? { step } : {}),
  };
}

/** An `IMAGE#` item's attributes (without `pk`), or MalformedRecordError naming the field. */
export function parseImageRecord(imageId: string, raw: Record<string, unknown>): ImageRecord {
  const where = `image record ${imageId}`;
  const quarantine =
    raw.quarantine === undefined || raw.quarantine === null
      ? undefined
      : parseImageQuarantine(`${where}.quarantine`, raw.quarantine);
  const releasesRaw = raw.releases ?? [];
  if (!Array.isArray(releasesRaw)) throw new MalformedRecordError(`${where}.releases must be a list`);
  const releases = releasesRaw.map((r, i): ImageRelease => {
    const w = `${where}.releases[${i}]`;
    if (!isRecord(r)) throw new MalformedRecordError(`${w} must be a map`);
    return {
      by: str(`${w}.by`, r.by),
      at: str(`${w}.at`, r.at),
      reason: str(`${w}.reason`, r.reason),
      ...(r.quarantine !== undefined && r.quarantine !== null
        ? { quarantine: parseImageQuarantine(`${w}.quarantine`, r.quarantine) }
        : {}),
    };
  });
  let validation: ImageRecord['validation'];
  if (raw.validation !== undefined && raw.validation !== null) {
    const v = raw.validation;
    if (!isRecord(v)) throw new MalformedRecordError(`${where}.validation must be a map`);
    const execution = optStr(`${where}.validation.execution`, v.execution);
    validation = {
      status: str(`${where}.validation.status`, v.status),
      at: str(`${where}.validation.at`, v.at),
      ...(execution !== undefined ? { execution } : {}),
    };
  }
  return {
    imageId,
    releases,
    ...(quarantine !== undefined ? { quarantine } : {}),
    ...(validation !== undefined ? { validation } : {}),
  };
}
