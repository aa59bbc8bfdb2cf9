/**
 * The reconcile sweep (EC2 + Auto Scaling + DynamoDB + Step Functions + EventBridge): every managed
 * fleet's actual state against its desired state (see domain/reconcile.ts), each instance
 * difference handed to a Replace execution under the same deterministic name as the event path
 * (`replaceExecutionName`: the budget and dedupe apply), desired images that are gone reported
 * (`DesiredImageMissing`), instances with a fleet's tag outside its groups reported
 * (`StrayInstance`), slots of dead replacements reclaimed, and `ReconcileCompleted`.
 *
 * Describe calls are batched (100 groups, 1000 instances, 1000 images per call) and paginated,
 * fleet records read 100 per BatchGetItem; every request sent is counted (`apiCalls`, SDK retries
 * included: see aws/call-counter.ts).
 *
 * The sweep reads top-down as its phases: read the world (reconcile/observe.ts), plan per fleet
 * (reconcile/plan.ts, pure), act (reconcile/act.ts), report.
 */
import * as clock from '../domain/clock';
import { DetailTypes } from '../domain/contract';
import { countingCalls, totalCalls } from '../aws/call-counter';
import { autoScaling, dynamo, ec2, eventBridge, stepFunctions } from '../aws/clients';
import { putOutcome } from '../aws/outcomes';
import {
  actOnFleets,
  type FleetActions,
  type HookChange,
  type ReconcileDetail,
  type ReclaimedSlot,
  syncDrainHooks,
} from './reconcile/act';
import { type ObservedWorld, observeWorld } from './reconcile/observe';
import { type PausedFleet, planFleets } from './reconcile/plan';

export interface ReconcileRequest {
  /** Only this fleet (the CLI); default every managed fleet. */
  readonly fleet?: string;
  readonly now?: Date;
  /** The Replace workflow's timeout: a slot held longer belongs to a dead execution. Default 3600. */
  readonly replaceTimeoutSeconds?: number;
  /** Start Replace executions and reclaim slots (default true); false: only report. */
  readonly act?: boolean;
}

export interface ReconcileReport {
  readonly fleets: number;
  readonly instances: number;
  readonly differences: number;
  /** Replace executions started (a duplicate name starts nothing and is not counted). */
  readonly started: number;
  /** Every AWS request the sweep sent (SDK retries included). */
  readonly apiCalls: number;
  readonly calls: Readonly<Record<string, number>>;
  readonly details: readonly ReconcileDetail[];
  readonly reclaimedSlots: readonly ReclaimedSlot[];
  /** Fleets skipped because they are paused (`phoenix pause`): nothing was started for them. */
  readonly pausedFleets: readonly PausedFleet[];
  /** Termination hooks (`phoenix-drain`) installed or removed by this sweep. */
  readonly hooks?: readonly HookChange[];
}

type SweepReport = Omit<ReconcileReport, 'calls' | 'apiCalls'>;

export async function runReconcile(request: ReconcileRequest = {}): Promise<ReconcileReport> {
  const { result, calls } = await countingCalls(
    [autoScaling(), ec2(), dynamo(), stepFunctions(), eventBridge()],
    (counts) => sweep(request, counts),
  );
  return { ...result, calls, apiCalls: totalCalls(calls) };
}

async function sweep(
  request: ReconcileRequest,
  counts: Readonly<Record<string, number>>,
): Promise<SweepReport> {
  const now = request.now ?? clock.now();
  const act = request.act ?? true;
  const world = await observeWorld(request.fleet, act);
  // The termination lifecycle hook phoenix-drain follows the tag phoenix:flush-document.
  const hooks = act ? await syncDrainHooks([...world.groupsByFleet.values()].flat()) : [];
  const plans = planFleets(world, now, request.replaceTimeoutSeconds ?? 3600);
  const report = sweepReport(world, hooks, await actOnFleets(plans, act, now));
  if (act) await announceCompleted(report, request.fleet, counts);
  return report;
}

function sweepReport(world: ObservedWorld, hooks: readonly HookChange[], actions: FleetActions): SweepReport {
  return {
    fleets: world.groupsByFleet.size,
    instances: world.members.length,
    differences: actions.details.length,
    started: actions.started,
    details: actions.details,
    reclaimedSlots: actions.reclaimedSlots,
    pausedFleets: actions.pausedFleets,
    ...(hooks.length > 0 ? { hooks } : {}),
  };
}

/** `ReconcileCompleted`, counting every request so far and this PutEvents itself. */
async function announceCompleted(
  report: SweepReport,
  fleet: string | undefined,
  counts: Readonly<Record<string, number>>,
): Promise<void> {
  await putOutcome(DetailTypes.ReconcileCompleted, {
    fleets: report.fleets,
    instances: report.instances,
    differences: report.differences,
    started: report.started,
    apiCalls: totalCalls(counts) + 1,
    reclaimedSlots: report.reclaimedSlots.length,
    ...(report.pausedFleets.length > 0 ? { pausedFleets: report.pausedFleets.map((p) => p.fleet) } : {}),
    ...(fleet !== undefined ? { fleet } : {}),
  });
}
