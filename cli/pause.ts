/**
 * `phoenix pause <fleet> [--reason <text>]` and `phoenix unpin <fleet>`: operator holds on a fleet,
 * written on its fleet record (DynamoDB) and announced on the Phoenix bus.
 *
 * - pause: `paused = {at, reason}` (the record is created if absent). While it is set no
 *   automation starts for the fleet: intake ignores publications for it (`PublicationIgnored`),
 *   a rollout that reaches AcquireFleetLock is rejected (`FleetPausedError`), a replacement is
 *   skipped at ResolveInstance (`ReplacementSkipped`), the reconcile sweep passes it by, and a
 *   running rollout stops at its next safe point. `FleetPaused` on the bus. `phoenix resume`
 *   (cli/resume.ts) clears it.
 * - unpin: releases the pin a committed `phoenix rollback` put on the fleet (`pinnedImage`), so
 *   publications on its channel roll it again. `FleetUnpinned` on the bus.
 *
 * The environment says where (see cli/target.ts); the bus is `--event-bus-name`, else
 * `$PHOENIX_EVENT_BUS_NAME`, else `phoenix`.
 */
import { DetailTypes, Env, NAME_PATTERN, Tags } from '../lambdas/domain/contract';
import { ConfigurationError } from '../lambdas/domain/errors';
import type { FleetPause, FleetRecord, PinnedImage } from '../lambdas/domain/fleet-record';
import { groupsOfFleet } from '../lambdas/aws/fleets';
import { readFleetRecord } from '../lambdas/aws/store/fleet-records';
import { putOutcome } from '../lambdas/aws/outcomes';
import { pauseFleet, unpinFleet } from '../lambdas/aws/store/holds';

export interface PauseReport {
  readonly fleet: string;
  readonly paused: FleetPause;
  /** It was paused already: the pause (time and reason) was left as it was, nothing reported. */
  readonly alreadyPaused: boolean;
  /** A rollout in progress when the fleet was paused: it stops at its next safe point. */
  readonly activeRollout: { readonly execution: string; readonly imageId: string } | null;
}

export interface UnpinReport {
  readonly fleet: string;
  readonly wasPinned: boolean;
  readonly pinnedImage: PinnedImage | null;
}

export interface HoldOptions {
  readonly now?: Date;
  readonly eventBusName?: string;
}

export function checkFleetName(fleet: string): void {
  if (!NAME_PATTERN.test(fleet)) {
    throw new ConfigurationError(
      `not a fleet name: ${JSON.stringify(fleet)} (expected ${String(NAME_PATTERN)})`,
    );
  }
}

/** Point the adapters at the bus: `--event-bus-name`, `$PHOENIX_EVENT_BUS_NAME`, else `phoenix`. */
export function useBus(eventBusName: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const bus = eventBusName?.trim() || env[Env.eventBusName]?.trim() || 'phoenix';
  env[Env.eventBusName] = bus;
  return bus;
}

/** The fleet's record, after checking that the fleet exists (a group tagged for it, or a record). */
async function existingFleet(fleet: string): Promise<FleetRecord | undefined> {
  checkFleetName(fleet);
  const record = await readFleetRecord(fleet);
  if (record === undefined && (await groupsOfFleet(fleet)).length === 0) {
    throw new ConfigurationError(
      `no fleet ${fleet}: no Auto Scaling group is tagged ${Tags.fleet}=${fleet} and Phoenix has no record of it`,
    );
  }
  return record;
}

/** Pause `fleet`: `paused = {at, reason}` on its record, `FleetPaused` on the bus. */
export async function pauseFleetCommand(
  fleet: string,
  options: HoldOptions & { reason?: string } = {},
): Promise<PauseReport> {
  const record = await existingFleet(fleet);
  useBus(options.eventBusName);
  const now = options.now ?? new Date();
  const reason = options.reason?.trim() || 'paused by an operator (phoenix pause)';
  const result = await pauseFleet(fleet, { at: now.toISOString(), reason }, now);
  const lock = record?.activeRollout;
  const activeRollout = lock !== undefined ? { execution: lock.execution, imageId: lock.imageId } : null;
  if (!result.already) {
    await putOutcome(DetailTypes.FleetPaused, {
      fleet,
      at: result.paused.at,
      reason: result.paused.reason,
      ...(activeRollout !== null ? { activeRollout } : {}),
    });
  }
  return { fleet, paused: result.paused, alreadyPaused: result.already, activeRollout };
}

/** Release the pin of a committed rollback: `FleetUnpinned` on the bus. */
export async function unpinFleetCommand(fleet: string, options: HoldOptions = {}): Promise<UnpinReport> {
  await existingFleet(fleet);
  useBus(options.eventBusName);
  const now = options.now ?? new Date();
  const pin = await unpinFleet(fleet, now);
  if (pin !== undefined) {
    await putOutcome(DetailTypes.FleetUnpinned, {
      fleet,
      imageId: pin.imageId,
      pinnedAt: pin.at,
      execution: pin.execution,
      reason: 'released by an operator (phoenix unpin)',
    });
  }
  return { fleet, wasPinned: pin !== undefined, pinnedImage: pin ?? null };
}

export function renderPause(report: PauseReport): string {
  const head = report.alreadyPaused
    ? `fleet ${report.fleet}: already paused since ${report.paused.at} (${report.paused.reason}); nothing changed`
    : `fleet ${report.fleet}: paused (${report.paused.reason}); FleetPaused reported. No rollout or replacement starts until phoenix resume ${report.fleet}`;
  return report.activeRollout === null
    ? head
    : `${head}\nthe rollout of ${report.activeRollout.imageId} (execution ${report.activeRollout.execution}) stops at its next safe point`;
}

export function renderUnpin(report: UnpinReport): string {
  return report.pinnedImage === null
    ? `fleet ${report.fleet}: was not pinned; nothing changed`
    : `fleet ${report.fleet}: pin to ${report.pinnedImage.imageId} (since ${report.pinnedImage.at}) released; FleetUnpinned reported. Publications on its channel roll it again`;
}
