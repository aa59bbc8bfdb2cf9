/**
 * The invariants of issue 11 §3 as pure functions of snapshots: what the observer (./observer.ts)
 * read from the emulator and the local Step Functions service, never Phoenix's in-process state.
 * Each check returns the violations it found (empty: the invariant holds), with the time, the fleet
 * and the evidence, so that a failed torture run says what broke and where.
 *
 * Pure module: no SDK imports (unit-tested on hand-made snapshots, test/unit/invariants.test.ts).
 */
import { minHealthyCount } from '../../lambdas/domain/fleet-settings';
import { disruptionBudget } from '../../lambdas/domain/replace';

export type InvariantName =
  | 'floor'
  | 'one-rollout'
  | 'disruption-budget'
  | 'at-rest'
  | 'orphan'
  | 'event-unaccounted'
  | 'lost-event-not-healed'
  | 'broken-image-succeeded';

export interface Violation {
  readonly invariant: InvariantName;
  /** Epoch ms of the poll (or of the final check) that found it. */
  readonly at: number;
  readonly fleet?: string;
  readonly message: string;
  readonly evidence?: Record<string, unknown>;
}

// ---- snapshots ----------------------------------------------------------------------------------

export interface InstanceSnap {
  readonly id: string;
  readonly imageId?: string;
  /** Auto Scaling's lifecycle state (Pending, InService, Terminating…). */
  readonly lifecycle?: string;
  /** Auto Scaling's health status (Healthy, Unhealthy). */
  readonly health?: string;
  readonly zone?: string;
  /** InService, Healthy, and healthy in every target group of its group. */
  readonly serving: boolean;
}

/** `fleet`: the group tagged `phoenix:fleet`; `green` / `blue`: a blue-green rollout's other group. */
export type GroupRole = 'fleet' | 'green' | 'blue';

export interface GroupSnap {
  readonly name: string;
  readonly role: GroupRole;
  readonly desired: number;
  readonly min: number;
  readonly max: number;
  readonly suspended: readonly string[];
  readonly launchTemplateId?: string;
  readonly instances: readonly InstanceSnap[];
  /** The group's tags (key → value). */
  readonly tags: Readonly<Record<string, string>>;
}

/** The parts of the fleet record (DynamoDB) the invariants read. */
export interface RecordSnap {
  readonly desiredImage?: string;
  readonly activeRollout?: { readonly execution: string; readonly imageId: string };
  readonly replacementSlots: number;
  readonly paused: boolean;
}

export interface FleetSnap {
  readonly fleet: string;
  readonly groups: readonly GroupSnap[];
  readonly record?: RecordSnap;
  /** The latest version number of the fleet's launch template (DescribeLaunchTemplates). */
  readonly launchTemplateLatest?: number;
}

export interface RunningExecution {
  readonly machine: 'rollout' | 'replace';
  readonly name: string;
  readonly fleet?: string;
  /** Rollout: its history shows the fleet lock taken (AcquireFleetLock or TakeOverFleetLock exited). */
  readonly lockTaken?: boolean;
}

export interface Snapshot {
  /** Epoch ms when the poll started. */
  readonly at: number;
  readonly fleets: readonly FleetSnap[];
  readonly running: readonly RunningExecution[];
  /** Running or pending instances in no Auto Scaling group that carry a fleet's or a group's tag. */
  readonly strays: readonly { readonly id: string; readonly fleet?: string; readonly group?: string }[];
}

/** What the driver set up for a fleet: its capacity at rest and its settings. */
export interface FleetExpectation {
  readonly fleet: string;
  /** desired = min = max at rest. */
  readonly capacity: number;
  readonly minHealthyPercent: number;
  /** The `phoenix:disruption-budget` tag, if set. */
  readonly budgetTag?: string;
  /** The image the fleet was created on (its desired image while Phoenix has no record of one). */
  readonly initialImage: string;
  /** The launch template's latest version when the run started. */
  readonly initialLaunchTemplateVersion: number;
}

