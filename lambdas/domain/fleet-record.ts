/**
 * The fleet record Phoenix keeps in DynamoDB (one item per fleet, key `FLEET#<fleet>`): the
 * desired image, the history of images with their outcomes, and the lock of the active rollout.
 */

export type RolloutOutcome = 'succeeded' | 'rolled-back' | 'rejected' | 'failed';

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
}

export interface ReplacementSlot {
  readonly execution: string;
  /** ISO-8601. */
  readonly since: string;
}

export interface FleetRecord {
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
  readonly updatedAt?: string;
}

/** How many history entries a fleet record keeps (newest last). */
export const HISTORY_LIMIT = 50;

export const fleetKey = (fleet: string) => `FLEET#${fleet}`;

/** How many of the oldest entries to drop so that the history fits its limit again. */
export function historyOverflow(length: number, limit = HISTORY_LIMIT): number {
  return Math.max(0, length - limit);
}
