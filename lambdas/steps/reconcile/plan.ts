/**
 * The reconcile sweep, phase 2: plan per fleet (pure). For each managed fleet, from the observed
 * world: paused (nothing to do), or its stray instances, its differences in the order
 * domain/reconcile.ts names them, whether a Replace attempt that ended without replacing the
 * instance is followed by the next one, and the slots of dead replacements.
 */
import { Tags } from '../../domain/contract';
import { circuitSettings } from '../../domain/circuit';
import {
  circuitHolds,
  type Difference,
  fleetDifferences,
  type ObservedInstance,
  staleSlots,
  type StrayInstance,
} from '../../domain/reconcile';
import { tagValue } from '../../aws/fleets';
import type { ObservedWorld } from './observe';

/** A fleet skipped because it is paused (`phoenix pause`). */
export interface PausedFleet {
  readonly fleet: string;
  readonly since: string;
  readonly reason: string;
}

/** A disruption-budget slot held longer than the Replace workflow may run. */
export interface StaleSlot {
  readonly instanceId: string;
  readonly execution: string;
  readonly since: string;
}

export type FleetPlan =
  | { readonly fleet: string; readonly paused: PausedFleet }
  | {
      readonly fleet: string;
      readonly paused?: undefined;
      readonly strays: readonly StrayInstance[];
      readonly differences: readonly Exclude<Difference, StrayInstance>[];
      /** Follow an ended attempt with the next one: false while the fleet's circuit holds open. */
      readonly reattempt: boolean;
      readonly staleSlots: readonly StaleSlot[];
    };

/** One plan per fleet of the world, in the order the groups were listed. */
export function planFleets(world: ObservedWorld, now: Date, replaceTimeoutSeconds: number): FleetPlan[] {
  return [...world.groupsByFleet.keys()].map((fleet) => planFleet(world, fleet, now, replaceTimeoutSeconds));
}

function planFleet(world: ObservedWorld, fleet: string, now: Date, replaceTimeoutSeconds: number): FleetPlan {
  const record = world.records.get(fleet);
  if (record?.paused !== undefined) {
    // `phoenix pause`: nothing starts for the fleet; `phoenix resume` sweeps it again.
    return { fleet, paused: { fleet, since: record.paused.at, reason: record.paused.reason } };
  }
  const fleetGroups = world.groupsByFleet.get(fleet)!;
  const windowSeconds = circuitSettings(
    { tag: Tags.circuitThreshold, value: tagValue(fleetGroups[0]!, Tags.circuitThreshold) },
    { tag: Tags.circuitWindowSeconds, value: tagValue(fleetGroups[0]!, Tags.circuitWindowSeconds) },
  ).windowSeconds;
  const differences = fleetDifferences(
    {
      fleet,
      ...(record ? { record } : {}),
      instances: fleetInstances(world, fleet),
      ...(record?.desiredImage !== undefined
        ? { desiredImageExists: world.existingImages.has(record.desiredImage) }
        : {}),
      ...launchTemplateImage(world, fleetGroups),
    },
    now,
  );
  return {
    fleet,
    strays: world.strays.filter((x) => x.fleet === fleet),
    differences: differences.filter(
      (d): d is Exclude<Difference, StrayInstance> => d.kind !== 'stray-instance',
    ),
    reattempt: !circuitHolds(record, now, windowSeconds),
    staleSlots: staleSlots(record, now, replaceTimeoutSeconds),
  };
}

/** The image every group of the fleet launches, when they agree and it is known. */
function launchTemplateImage(
  world: ObservedWorld,
  fleetGroups: readonly { AutoScalingGroupName?: string }[],
): { launchTemplateImage?: string } {
  const images = new Set(fleetGroups.map((g) => world.groupTemplates.get(g.AutoScalingGroupName!)?.imageId));
  const [image] = [...images];
  return images.size === 1 && image !== undefined ? { launchTemplateImage: image } : {};
}

/** The fleet's member instances with what EC2 says of them and their group's launch template. */
function fleetInstances(world: ObservedWorld, fleet: string): ObservedInstance[] {
  const fleetGroups = world.groupsByFleet.get(fleet)!;
  return world.members
    .filter((m) => fleetGroups.some((g) => g.AutoScalingGroupName === m.groupName))
    .map((m) => {
      const lt = world.groupTemplates.get(m.groupName);
      return {
        ...m,
        ...world.instanceFacts.get(m.instanceId),
        ...(lt !== undefined ? { groupLaunchTemplate: lt } : {}),
      };
    });
}