/** The world's own doings (the driver's kills, Spot interruptions, bad zones): not Phoenix's. */
export interface WorldLog {
  /** Instances the world terminated (EC2 TerminateInstances) or doomed (a Spot interruption warning). */
  readonly killed: ReadonlySet<string>;
  /** When (epoch ms) the world killed or doomed each instance, and its fleet, where the driver knows. */
  readonly killedAt?: ReadonlyMap<string, { readonly at: number; readonly fleet?: string }>;
  /** The zones the world failed, and when (epoch ms; `to` absent while the zone is still failed). */
  readonly zoneFailures?: readonly { readonly zone: string; readonly from: number; readonly to?: number }[];
}

/**
 * The instances of a fleet that may have served at some moment between two polls without serving
 * at either: one the world killed or doomed in between (seen or not), or one in a zone the world
 * failed in between. Phoenix may have counted them (rightly, when it looked), so the floor's bound
 * counts them too; one of them that Phoenix itself took out is still subtracted as taken out.
 */
function degradedByWorld(
  fleet: string,
  seen: ReadonlyMap<string, string | undefined>,
  world: WorldLog,
  from: number,
  to: number,
): Set<string> {
  const out = new Set<string>();
  for (const [id, kill] of world.killedAt ?? new Map<string, { at: number; fleet?: string }>()) {
    if (kill.at < from || kill.at > to) continue;
    if (seen.has(id) || kill.fleet === fleet) out.add(id);
  }
  const failed = (world.zoneFailures ?? []).filter((z) => z.from <= to && (z.to ?? Infinity) >= from);
  for (const [id, zone] of seen) if (zone !== undefined && failed.some((z) => z.zone === zone)) out.add(id);
  return out;
}

// ---- helpers ------------------------------------------------------------------------------------

const REMOVED_STATES = new Set([
  'Terminating',
  'Terminating:Wait',
  'Terminating:Proceed',
  'Terminated',
  'Detaching',
  'Detached',
  'EnteringStandby',
  'Standby',
]);

export const servingIds = (fleet: FleetSnap): Set<string> =>
  new Set(fleet.groups.flatMap((g) => g.instances.filter((i) => i.serving).map((i) => i.id)));

/** Where each instance of the fleet stands: its lifecycle state, or absent from every group. */
function states(fleet: FleetSnap): Map<string, string | undefined> {
  return new Map(fleet.groups.flatMap((g) => g.instances.map((i) => [i.id, i.lifecycle] as const)));
}

export const floorOf = (expectation: FleetExpectation): number =>
  minHealthyCount(expectation.minHealthyPercent, expectation.capacity);

// ---- continuous invariants ----------------------------------------------------------------------

/**
 * The floor, by Phoenix: between two polls, an instance that served in `prev` and that Phoenix took
 * out (gone from every group of the fleet, or Terminating / Detaching / Standby) while the fleet
 * could not spare it. The serving count at the moment of removal is at most |served in prev ∪
 * serves now|; if that bound minus the instances taken out is below the floor, the fleet went
 * below its floor because of Phoenix. Instances the world killed are the world's doing; and the
 * bound counts the instances the world degraded between the polls (killed, doomed, or in a zone it
 * failed), which Phoenix may have seen serving when it decided.
 */
export function checkFloor(
  prev: FleetSnap | undefined,
  now: FleetSnap,
  expectation: FleetExpectation,
  world: WorldLog,
  at: number,
  /** The span between the two polls (epoch ms: the first's start → the second's end); default [at, at]. */
  window: { readonly from: number; readonly to: number } = { from: at, to: at },
): Violation[] {
  if (prev === undefined) return [];
  const before = servingIds(prev);
  const after = servingIds(now);
  const where = states(now);
  const removed = [...before].filter((id) => {
    if (world.killed.has(id)) return false;
    if (!where.has(id)) return true;
    return REMOVED_STATES.has(where.get(id) ?? '');
  });
  if (removed.length === 0) return [];
  // Every instance that may have served when Phoenix took one out: it served at a poll, or the
  // world degraded it in between (Phoenix may have counted it while it served).
  const zones = new Map<string, string | undefined>(
    [prev, now].flatMap((f) => f.groups.flatMap((g) => g.instances.map((i) => [i.id, i.zone] as const))),
  );
  const degraded = degradedByWorld(now.fleet, zones, world, window.from, window.to);
  const mayHaveServed = new Set([...before, ...after, ...degraded]);
  const bound = mayHaveServed.size - removed.length;
  const floor = floorOf(expectation);
  if (bound >= floor) return [];
  return [
    {
      invariant: 'floor',
      at,
      fleet: now.fleet,
      message: `Phoenix took ${removed.length} serving instance(s) out of ${now.fleet} while it could not spare them: at most ${bound} serving, floor ${floor}`,
      evidence: {
        removed,
        servingBefore: [...before],
        servingAfter: [...after],
        floor,
        // The fleet as the poll found it (for a dump's diagnosis).
        now: now.groups.map((g) => ({
          group: g.name,
          desired: g.desired,
          instances: g.instances.map(
            (i) =>
              `${i.id}:${i.lifecycle ?? '?'}:${i.health ?? '?'}:${String(i.serving)}:${i.zone ?? '?'}:${i.imageId ?? '?'}`,
          ),
        })),
      },
    },
  ];
}

