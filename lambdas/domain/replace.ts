/**
 * Replacement: pure decisions the Replace workflow's steps take from the fleet's real state.
 */
import { DetailTypes } from './contract';
import type { DrainState } from './drain';
import type { ReplaceCause } from './intake';

/** The input of a Replace execution (what intake starts it with). */
export interface ReplaceInput {
  readonly fleet: string;
  readonly instanceId: string;
  readonly cause: ReplaceCause;
  readonly reason: string;
  /** The id of the event that asked for the replacement. */
  readonly requestId: string;
  /** When the need was seen (the event's `time`, or the sweep's): where time to heal starts. */
  readonly detectedAt?: string;
}

/** What ResolveInstance records (`$.instance`). */
export interface ResolvedInstance {
  /** Set when there is nothing to replace: why. The workflow ends with `ReplacementSkipped`. */
  readonly skip?: string;
  readonly groupName?: string;
  readonly imageId?: string;
  readonly desiredCapacity?: number;
  readonly maxSize?: number;
  /** The group's instances when the replacement began: a new one is any other. */
  readonly originalInstanceIds?: readonly string[];
  readonly budget?: number;
  /** The circuit breaker's settings (from the group's tags, see domain/circuit.ts). */
  readonly circuitThresholdPercent?: number;
  readonly circuitWindowSeconds?: number;
}

/** What AcquireReplacementSlot returns (`$.slot`). */
export interface SlotState {
  readonly acquired: boolean;
  /** `ReplacementDeferred` was reported (once per replacement). */
  readonly deferred: boolean;
  readonly attempts: number;
  readonly inFlight?: number;
  readonly budget?: number;
  /** Set when the replacement is left to someone else (the slot is released): why. */
  readonly skip?: string;
  /** The fleet's circuit breaker is open: the replacement was skipped. */
  readonly circuitOpen?: boolean;
}

/** What ReplaceInstance returns (`$.replacement`). */
export interface ReplacementProgress {
  /** `surge`: a new instance first, then the old one goes (decrement); `terminate`: the old one goes, the group refills. */
  readonly mode: 'surge' | 'terminate';
  /** The old instance has been terminated. */
  readonly done: boolean;
  /** The old instance may go now: drain it (DeregisterInstance, flush), then RetireInstance. */
  readonly retire?: boolean;
  readonly checks: number;
  /**
   * Surge: the group's desired capacity read by the first ReplaceInstance call, after the slot was
   * taken while no other replacement of the fleet was in flight (so no other surge is in it). The
   * surge sets `baseline + 1` and the retirement's decrement brings the group back to it.
   */
  readonly baseline?: number;
  /**
   * Surge: the group's maximum read by the first ReplaceInstance call. When it left no room, the
   * surge raises it to `baseline + 1` and the retirement puts it back.
   */
  readonly maxBaseline?: number;
  /** Call ReplaceInstance again at once, without a poll interval (its first two calls only). */
  readonly again?: boolean;
  /**
   * The instance's group no longer exists (a blue-green rollout retired or discarded it, with its
   * instances, after this replacement resolved the instance): nothing to replace; ReplacementSkipped.
   */
  readonly skip?: string;
  /**
   * The wait before ReplaceInstance's next check (WaitForNewInstance) and its fast checks so far
   * (see domain/pacing.ts).
   */
  readonly nextCheckSeconds?: number;
  readonly fastChecks?: number;
  readonly healthCheckIntervalSeconds?: number;
}

/** What WaitForReplacement returns (`$.health`). */
export interface ReplacementHealth {
  readonly ready: boolean;
  readonly checks: number;
  readonly replacementInstanceId?: string;
  /** The group no longer exists (see `ReplacementProgress.skip`): ReplacementSkipped. */
  readonly skip?: string;
}

