/**
 * Check pacing: how long a health poll waits before its next check.
 *
 * A poll loop (a rolling batch, a replacement's surge) checks every poll interval. Once every
 * instance it waits for has booted and the only thing missing is a target group's initial health
 * checks (targets `initial`), the answer can change only at that target group's health-check
 * ticks, which may come much more often than the poll interval: then the next check comes after
 * half the health-check interval (at least 1 s, less than the poll interval), so that a batch is
 * seen healthy within half an interval of becoming healthy instead of within a whole poll.
 *
 * These fast checks are bounded: at most `fastChecks` per loop (the workflow sizes it from its
 * history budget), and they do not count towards the loop's checks (`maxChecks`), so a loop still
 * gets all its checks at the poll interval; the loop's time bound grows by at most their waits.
 *
 * Pure module: no SDK imports.
 */

/** What the workflow passes to a paced check (its payload `pacing`). */
export interface CheckPacing {
  /** The workflow's poll interval, in seconds. */
  readonly pollSeconds: number;
  /** The most fast checks per loop (0: never faster than the poll interval). */
  readonly fastChecks: number;
}

/** The pace of one loop, carried in its progress. */
export interface Pace {
  /** The wait before the next check, in seconds: what the workflow's Wait state reads. */
  readonly nextCheckSeconds: number;
  /** The fast checks this loop has scheduled so far. */
  readonly fastChecks: number;
  /** The shortest health-check interval of the target groups, once read (cached per loop). */
  readonly healthCheckIntervalSeconds?: number;
}

/**
 * The wait of a fast check for a target group health-checked every `intervalSeconds`: half of
 * it, rounded up, at least 1 s. Undefined when it would not be shorter than the poll interval.
 */
export function fastCheckSeconds(pollSeconds: number, intervalSeconds: number): number | undefined {
  const half = Math.max(1, Math.ceil(intervalSeconds / 2));
  return half < pollSeconds ? half : undefined;
}

/**
 * The next check's pace. `warmingIntervalSeconds`: the shortest health-check interval of the target
 * groups when the loop waits only for initial health checks, else undefined (the instances are
 * still booting, a target is unhealthy, or there is no target group): then the poll interval.
 */
export function nextPace(
  pacing: CheckPacing,
  previous: Partial<Pace> | undefined,
  warmingIntervalSeconds: number | undefined,
): Pace {
  const used = previous?.fastChecks ?? 0;
  const interval = warmingIntervalSeconds ?? previous?.healthCheckIntervalSeconds;
  const cached = interval !== undefined ? { healthCheckIntervalSeconds: interval } : {};
  const fast =
    warmingIntervalSeconds !== undefined && used < pacing.fastChecks
      ? fastCheckSeconds(pacing.pollSeconds, warmingIntervalSeconds)
      : undefined;
  return fast !== undefined
    ? { nextCheckSeconds: fast, fastChecks: used + 1, ...cached }
    : { nextCheckSeconds: pacing.pollSeconds, fastChecks: used, ...cached };
}

/**
 * The checks that count towards a loop's `maxChecks`: all of them but the fast ones (each of which
 * waited less than a poll interval).
 */
export function countedChecks(checks: number, pace: Partial<Pace> | undefined): number {
  return checks - (pace?.fastChecks ?? 0);
}