/** A history event as the observer reads it (GetExecutionHistory), reduced to what matters here. */
export interface HistoryStep {
  readonly type: string;
  readonly entered?: string;
  readonly exited?: string;
  readonly failed?: string;
}

/**
 * Does a Rollout execution hold its fleet now, by its history: from entering ValidateImage (the
 * lock taken by AcquireFleetLock) or leaving TakeOverFleetLock (a continuation), until it enters a
 * state that lets the fleet go (ReleaseFleet*, CommitRollout, Report*, ContinueAsNew).
 */
export function lockHeldFrom(history: readonly HistoryStep[]): boolean {
  let held = false;
  for (const e of history) {
    if (e.entered === 'ValidateImage') held = true;
    else if (e.exited === 'TakeOverFleetLock') held = true;
    else if (e.failed === 'TakeOverFleetLock') held = false;
    else if (e.entered !== undefined && /^(ReleaseFleet|Report|CommitRollout|ContinueAsNew)/.test(e.entered))
      held = false;
  }
  return held;
}

/**
 * At most one rollout per fleet: Rollout executions that took the fleet's lock and still run. A
 * continuation overlaps its predecessor for an instant (the predecessor ends right after starting
 * it), so a pair counts only when `prev` (an earlier poll, at least a second before) saw it too.
 */
export function checkOneRollout(prev: Snapshot | undefined, now: Snapshot): Violation[] {
  const holders = (snap: Snapshot) => {
    const byFleet = new Map<string, string[]>();
    for (const e of snap.running) {
      if (e.machine !== 'rollout' || e.fleet === undefined || e.lockTaken !== true) continue;
      byFleet.set(e.fleet, [...(byFleet.get(e.fleet) ?? []), e.name]);
    }
    return byFleet;
  };
  if (prev === undefined) return [];
  const before = holders(prev);
  const out: Violation[] = [];
  for (const [fleet, names] of holders(now)) {
    if (names.length < 2) continue;
    const earlier = new Set(before.get(fleet) ?? []);
    const persisting = names.filter((n) => earlier.has(n));
    if (persisting.length < 2) continue;
    out.push({
      invariant: 'one-rollout',
      at: now.at,
      fleet,
      message: `${persisting.length} Rollout executions of ${fleet} hold its lock at once`,
      evidence: { executions: persisting },
    });
  }
  return out;
}

/** Never more replacements in flight for a fleet than its disruption budget (slots on its record). */
export function checkDisruptionBudget(
  now: FleetSnap,
  expectation: FleetExpectation,
  at: number,
): Violation[] {
  const slots = now.record?.replacementSlots ?? 0;
  const { budget } = disruptionBudget(expectation.budgetTag, expectation.capacity);
  if (slots <= budget) return [];
  return [
    {
      invariant: 'disruption-budget',
      at,
      fleet: now.fleet,
      message: `${slots} replacements in flight for ${now.fleet}, budget ${budget}`,
      evidence: { slots, budget },
    },
  ];
}

// ---- at rest ------------------------------------------------------------------------------------

/**
 * At rest (the run quiesced): one group, the fleet's, at its capacity (desired = min = max as
 * before), every instance serving on the image the record says is desired, no suspended process,
 * no lock, no replacement slot, no green or blue group; its launch template grew by at most one
 * version per Rollout execution of the fleet.
 */
