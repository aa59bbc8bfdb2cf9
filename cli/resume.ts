/**
 * `phoenix resume <fleet>`: an operator closes the fleet's circuit breaker (see
 * lambdas/domain/circuit.ts): the health flags on the fleet record are cleared, and the outcome
 * `FleetCircuitClosed` is put on the Phoenix bus. Replacements asked for after this proceed again;
 * those the open circuit skipped are not restarted (their instances stay tainted).
 *
 * The environment says where (see cli/target.ts); the bus is `--event-bus-name`, else
 * `$PHOENIX_EVENT_BUS_NAME`, else `phoenix` (the stack's default).
 */
import { DetailTypes, Env, NAME_PATTERN } from '../lambdas/domain/contract';
import type { CircuitFlag } from '../lambdas/domain/circuit';
import { ConfigurationError } from '../lambdas/domain/errors';
import { updateCircuit } from '../lambdas/aws/circuit';
import { putOutcome } from '../lambdas/aws/store';

export interface ResumeReport {
  readonly fleet: string;
  /** Was the circuit open? */
  readonly wasOpen: boolean;
  /** ISO-8601: when it had opened. */
  readonly openedAt: string | null;
  /** The health flags cleared. */
  readonly flagsCleared: readonly CircuitFlag[];
}

/** Close the circuit of `fleet` (clear its flags) and report `FleetCircuitClosed`. */
export async function resumeFleet(
  fleet: string,
  options: { now?: Date; eventBusName?: string } = {},
): Promise<ResumeReport> {
  if (!NAME_PATTERN.test(fleet)) {
    throw new ConfigurationError(`not a fleet name: ${JSON.stringify(fleet)}`);
  }
  const now = options.now ?? new Date();
  const bus = options.eventBusName?.trim() || process.env[Env.eventBusName]?.trim() || 'phoenix';
  process.env[Env.eventBusName] = bus;
  const report = await updateCircuit<ResumeReport>(fleet, now, (state) => ({
    state: { flags: [] },
    write: state !== undefined && (state.flags.length > 0 || state.openedAt !== undefined),
    result: {
      fleet,
      wasOpen: state?.openedAt !== undefined,
      openedAt: state?.openedAt ?? null,
      flagsCleared: state?.flags ?? [],
    },
  }));
  await putOutcome(DetailTypes.FleetCircuitClosed, {
    fleet,
    reason: `resumed by an operator (phoenix resume)${report.wasOpen ? '' : ': the circuit was not open'}`,
    wasOpen: report.wasOpen,
    ...(report.openedAt !== null ? { openedAt: report.openedAt } : {}),
    flagsCleared: report.flagsCleared.map((f) => f.instanceId),
  });
  return report;
}

/** One line for a terminal. */
export function renderResume(report: ResumeReport): string {
  return report.wasOpen
    ? `fleet ${report.fleet}: circuit closed (open since ${report.openedAt}); ${report.flagsCleared.length} health flag(s) cleared; FleetCircuitClosed reported`
    : `fleet ${report.fleet}: the circuit was not open; ${report.flagsCleared.length} health flag(s) cleared; FleetCircuitClosed reported`;
}
