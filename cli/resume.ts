/**
 * `phoenix resume <fleet>`: an operator lets automation run on the fleet again.
 *
 * - It clears a pause (`phoenix pause`, cli/pause.ts): `FleetResumed` on the Phoenix bus.
 * - It closes the fleet's circuit breaker (see lambdas/domain/circuit.ts): the health flags on the
 *   fleet record are cleared, and `FleetCircuitClosed` is put on the Phoenix bus.
 * - Then it runs the reconcile sweep of that fleet (the code path of `phoenix reconcile`), so that
 *   what was missed meanwhile is caught up: tainted or off-image instances get their Replace
 *   executions. Publications ignored while the fleet was paused are not replayed: publish again.
 *   The sweep needs the Replace state machine (`--replace-state-machine-arn` or
 *   `$PHOENIX_REPLACE_STATE_MACHINE_ARN`); without it, the report says the sweep was skipped.
 *
 * The environment says where (see cli/target.ts); the bus is `--event-bus-name`, else
 * `$PHOENIX_EVENT_BUS_NAME`, else `phoenix` (the stack's default).
 */
import { DetailTypes, Env, NAME_PATTERN } from '../lambdas/domain/contract';
import type { CircuitFlag } from '../lambdas/domain/circuit';
import { ConfigurationError } from '../lambdas/domain/errors';
import type { FleetPause } from '../lambdas/domain/fleet-record';
import type { ReconcileReport } from '../lambdas/steps/reconcile';
import { updateCircuit } from '../lambdas/aws/circuit';
import { putOutcome } from '../lambdas/aws/outcomes';
import { unpauseFleet } from '../lambdas/aws/store/holds';
import { reconcileNow } from './reconcile';

export interface ResumeReport {
  readonly fleet: string;
  /** Was the circuit open? */
  readonly wasOpen: boolean;
  /** ISO-8601: when it had opened. */
  readonly openedAt: string | null;
  /** The health flags cleared. */
  readonly flagsCleared: readonly CircuitFlag[];
  /** The pause cleared (`phoenix pause`), null when the fleet was not paused. */
  readonly pauseCleared: FleetPause | null;
  /**
   * The reconcile sweep of the fleet that followed; or why it was skipped; or why it failed (the
   * pause and the circuit are cleared all the same: run `phoenix reconcile <fleet>` again).
   */
  readonly reconcile: ReconcileReport | { readonly skipped: string } | { readonly failed: string };
}

/** Close the circuit of `fleet` (clear its flags) and report `FleetCircuitClosed`. */
export async function resumeFleet(
  fleet: string,
  options: {
    now?: Date;
    eventBusName?: string;
    replaceStateMachineArn?: string;
    /** Run the reconcile sweep of the fleet afterwards (default true, when the Replace state machine is known). */
    reconcile?: boolean;
  } = {},
): Promise<ResumeReport> {
  if (!NAME_PATTERN.test(fleet)) {
    throw new ConfigurationError(`not a fleet name: ${JSON.stringify(fleet)}`);
  }
  const now = options.now ?? new Date();
  const bus = options.eventBusName?.trim() || process.env[Env.eventBusName]?.trim() || 'phoenix';
  process.env[Env.eventBusName] = bus;
  const pauseCleared = (await unpauseFleet(fleet, now)) ?? null;
  if (pauseCleared !== null) {
    await putOutcome(DetailTypes.FleetResumed, {
      fleet,
      pausedAt: pauseCleared.at,
      pauseReason: pauseCleared.reason,
      reason: 'resumed by an operator (phoenix resume)',
    });
  }
  const report = await updateCircuit<Omit<ResumeReport, 'pauseCleared' | 'reconcile'>>(
    fleet,
    now,
    (state) => ({
      state: { flags: [] },
      write: state !== undefined && (state.flags.length > 0 || state.openedAt !== undefined),
      result: {
        fleet,
        wasOpen: state?.openedAt !== undefined,
        openedAt: state?.openedAt ?? null,
        flagsCleared: state?.flags ?? [],
      },
    }),
  );
  await putOutcome(DetailTypes.FleetCircuitClosed, {
    fleet,
    reason: `resumed by an operator (phoenix resume)${report.wasOpen ? '' : ': the circuit was not open'}`,
    wasOpen: report.wasOpen,
    ...(report.openedAt !== null ? { openedAt: report.openedAt } : {}),
    flagsCleared: report.flagsCleared.map((f) => f.instanceId),
  });
  // Catch up what was missed: the sweep of `phoenix reconcile`, for this fleet.
  const arn = options.replaceStateMachineArn?.trim() || process.env[Env.replaceStateMachineArn]?.trim();
  const reconcile: ResumeReport['reconcile'] =
    options.reconcile === false
      ? { skipped: 'not asked for (--no-reconcile)' }
      : arn
        ? await reconcileNow({ fleet, replaceStateMachineArn: arn, eventBusName: bus }).catch(
            (error: unknown) => ({
              failed: `${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}; run phoenix reconcile ${fleet}`,
            }),
          )
        : {
            skipped: `no Replace state machine: pass --replace-state-machine-arn <arn> or set ${Env.replaceStateMachineArn} (phoenix local prints it in its export line; in AWS it is the stack output ReplaceStateMachineArn), then run phoenix reconcile ${fleet}`,
          };
  return { ...report, pauseCleared, reconcile };
}

/** A few lines for a terminal. */
export function renderResume(report: ResumeReport): string {
  const pause =
    report.pauseCleared !== null
      ? `fleet ${report.fleet}: pause cleared (paused since ${report.pauseCleared.at}: ${report.pauseCleared.reason}); FleetResumed reported\n`
      : '';
  const sweep =
    'skipped' in report.reconcile
      ? `\nreconcile sweep skipped: ${report.reconcile.skipped}`
      : 'failed' in report.reconcile
        ? `\nreconcile sweep FAILED: ${report.reconcile.failed}`
        : `\nreconcile sweep: ${report.reconcile.differences} difference(s), ${report.reconcile.started} Replace execution(s) started`;
  return `${pause}${circuitLine(report)}${sweep}`;
}

function circuitLine(report: ResumeReport): string {
  return report.wasOpen
    ? `fleet ${report.fleet}: circuit closed (open since ${report.openedAt}); ${report.flagsCleared.length} health flag(s) cleared; FleetCircuitClosed reported`
    : `fleet ${report.fleet}: the circuit was not open; ${report.flagsCleared.length} health flag(s) cleared; FleetCircuitClosed reported`;
}