export function checkAtRest(
  now: FleetSnap,
  expectation: FleetExpectation,
  rolloutExecutions: number,
  at: number,
): Violation[] {
  const out: Violation[] = [];
  const add = (message: string, evidence: Record<string, unknown>) =>
    out.push({ invariant: 'at-rest', at, fleet: now.fleet, message, evidence });
  const fleetGroups = now.groups.filter((g) => g.role === 'fleet');
  const others = now.groups.filter((g) => g.role !== 'fleet');
  if (others.length > 0)
    add(`${now.fleet} still has a ${others.map((g) => g.role).join(' and ')} group`, {
      groups: others.map((g) => ({ name: g.name, role: g.role, desired: g.desired })),
    });
  if (fleetGroups.length !== 1) {
    add(`${now.fleet} has ${fleetGroups.length} groups tagged as the fleet`, {
      groups: fleetGroups.map((g) => g.name),
    });
    return out;
  }
  const group = fleetGroups[0]!;
  const cap = expectation.capacity;
  if (group.desired !== cap || group.min !== cap || group.max !== cap)
    add(`${group.name} is at desired ${group.desired}, min ${group.min}, max ${group.max}; expected ${cap}`, {
      desired: group.desired,
      min: group.min,
      max: group.max,
      expected: cap,
    });
  if (group.suspended.length > 0)
    add(`${group.name} has suspended processes`, { suspended: group.suspended });
  const desiredImage = now.record?.desiredImage ?? expectation.initialImage;
  const images = [...new Set(group.instances.map((i) => i.imageId ?? '?'))];
  if (images.length !== 1 || images[0] !== desiredImage)
    add(`${group.name} runs ${images.join(', ') || 'nothing'}; its record says ${desiredImage}`, {
      images,
      desiredImage,
    });
  const notServing = group.instances.filter((i) => !i.serving);
  if (group.instances.length !== cap || notServing.length > 0)
    add(`${group.name} has ${group.instances.length} instances, ${notServing.length} not serving`, {
      notServing: notServing.map((i) => ({ id: i.id, lifecycle: i.lifecycle, health: i.health })),
    });
  if (now.record?.activeRollout !== undefined)
    add(`${now.fleet} still holds a rollout lock`, { activeRollout: now.record.activeRollout });
  if ((now.record?.replacementSlots ?? 0) > 0)
    add(`${now.fleet} still holds replacement slots`, { slots: now.record?.replacementSlots });
  if (now.launchTemplateLatest !== undefined) {
    const grown = now.launchTemplateLatest - expectation.initialLaunchTemplateVersion;
    if (grown > rolloutExecutions)
      add(`the launch template of ${now.fleet} grew by ${grown} versions in ${rolloutExecutions} rollouts`, {
        from: expectation.initialLaunchTemplateVersion,
        to: now.launchTemplateLatest,
        rolloutExecutions,
      });
  }
  return out;
}

/** No instance that a group launched (or tagged with a fleet) runs outside every group. */
export function checkOrphans(now: Snapshot): Violation[] {
  return now.strays.map((s) => ({
    invariant: 'orphan' as const,
    at: now.at,
    ...(s.fleet !== undefined ? { fleet: s.fleet } : {}),
    message: `instance ${s.id} runs outside every Auto Scaling group`,
    evidence: { ...s },
  }));
}

// ---- events -------------------------------------------------------------------------------------

/** An event the driver put (PutEvents), as it put it. */
export interface PutRecord {
  readonly eventId: string;
  readonly kind: 'publication' | 'replacement';
  /** Epoch ms. */
  readonly at: number;
  readonly imageId?: string;
  readonly instanceId?: string;
  readonly fleets: readonly string[];
  /**
   * The event id is not known to the driver (a publication through the channel's SSM parameter:
   * the emulator emits the Parameter Store Change event itself, `eventId` is then a local label):
   * the publication is accounted for by its image and fleets.
   */
  readonly byImage?: boolean;
  /**
   * For a publication through a channel parameter: its name. Parameter Store's change event carries
   * no value (Phoenix reads the parameter when the event comes): a version overwritten before its
   * event was handled rolls the newer value, so a later put of the same parameter accounts for it.
   */
  readonly parameter?: string;
}

export interface OutcomeRecord {
  readonly detailType: string;
  readonly detail: Readonly<Record<string, unknown>>;
}

