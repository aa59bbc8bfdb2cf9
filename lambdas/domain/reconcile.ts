/**
 * The reconcile sweep: pure decisions. A level-triggered backstop to the event path: it compares
 * each managed fleet's actual state (its groups' instances, their images and taint tags) with the
 * desired one (the fleet record's desired image) and names each difference; each instance
 * difference becomes the same action as an event would cause (a Replace execution under the same
 * deterministic name, so the budget and dedupe apply).
 */
import type { ReplaceCause } from './intake';
import { flagsInWindow } from './circuit';
import type { FleetRecord, ObservedLaunchTemplate } from './fleet-record';

export interface ObservedInstance {
  readonly instanceId: string;
  readonly groupName: string;
  /** The group's lifecycle state (InService, Pending, Terminating…). */
  readonly lifecycleState: string;
  readonly imageId?: string;
  /** The value of `phoenix:tainted`, if any. */
  readonly tainted?: string;
  /** ISO-8601, from EC2. */
  readonly launchTime?: string;
  /** The launch template version the instance's group launches now, when it names a number. */
  readonly groupLaunchTemplate?: ObservedLaunchTemplate;
}

/** An instance that carries a fleet's `phoenix:fleet` tag but no Auto Scaling group launched it. */
export interface TaggedInstance {
  readonly instanceId: string;
  readonly fleet: string;
  /** The `aws:autoscaling:groupName` tag, if Auto Scaling launched it. */
  readonly autoScalingGroup?: string;
}

export interface ObservedFleet {
  readonly fleet: string;
  readonly record?: FleetRecord;
  readonly instances: readonly ObservedInstance[];
  /** Does the desired image (record) still exist? undefined: no desired image. */
  readonly desiredImageExists?: boolean;
  /**
   * The image the fleet's group launches (its launch template version's AMI), when every group of
   * the fleet launches the same one: the desired image of a fleet whose record has none yet (no
   * rollout ever committed; a rollout stopped at a safe point points the group back at it).
   */
  readonly launchTemplateImage?: string;
}

export type Difference =
  | {
      readonly kind: 'wrong-image';
      readonly fleet: string;
      readonly instanceId: string;
      readonly imageId: string | null;
      readonly desiredImage: string;
      readonly cause: ReplaceCause;
      readonly reason: string;
    }
  | {
      readonly kind: 'tainted';
      readonly fleet: string;
      readonly instanceId: string;
      readonly cause: ReplaceCause;
      readonly reason: string;
    }
  | {
      readonly kind: 'stale-launch-template';
      readonly fleet: string;
      readonly instanceId: string;
      readonly launchTime: string;
      readonly groupLaunchTemplate: ObservedLaunchTemplate;
      readonly cause: ReplaceCause;
      readonly reason: string;
    }
  | {
      readonly kind: 'desired-image-missing';
      readonly fleet: string;
      readonly desiredImage: string;
      readonly reason: string;
    }
  | {
      readonly kind: 'stray-instance';
      readonly fleet: string;
      readonly instanceId: string;
      readonly reason: string;
    };

export type StrayInstance = Extract<Difference, { kind: 'stray-instance' }>;

/** The differences the event path's Replace workflow answers (one instance of a fleet's group each). */
export type InstanceDifference = Exclude<Difference, { kind: 'desired-image-missing' | 'stray-instance' }>;

const CAUSES: ReadonlySet<string> = new Set<ReplaceCause>([
  'health',
  'interruption',
  'retirement',
  'drift',
  'shell-access',
]);

/** A rollout lock counts while it has not expired. */
export function rolloutActive(record: FleetRecord | undefined, now: Date): boolean {
  const lock = record?.activeRollout;
  return lock !== undefined && lock.expiresAt * 1000 > now.getTime();
}

/**
 * The differences of one fleet: an InService instance tainted (`phoenix:tainted`) but still
 * serving; an InService instance on an image other than the desired one (the record's, or before
 * any commit the one the group launches; only while no rollout is active: a rollout moves
 * instances itself); a desired image that no longer exists (the fleet
 * cannot scale out). One difference per instance (tainted first).
 */
