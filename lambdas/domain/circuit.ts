/**
 * The circuit breaker of a fleet: pure decisions. When more than a threshold share of a fleet is
 * flagged for health replacement within a window, the failure is likely systemic (a bad image, a
 * broken dependency), and replacing more servers would only make it worse: the circuit opens and
 * Phoenix stops replacing in that fleet until the window clears (no health flag for a whole
 * window) or an operator resumes the fleet (`phoenix resume <fleet>`).
 *
 * Only the cause `health` counts (status-check and designated health alarms, AWS Health
 * degraded-hardware events): retirement and maintenance are AWS's schedule, interruptions are Spot's
 * and drift/shell access is people: none says that the fleet's servers are failing.
 */
import type { ReplaceCause } from './intake';

/** The causes that count towards the circuit breaker. */
export const CIRCUIT_CAUSES: ReadonlySet<ReplaceCause> = new Set<ReplaceCause>(['health']);

export const DEFAULT_CIRCUIT_THRESHOLD_PERCENT = 30;
export const DEFAULT_CIRCUIT_WINDOW_SECONDS = 600;
/** How many flags a fleet record keeps at most (the newest). */
export const CIRCUIT_FLAG_LIMIT = 100;

/** One instance flagged for health replacement (on the fleet record). */
export interface CircuitFlag {
  readonly instanceId: string;
  readonly cause: string;
  /** ISO-8601, from the step's clock. */
  readonly at: string;
}

/** The circuit breaker's state on the fleet record (`circuit`). */
export interface CircuitState {
  readonly flags: readonly CircuitFlag[];
  /** ISO-8601: when the circuit opened; absent while closed. */
  readonly openedAt?: string;
}

export interface CircuitSettings {
  readonly thresholdPercent: number;
  readonly windowSeconds: number;
  /** Tags with invalid values (the default applies for each). */
  readonly invalid: readonly { tag: string; value: string; reason: string }[];
}

/**
 * The settings from the group's tags `phoenix:circuit-threshold` (`N%` or `N`, a percent 1..100)
 * and `phoenix:circuit-window-seconds` (a whole number 1..86400). Missing: the defaults (30 %,
 * 600 s); invalid: the default, and `invalid` names the tag, the value and what was wrong.
 */
export function circuitSettings(
  thresholdTag: { tag: string; value: string | undefined },
  windowTag: { tag: string; value: string | undefined },
): CircuitSettings {
  const invalid: { tag: string; value: string; reason: string }[] = [];
  let thresholdPercent = DEFAULT_CIRCUIT_THRESHOLD_PERCENT;
  if (thresholdTag.value !== undefined) {
    const m = /^(\d{1,3})%?$/.exec(thresholdTag.value.trim());
    const n = m ? Number(m[1]) : NaN;
    if (m && n >= 1 && n <= 100) thresholdPercent = n;
    else
      invalid.push({
        tag: thresholdTag.tag,
        value: thresholdTag.value,
        reason: `expected a percent 1% to 100%, got ${JSON.stringify(thresholdTag.value)}; the default ${DEFAULT_CIRCUIT_THRESHOLD_PERCENT}% applies`,
      });
  }
  let windowSeconds = DEFAULT_CIRCUIT_WINDOW_SECONDS;
  if (windowTag.value !== undefined) {
    const v = windowTag.value.trim();
    const n = Number(v);
    if (/^\d{1,5}$/.test(v) && n >= 1 && n <= 86_400) windowSeconds = n;
    else
      invalid.push({
        tag: windowTag.tag,
        value: windowTag.value,
        reason: `expected whole seconds 1 to 86400, got ${JSON.stringify(windowTag.value)}; the default ${DEFAULT_CIRCUIT_WINDOW_SECONDS} applies`,
      });
  }
  return { thresholdPercent, windowSeconds, invalid };
}

/**
 * How many instances may be flagged within the window before the circuit opens: the threshold share
 * of the desired capacity, rounded down, at least one (one sick server is never systemic).
 */