/** A Rollout execution (from ListExecutions / DescribeExecution), its input's request id. */
export interface RolloutExecutionRecord {
  readonly name: string;
  readonly fleet?: string;
  readonly imageId?: string;
  readonly requestId?: string;
  readonly status: string;
  /** Epoch ms (ListExecutions' startDate, stopDate; no stop while it runs). */
  readonly startedAt?: number;
  readonly stoppedAt?: number;
}

export const ROLLOUT_ENDS = [
  'RolloutSucceeded',
  'RolloutRejected',
  'RolloutRolledBack',
  'RolloutFailed',
  'RolloutSuperseded',
  'RolloutPaused',
] as const;
const REPLACEMENT_ENDS = ['InstanceReplaced', 'ReplacementSkipped', 'ReplacementFailed'];

export interface Accounting {
  /** eventId → how it was accounted for. */
  readonly accounted: ReadonlyMap<string, string>;
  readonly violations: Violation[];
}

/**
 * Every event the driver put is accounted for:
 * - a publication: `PublicationIgnored` with its event id (a documented ignore), or Rollout
 *   executions started for it (their input's `requestId`), each ended by a rollout outcome of its
 *   execution (its fleet and image, for a continuation) or ended at all (a Rollout execution that
 *   FAILED without an outcome is unaccounted);
 * - a replacement: an outcome with its event id, or the end of the replacement of its instance
 *   (repeated events for one instance make one replacement);
 * - either: a dead-letter message that carries its id;
 * - an event the fault layer lost: accounted by the sweep, if the fleet converged (`converged`)
 *   within `maxSweeps` reconcile sweeps after the loss (`sweepsAfter`: for a publication, until
 *   each of its fleets answered its image or one published after it for the fleet (a rollout's
 *   end or an ignore, before the loss too: a lost duplicate), or runs it; for a
 *   replacement, until its fleets were at rest; an event of no fleet's instance has nothing to
 *   heal: 0; never healed: Infinity).
 */
