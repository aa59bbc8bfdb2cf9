/**
 * The fleet record Phoenix keeps in DynamoDB (one item per fleet, key `FLEET#<fleet>`): the
 * desired image, the history of images with their outcomes, and the lock of the active rollout.
 */

/** `superseded` and `paused`: stopped cleanly at a safe point, not rolled back. */
export type RolloutOutcome = 'succeeded' | 'rolled-back' | 'rejected' | 'failed' | 'superseded' | 'paused';

export interface HistoryEntry {
  readonly imageId: string;
  readonly outcome: RolloutOutcome;
  /** ISO-8601. */
  readonly at: string;
  readonly execution: string;
  readonly reason?: string;
  readonly step?: string;
}

export interface ActiveRollout {
  readonly execution: string;
  readonly imageId: string;
  readonly startedAt: string;
  /** Epoch seconds after which the lock counts as abandoned (the workflow's own timeout). */
  readonly expiresAt: number;
  /** The image's CreationDate (ISO-8601): a rollout of a newer image may supersede this one. */
  readonly imageCreatedAt?: string;
}

/** A rollout of a newer image asks the active rollout to stop at its next safe point. */
export interface SupersedeRequest {
  readonly imageId: string;
  /** The image's CreationDate (ISO-8601). */
  readonly imageCreatedAt: string;
  /** The waiting execution. */
  readonly execution: string;
  /** ISO-8601. */
  readonly at: string;
}

export interface ReplacementSlot {
  readonly execution: string;
  /** ISO-8601. */
  readonly since: string;
}

/** `phoenix pause`: no automation starts for the fleet while this is set (see README). */
export interface FleetPause {
  /** ISO-8601. */
  readonly at: string;
  readonly reason: string;
}

/** A rollback pins the fleet to its image: publications on its channel are ignored until released. */
export interface PinnedImage {
  readonly imageId: string;
  /** ISO-8601. */
  readonly at: string;
  /** The rollback execution that committed it. */
  readonly execution: string;
}

/** A rollout waiting for a slot of the global fan-out limit (`maxConcurrentRollouts`). */
export interface RolloutQueue {
  /** ISO-8601: when it first found no slot free. */
  readonly since: string;
  /** Slots held when it last asked, and the limit. */
  readonly inFlight: number;
  readonly limit: number;
}

/** Chaos mode's kill of one instance of the fleet. */
export interface ChaosKillMark {
  /** ISO-8601: when. */
  readonly at: string;
  readonly instanceId: string;
  /** ISO-8601 start of the chaos period it was the kill of. */
  readonly period: string;
}

/** A launch template version a fleet's group launches, with its creation time (reconcile sweep). */
export interface ObservedLaunchTemplate {
  readonly id: string;
  readonly version: string;
  /** ISO-8601: when the version was created (DescribeLaunchTemplateVersions' CreateTime). */
  readonly createdAt: string;
}

export interface FleetRecord {
  /** The group's launch template version as the last reconcile sweep saw it (read once per version). */
  readonly observedLaunchTemplate?: ObservedLaunchTemplate;
  readonly fleet: string;
  readonly channel?: string;
  readonly desiredImage?: string;
  readonly previousImage?: string;
  readonly imageHistory?: readonly HistoryEntry[];
  readonly activeRollout?: ActiveRollout;
  /** Replacements in flight (the disruption budget's slots), by instance id. */
  readonly replacements?: Readonly<Record<string, ReplacementSlot>>;
  /** How many slots are held: `replacements`' size, kept by the same atomic updates. */
  readonly replacementsInFlight?: number;
  /** Chaos mode's last kill (one per period, written by a conditional update). */
  readonly lastChaosKill?: ChaosKillMark;
  /** Set by `phoenix pause`, removed by `phoenix resume`. */
  readonly paused?: FleetPause;
  /** Set when a rollback commits; removed by an explicit PublishImage or `phoenix unpin`. */
  readonly pinnedImage?: PinnedImage;
  /** A newer image's rollout waits for the lock: the active rollout stops at its next safe point. */
  readonly supersedeRequested?: SupersedeRequest;
  /** The desired image's CreationDate (ISO-8601), recorded at commit: older images are rejected. */
  readonly desiredImageCreatedAt?: string;
  /** The active rollout is waiting for a global rollout slot (removed once it has one). */
  readonly rolloutQueued?: RolloutQueue;
  readonly updatedAt?: string;
}

/** How many history entries a fleet record keeps (newest last). */
export const HISTORY_LIMIT = 50;

export const fleetKey = (fleet: string) => `FLEET#${fleet}`;

/** How many of the oldest entries to drop so that the history fits its limit again. */
export function historyOverflow(length: number, limit = HISTORY_LIMIT): number {
  return Math.max(0, length - limit);
}

/**
 * The global fan-out limit: one item (key `ROLLOUTS`) holds the rollout slots, by execution, each
 * with its expiry (epoch seconds, the workflow's timeout: a dead execution's slot is reclaimed).
 */
export const ROLLOUT_SLOTS_KEY = 'ROLLOUTS';

/** Default `maxConcurrentRollouts`. */
export const DEFAULT_MAX_CONCURRENT_ROLLOUTS = 10;

/**
 * The images a fleet may be rolled back to, newest first: images of its succeeded history entries
 * other than `exclude` (its current desired image), each once; then the record's previousImage
 * if it is not among them.
 */
export function rollbackCandidates(record: FleetRecord | undefined): string[] {
  if (record === undefined) return [];
  const exclude = record.desiredImage;
  const out: string[] = [];
  for (const entry of [...(record.imageHistory ?? [])].reverse()) {
    if (entry.outcome !== 'succeeded' || entry.imageId === exclude || out.includes(entry.imageId)) continue;
    out.push(entry.imageId);
  }
  if (
    record.previousImage !== undefined &&
    record.previousImage !== exclude &&
    !out.includes(record.previousImage)
  ) {
    out.push(record.previousImage);
  }
  return out;
}