export function circuitLimit(desiredCapacity: number, thresholdPercent: number): number {
  return Math.max(1, Math.floor((Math.max(0, desiredCapacity) * thresholdPercent) / 100));
}

const within = (flag: CircuitFlag, now: Date, windowSeconds: number) =>
  now.getTime() - Date.parse(flag.at) < windowSeconds * 1000;

/** The flags still within the window. */
export function flagsInWindow(
  state: CircuitState | undefined,
  now: Date,
  windowSeconds: number,
): CircuitFlag[] {
  return (state?.flags ?? []).filter((f) => within(f, now, windowSeconds));
}

/**
 * The state with `flag` added: one flag per instance (the newest stands: an instance flagged again
 * is flagged within the window from then on), flags outside the window dropped, at most
 * CIRCUIT_FLAG_LIMIT (the newest kept). (Keeping the first let a re-flagged instance drop out of
 * the count while its latest flag was still within the window: found by test/property/planners.test.ts.)
 */
export function addFlag(
  state: CircuitState | undefined,
  flag: CircuitFlag,
  now: Date,
  windowSeconds: number,
): CircuitState {
  const kept = flagsInWindow(state, now, windowSeconds);
  const flags = [...kept.filter((f) => f.instanceId !== flag.instanceId), flag];
  return {
    flags: flags.slice(-CIRCUIT_FLAG_LIMIT),
    ...(state?.openedAt !== undefined ? { openedAt: state.openedAt } : {}),
  };
}

export interface CircuitDecision {
  /** The circuit is open: no replacement proceeds in the fleet. */
  readonly open: boolean;
  /** The state to store (`openedAt` set when it opens, removed when the window cleared). */
  readonly state: CircuitState;
  /** This decision opened the circuit (report `FleetCircuitOpen`). */
  readonly opened: boolean;
  /** This decision closed the circuit: the window cleared (report `FleetCircuitClosed`). */
  readonly closed: boolean;
  /** The flags within the window: the evidence. */
  readonly evidence: readonly CircuitFlag[];
  readonly limit: number;
}

/**
 * Open when more than `limit` instances were flagged within the window; once open, it stays open
 * until the window clears (no flag within it, the new `flag` aside) or an operator resumes the
 * fleet. With `flag`, the decision includes it (see addFlag).
 */
export function evaluateCircuit(
  state: CircuitState | undefined,
  now: Date,
  settings: { windowSeconds: number; limit: number },
  flag?: CircuitFlag,
): CircuitDecision {
  const prior = flagsInWindow(state, now, settings.windowSeconds);
  const wasOpen = state?.openedAt !== undefined;
  const cleared = wasOpen && prior.length === 0;
  const base: CircuitState = { flags: prior, ...(wasOpen && !cleared ? { openedAt: state.openedAt } : {}) };
  const next = flag ? addFlag(base, flag, now, settings.windowSeconds) : base;
  const evidence = [...next.flags];
  const limit = settings.limit;
  if (next.openedAt !== undefined) {
    return { open: true, opened: false, closed: false, evidence, limit, state: next };
  }
  if (evidence.length > limit) {
    const opened = { flags: next.flags, openedAt: now.toISOString() };
    return { open: true, opened: true, closed: false, evidence, limit, state: opened };
  }
  return { open: false, opened: false, closed: cleared, evidence, limit, state: next };
}

/** Why a replacement is skipped while the circuit is open. */
export function circuitSkipReason(
  fleet: string,
  decision: CircuitDecision,
  settings: { thresholdPercent: number; windowSeconds: number },
): string {
  return (
    `the circuit breaker of fleet ${fleet} is open since ${decision.state.openedAt ?? 'now'}: ` +
    `${decision.evidence.length} instance(s) flagged for health replacement within ${settings.windowSeconds} s ` +
    `(more than ${decision.limit}, ${settings.thresholdPercent}% of the fleet): likely systemic. ` +
    `It closes when no instance is flagged for ${settings.windowSeconds} s, or with phoenix resume ${fleet}`
  );
}
