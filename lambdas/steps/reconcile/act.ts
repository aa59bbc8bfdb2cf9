/**
 * The reconcile sweep, phase 3: act. Termination hooks follow the groups' tags; per fleet plan, in
 * order: stray instances reported (`StrayInstance`), each difference reported
 * (`DesiredImageMissing`) or handed to a Replace execution under the same deterministic name as
 * the event path (`replaceExecutionName`: the budget and dedupe apply), the slots of dead
 * replacements reclaimed. Without `act` nothing is sent: the same details are only reported.
 */
import type { AutoScalingGroup } from '@aws-sdk/client-auto-scaling';
import { DetailTypes, Tags } from '../../domain/contract';
import { drainHookAction } from '../../domain/drain';
import type { Difference, InstanceDifference } from '../../domain/reconcile';
import { replaceExecutionName } from '../../domain/replace';
import { startReplace } from '../../aws/executions';
import { tagValue } from '../../aws/fleets';
import { drainHookHeartbeat, putDrainHook, recordDrainHook, removeDrainHook } from '../../aws/hooks';
import { putOutcome } from '../../aws/outcomes';
import { logger } from '../../powertools';
import { releaseSlot } from '../../aws/store/replacement-slots';
import type { FleetPlan, PausedFleet, StaleSlot } from './plan';

/** A termination hook (`phoenix-drain`) installed or removed. */
export interface HookChange {
  readonly groupName: string;
  readonly action: 'installed' | 'removed';
  readonly heartbeatSeconds?: number;
}

/** A difference, with the Replace execution it was handed to (or would be, without `act`). */
export type ReconcileDetail = Difference & {
  execution?: string;
  duplicate?: boolean;
  /**
   * Every one of the instance's `MAX_REPLACE_ATTEMPTS` Replace executions ended without replacing
   * it: the sweep starts no more (a human must look; logged at WARN on every sweep that finds it).
   */
  exhausted?: boolean;
};

export type ReclaimedSlot = StaleSlot & { readonly fleet: string };

export interface FleetActions {
  readonly details: readonly ReconcileDetail[];
  /** Replace executions started (a duplicate name starts nothing and is not counted). */
  readonly started: number;
  readonly reclaimedSlots: readonly ReclaimedSlot[];
  readonly pausedFleets: readonly PausedFleet[];
}

/**
 * Install or remove the hook where the group's tags say so: one DescribeLifecycleHooks per group
 * that names a flush document, none for the others (the record tag says where one is to remove).
 */
export async function syncDrainHooks(groups: readonly AutoScalingGroup[]): Promise<HookChange[]> {
  const changed: HookChange[] = [];
  for (const g of groups) {
    const groupName = g.AutoScalingGroupName!;
    const action = drainHookAction(
      tagValue(g, Tags.flushDocument),
      tagValue(g, Tags.flushTimeoutSeconds),
      tagValue(g, Tags.drainHook),
    );
    if (action === undefined) continue;
    if ('ensure' in action) {
      if ((await drainHookHeartbeat(groupName)) !== action.ensure) {
        await putDrainHook(groupName, action.ensure);
        changed.push({ groupName, action: 'installed', heartbeatSeconds: action.ensure });
      }
      if (!action.recorded) await recordDrainHook(groupName, action.ensure);
    } else {
      await removeDrainHook(groupName);
      changed.push({ groupName, action: 'removed' });
    }
  }
  return changed;
}

/** Carry out the plans, fleet after fleet. */
export async function actOnFleets(
  plans: readonly FleetPlan[],
  act: boolean,
  now: Date,
): Promise<FleetActions> {
  const out = {
    details: [] as ReconcileDetail[],
    started: 0,
    reclaimedSlots: [] as ReclaimedSlot[],
    pausedFleets: [] as PausedFleet[],
  };
  for (const plan of plans) {
    if (plan.paused !== undefined) {
      out.pausedFleets.push(plan.paused);
      continue;
    }
    const { fleet } = plan;
    for (const d of plan.strays) {
      out.details.push(d);
      if (act)
        await putOutcome(DetailTypes.StrayInstance, { fleet, instanceId: d.instanceId, reason: d.reason });
    }
    for (const d of plan.differences) {
      if (d.kind === 'desired-image-missing') {
        out.details.push(d);
        if (act) {
          await putOutcome(DetailTypes.DesiredImageMissing, {
            fleet,
            imageId: d.desiredImage,
            reason: d.reason,
          });
        }
        continue;
      }
      const { detail, started } = await replace(fleet, d, plan.reattempt, act, now);
      if (started) out.started++;
      out.details.push(detail);
    }
    for (const slot of plan.staleSlots) {
      if (act) await releaseSlot({ fleet, instanceId: slot.instanceId, execution: slot.execution, now });
      out.reclaimedSlots.push({ fleet, ...slot });
    }
  }
  return out;
}

/**
 * Hand an instance difference to its Replace execution (with `act`). An attempt that ended without
 * replacing the instance is followed by the next one, except while the fleet's circuit holds open
 * (`reattempt` false: it would only be skipped again).
 */
async function replace(
  fleet: string,
  d: InstanceDifference,
  reattempt: boolean,
  act: boolean,
  now: Date,
): Promise<{ detail: ReconcileDetail; started: boolean }> {
  const execution = replaceExecutionName(fleet, d.instanceId);
  if (!act) return { detail: { ...d, execution }, started: false };
  // `now` is the sweep's start, before its look at the world: an attempt that ended after it knows
  // more than this sweep does (see startReplace).
  const result = await startReplace(execution, replaceInput(d, now), { reattempt, observedAt: now });
  if (result.exhausted === true) {
    logger.warn(
      'reconcile: every Replace attempt of an instance ended without replacing it; no more are started',
      {
        fleet,
        instanceId: d.instanceId,
        kind: d.kind,
        reason: d.reason,
        lastExecution: result.execution,
      },
    );
  }
  return {
    detail: {
      ...d,
      execution: result.execution,
      duplicate: result.duplicate,
      ...(result.exhausted === true ? { exhausted: true } : {}),
    },
    started: !result.duplicate,
  };
}

function replaceInput(d: InstanceDifference, now: Date) {
  return {
    fleet: d.fleet,
    instanceId: d.instanceId,
    cause: d.cause,
    reason: d.reason,
    requestId: `reconcile-${now.toISOString()}`,
    detectedAt: now.toISOString(),
  };
}