/** The whole Replace workflow state as the steps receive it. */
export interface ReplaceState extends ReplaceInput {
  readonly instance?: ResolvedInstance;
  readonly slot?: SlotState;
  readonly replacement?: ReplacementProgress;
  readonly health?: ReplacementHealth;
  /** What the drain did before the old instance went (see domain/drain.ts). */
  readonly drain?: DrainState;
  readonly error?: { readonly Error?: string; readonly Cause?: string };
  readonly failedStep?: string;
}

/** Default disruption budget: a tenth of the fleet, rounded down, at least one. */
export function defaultBudget(desiredCapacity: number): number {
  return Math.max(1, Math.floor(Math.max(0, desiredCapacity) / 10));
}

/**
 * The disruption budget of a fleet from its `phoenix:disruption-budget` tag: `N` instances or
 * `N%` of the desired capacity (rounded down, at least one). No tag: the default. An invalid value
 * (not a whole number >= 1, a percent outside 1..100): the default, and `invalid` says what was wrong.
 */
export function disruptionBudget(
  tag: string | undefined,
  desiredCapacity: number,
): { budget: number; invalid?: string } {
  const fallback = defaultBudget(desiredCapacity);
  if (tag === undefined) return { budget: fallback };
  const value = tag.trim();
  const percent = /^(\d{1,3})%$/.exec(value);
  if (percent) {
    const n = Number(percent[1]);
    if (n >= 1 && n <= 100)
      return { budget: Math.max(1, Math.floor((Math.max(0, desiredCapacity) * n) / 100)) };
    return { budget: fallback, invalid: `percent must be 1% to 100%, got ${JSON.stringify(tag)}` };
  }
  if (/^\d{1,6}$/.test(value) && Number(value) >= 1) return { budget: Number(value) };
  return {
    budget: fallback,
    invalid: `expected a whole number of instances >= 1 or a percent N%, got ${JSON.stringify(tag)}`,
  };
}

/**
 * The Step Functions execution name of a replacement: deterministic per instance, so duplicate and
 * repeated events for the same instance cause one replacement (Step Functions refuses a second
 * execution of a name). Within the 80 characters of `[A-Za-z0-9_-]` Step Functions accepts.
 */
export function replaceExecutionName(fleet: string, instanceId: string): string {
  const safe = (s: string, max: number) => s.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, max);
  return `${safe(fleet, 39)}--${safe(instanceId, 38)}`;
}

/** How many Replace executions one instance may have in all (the first and its re-attempts). */
export const MAX_REPLACE_ATTEMPTS = 10;

/**
 * The name of attempt `attempt` (1-based) of an instance's replacement: attempt 1 is `name`
 * itself, attempt n ≥ 2 is `<name>-<n>` (the name cut so that the whole stays within 80
 * characters). Deterministic: concurrent deliveries of an event race for the same next name, and
 * Step Functions lets one of them start it.
 */
export function replaceAttemptName(name: string, attempt: number): string {
  if (attempt <= 1) return name;
  const suffix = `-${attempt}`;
  return `${name.slice(0, 80 - suffix.length)}${suffix}`;
}

/**
 * How an earlier Replace execution of the instance stands, from DescribeExecution: `running`,
 * `replaced` (it ended and replaced the instance, or its output cannot tell: assume it did), or
 * `not-replaced` (FAILED, ABORTED, TIMED_OUT, or SUCCEEDED with the outcome `ReplacementSkipped`:
 * skipped because the circuit was open, the fleet paused, left to a rollout…): only then may a
 * new attempt start.
 */
export function attemptStanding(
  status: string | undefined,
  output: string | undefined,
): 'running' | 'replaced' | 'not-replaced' {
  if (status === 'RUNNING' || status === 'PENDING_REDRIVE' || status === undefined) return 'running';
  if (status === 'FAILED' || status === 'ABORTED' || status === 'TIMED_OUT') return 'not-replaced';
  let outcome: unknown;
  try {
    outcome = (JSON.parse(output ?? 'null') as { report?: { outcome?: unknown } } | null)?.report?.outcome;
  } catch {
    outcome = undefined;
  }
  return outcome === DetailTypes.ReplacementSkipped ? 'not-replaced' : 'replaced';
}