export function fleetDifferences(observed: ObservedFleet, now: Date): Difference[] {
  const out: Difference[] = [];
  const committed = observed.record?.desiredImage;
  // Found by the torture run: before the first commit, a rollout stopped at a safe point left the
  // instances it rolled on an image nobody committed, and the sweep saw no difference. Until a
  // rollout commits, the image the group launches (its original one) is the desired one.
  const desired = committed ?? observed.launchTemplateImage;
  if (committed !== undefined && observed.desiredImageExists === false) {
    out.push({
      kind: 'desired-image-missing',
      fleet: observed.fleet,
      desiredImage: committed,
      reason: `the desired image ${committed} of fleet ${observed.fleet} no longer exists (deregistered): the fleet cannot scale out or replace instances`,
    });
  }
  const rolling = rolloutActive(observed.record, now);
  for (const i of observed.instances) {
    if (i.lifecycleState !== 'InService') continue;
    if (i.tainted !== undefined) {
      out.push({
        kind: 'tainted',
        fleet: observed.fleet,
        instanceId: i.instanceId,
        cause: CAUSES.has(i.tainted) ? (i.tainted as ReplaceCause) : 'drift',
        reason: `reconcile: instance ${i.instanceId} is tainted (${i.tainted}) but still InService`,
      });
    } else if (desired !== undefined && !rolling && i.imageId !== desired) {
      out.push({
        kind: 'wrong-image',
        fleet: observed.fleet,
        instanceId: i.instanceId,
        imageId: i.imageId ?? null,
        desiredImage: desired,
        cause: 'drift',
        reason: `reconcile: instance ${i.instanceId} runs ${i.imageId ?? 'an unknown image'}, fleet ${observed.fleet} wants ${desired}`,
      });
    } else if (
      !rolling &&
      i.launchTime !== undefined &&
      i.groupLaunchTemplate !== undefined &&
      launchedBefore(i.launchTime, i.groupLaunchTemplate.createdAt)
    ) {
      // Launched before the version its group launches existed: from an older configuration
      // (user data, instance type, security groups…), whatever its image.
      const lt = i.groupLaunchTemplate;
      out.push({
        kind: 'stale-launch-template',
        fleet: observed.fleet,
        instanceId: i.instanceId,
        launchTime: i.launchTime,
        groupLaunchTemplate: lt,
        cause: 'drift',
        reason: `reconcile: instance ${i.instanceId} was launched at ${i.launchTime}, before version ${lt.version} of launch template ${lt.id} (created ${lt.createdAt}) that its group launches: an older configuration`,
      });
    }
  }
  return out;
}

/** Seconds of clock tolerance between EC2's LaunchTime and a version's CreateTime. */
export const LAUNCH_TEMPLATE_CLOCK_TOLERANCE_SECONDS = 5;

/** Launched clearly before the version was created (beyond the tolerance)? */
export function launchedBefore(launchTime: string, createdAt: string): boolean {
  const launched = Date.parse(launchTime);
  const created = Date.parse(createdAt);
  return (
    !Number.isNaN(launched) &&
    !Number.isNaN(created) &&
    launched + LAUNCH_TEMPLATE_CLOCK_TOLERANCE_SECONDS * 1000 < created
  );
}

/** A launch template version a group names as a number (not `$Latest`/`$Default`). */
export const isVersionNumber = (v: string | undefined): v is string =>
  v !== undefined && /^[1-9]\d*$/.test(v);

/**
 * Instances tagged with a managed fleet's name that no Auto Scaling group launched (no
 * `aws:autoscaling:groupName` tag) and that are not members of a group: snowflakes started by hand
 * from the fleet's launch template or tags. Phoenix does not own them (it never terminates what is
 * not in a fleet's group): they are reported.
 */
export function strayInstances(
  tagged: readonly TaggedInstance[],
  members: ReadonlySet<string>,
  fleets: ReadonlySet<string>,
): StrayInstance[] {
  return tagged
    .filter((t) => fleets.has(t.fleet) && t.autoScalingGroup === undefined && !members.has(t.instanceId))
    .map((t) => ({
      kind: 'stray-instance' as const,
      fleet: t.fleet,
      instanceId: t.instanceId,
      reason: `reconcile: instance ${t.instanceId} carries phoenix:fleet=${t.fleet} but no Auto Scaling group launched it: a server outside the fleet, not replaced by Phoenix; terminate it or launch it through the fleet`,
    }));
}

/**
 * Disruption-budget slots held longer than the Replace workflow may run: their execution is dead
 * (aborted, timed out): reclaim them.
 */
export function staleSlots(
  record: FleetRecord | undefined,
  now: Date,
  replaceTimeoutSeconds: number,
): { instanceId: string; execution: string; since: string }[] {
  return Object.entries(record?.replacements ?? {})
    .filter(([, slot]) => now.getTime() - Date.parse(slot.since) > replaceTimeoutSeconds * 1000)
    .map(([instanceId, slot]) => ({ instanceId, execution: slot.execution, since: slot.since }));
}

/** Split `items` into chunks of `size` (describe calls take at most so many ids). */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Does the fleet's circuit breaker (the record's `circuit`) hold open now: opened, and a flag still
 * within the window? (When the window has cleared, the next replacement closes it.)
 */
export function circuitHolds(record: FleetRecord | undefined, now: Date, windowSeconds: number): boolean {
  const circuit = record?.circuit;
  return circuit?.openedAt !== undefined && flagsInWindow(circuit, now, windowSeconds).length > 0;
}