export function accountEvents(args: {
  puts: readonly PutRecord[];
  outcomes: readonly OutcomeRecord[];
  rollouts: readonly RolloutExecutionRecord[];
  deadLetters: readonly string[];
  lost: ReadonlySet<string>;
  /** How many Parameter Store Change events the fault layer lost (their ids are not the driver's). */
  lostParameterChanges?: number;
  converged: (fleet: string) => boolean;
  /** Reconcile sweeps from the put until what it asked for was done (see above; Infinity: never). */
  sweepsAfter: (put: PutRecord) => number;
  maxSweeps: number;
  at: number;
}): Accounting {
  const accounted = new Map<string, string>();
  const violations: Violation[] = [];
  const ignoredIds = new Set(
    args.outcomes
      .filter((o) => o.detailType === 'PublicationIgnored')
      .map((o) => String(o.detail['eventId'])),
  );
  const byEventId = new Map<string, OutcomeRecord[]>();
  for (const o of args.outcomes) {
    const id = o.detail['eventId'];
    if (typeof id === 'string') byEventId.set(id, [...(byEventId.get(id) ?? []), o]);
  }
  const rolloutEnd = (r: RolloutExecutionRecord) =>
    args.outcomes.find(
      (o) =>
        (ROLLOUT_ENDS as readonly string[]).includes(o.detailType) &&
        (o.detail['execution'] === r.name ||
          (o.detail['fleet'] === r.fleet && o.detail['imageId'] === r.imageId)),
    );
  for (const put of args.puts) {
    const dead = args.deadLetters.find((body) => body.includes(put.eventId));
    if (dead !== undefined) {
      accounted.set(put.eventId, 'dead-letter message');
      continue;
    }
    if (args.lost.has(put.eventId)) {
      const sweeps = args.sweepsAfter(put);
      const notConverged = put.fleets.filter((f) => !args.converged(f));
      if (notConverged.length === 0 && sweeps <= args.maxSweeps) {
        accounted.set(put.eventId, `lost; converged (${sweeps} sweeps after)`);
      } else {
        violations.push({
          invariant: 'lost-event-not-healed',
          at: args.at,
          ...(notConverged[0] !== undefined ? { fleet: notConverged[0] } : {}),
          message: `event ${put.eventId} was lost and ${
            notConverged.length > 0
              ? `${notConverged.join(', ')} did not converge`
              : sweeps === Number.POSITIVE_INFINITY
                ? `its fleets never rolled its image ${put.imageId ?? '?'} (or a later one)`
                : `the sweep took ${sweeps} sweeps (bound ${args.maxSweeps})`
          }`,
          evidence: { put, sweeps, notConverged },
        });
      }
      continue;
    }
    if (put.kind === 'publication') {
      const ignored = put.byImage
        ? args.outcomes.some(
            (o) =>
              o.detailType === 'PublicationIgnored' &&
              o.detail['imageId'] === put.imageId &&
              (o.detail['fleet'] === undefined ||
                (typeof o.detail['fleet'] === 'string' && put.fleets.includes(o.detail['fleet']))),
          )
        : ignoredIds.has(put.eventId);
      if (ignored) {
        accounted.set(put.eventId, 'PublicationIgnored');
        continue;
      }
      const started = args.rollouts.filter((r) =>
        put.byImage
          ? r.imageId === put.imageId && r.fleet !== undefined && put.fleets.includes(r.fleet)
          : r.requestId === put.eventId,
      );
      const unended = started.filter((r) => rolloutEnd(r) === undefined);
      if (started.length > 0 && unended.length === 0) {
        accounted.set(put.eventId, `${started.length} rollout(s) with an outcome`);
        continue;
      }
      const overwrittenBy =
        put.byImage && put.parameter !== undefined && started.length === 0
          ? args.puts.find((p) => p.parameter === put.parameter && p.at > put.at)
          : undefined;
      if (overwrittenBy !== undefined) {
        // Its event read the parameter's newer value: the later put (checked on its own) stands for it.
        accounted.set(put.eventId, `overwritten by ${overwrittenBy.eventId} before its event was handled`);
        continue;
      }
      if (put.byImage && started.length === 0 && (args.lostParameterChanges ?? 0) > 0) {
        // Its Parameter Store Change may be one the fault layer lost: then the fleets must converge.
        const sweeps = args.sweepsAfter(put);
        const notConverged = put.fleets.filter((f) => !args.converged(f));
        if (notConverged.length === 0 && sweeps <= args.maxSweeps) {
          accounted.set(put.eventId, `parameter change possibly lost; converged (${sweeps} sweeps after)`);
          continue;
        }
      }
      violations.push({
        invariant: 'event-unaccounted',
        at: args.at,
        ...(put.fleets[0] !== undefined ? { fleet: put.fleets[0] } : {}),
        message:
          started.length === 0
            ? `publication ${put.eventId} (${put.imageId ?? '?'}) started no rollout and was not reported ignored`
            : `publication ${put.eventId}: ${unended.length} rollout(s) ended without an outcome`,
        evidence: { put, unended },
      });
      continue;
    }
    const own = (byEventId.get(put.eventId) ?? []).find((o) => REPLACEMENT_ENDS.includes(o.detailType));
    if (own !== undefined) {
      accounted.set(put.eventId, own.detailType);
      continue;
    }
    const same = args.outcomes.find(
      (o) => REPLACEMENT_ENDS.includes(o.detailType) && o.detail['instanceId'] === put.instanceId,
    );
    if (same !== undefined) {
      accounted.set(put.eventId, `${same.detailType} (of its instance)`);
      continue;
    }
    violations.push({
      invariant: 'event-unaccounted',
      at: args.at,
      ...(put.fleets[0] !== undefined ? { fleet: put.fleets[0] } : {}),
      message: `replacement event ${put.eventId} for ${put.instanceId ?? '?'}: no outcome, no dead letter`,
      evidence: { put },
    });
  }
  return { accounted, violations };
}

/** Every rollout of a broken image ends RolloutRolledBack or RolloutRejected, never RolloutSucceeded. */
export function checkBrokenImages(
  outcomes: readonly OutcomeRecord[],
  broken: ReadonlySet<string>,
  at: number,
): Violation[] {
  return outcomes
    .filter((o) => o.detailType === 'RolloutSucceeded' && broken.has(String(o.detail['imageId'])))
    .map((o) => ({
      invariant: 'broken-image-succeeded' as const,
      at,
      fleet: String(o.detail['fleet']),
      message: `a rollout of the broken image ${String(o.detail['imageId'])} succeeded on ${String(o.detail['fleet'])}`,
      evidence: { detail: o.detail },
    }));
}
