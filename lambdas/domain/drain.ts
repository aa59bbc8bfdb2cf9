/**
 * Drain: what happens to an instance before it goes. Deregistration from the load balancers'
 * target groups (then the longest deregistration delay), and the flush window: the SSM document a
 * fleet names (tag `phoenix:flush-document`) run on the instance, bounded by
 * `phoenix:flush-timeout-seconds`. A flush that fails or times out never blocks a replacement or a
 * termination: it is reported.
 *
 * Pure module: no SDK, no clock.
 */
import { Tags } from './contract';

/** Flush timeout when the group has no (valid) `phoenix:flush-timeout-seconds` tag. */
export const DEFAULT_FLUSH_TIMEOUT_SECONDS = 120;
/** SSM SendCommand accepts TimeoutSeconds from 30; a lifecycle hook's heartbeat is at most 7200 s. */
export const MIN_FLUSH_TIMEOUT_SECONDS = 30;
export const MAX_FLUSH_TIMEOUT_SECONDS = 3600;
/** A Spot interruption leaves two minutes: the flush gets at most this long, and no deregistration delay. */
export const INTERRUPTION_FLUSH_CAP_SECONDS = 60;
/** The lifecycle hook's heartbeat: the flush timeout plus this margin (for the event delivery and the steps). */
export const HOOK_HEARTBEAT_MARGIN_SECONDS = 120;
/** How often the workflows poll a running flush (a Wait state; the local runtime scales it). */
export const FLUSH_POLL_SECONDS = 5;

/** SSM command invocation statuses that are final. */
const FINAL: Readonly<Record<string, FlushStatus>> = {
  Success: 'Success',
  Failed: 'Failed',
  Cancelled: 'Cancelled',
  TimedOut: 'TimedOut',
  Cancelling: 'Cancelled',
  Undeliverable: 'Failed',
  Terminated: 'Failed',
  InvalidPlatform: 'Failed',
  AccessDenied: 'Failed',
  DeliveryTimedOut: 'TimedOut',
  ExecutionTimedOut: 'TimedOut',
};

/**
 * How a flush ended (or that it is still running): `None` the group names no document, `Skipped`
 * not run (already drained, or the group is gone), `Pending` to be sent, `Running` not ended yet.
 */
export type FlushStatus =
  'None' | 'Skipped' | 'Pending' | 'Running' | 'Success' | 'Failed' | 'Cancelled' | 'TimedOut';

/** The flush as the workflows carry it (`$.drain.flush`). */
export interface FlushState {
  readonly status: FlushStatus;
  readonly document?: string;
  readonly timeoutSeconds?: number;
  readonly commandId?: string;
  /** How many checks so far; the flush has timed out when polls × FLUSH_POLL_SECONDS ≥ timeoutSeconds. */
  readonly polls?: number;
  /** Why it was skipped, failed or timed out; or why the timeout is not the tag's. */
  readonly reason?: string;
}

/** What a drain did (`$.drain`), carried into `InstanceReplaced` (`drain`). */
export interface DrainState {
  /** Target groups the instance was deregistered from (ARNs). */
  readonly deregisteredFrom: readonly string[];
  /** How long the workflow waits for connections to drain (0 for a Spot interruption). */
  readonly delaySeconds: number;
  /** The longest deregistration delay of those groups, even when not waited. */
  readonly deregistrationDelaySeconds?: number;
  readonly flush: FlushState;
}

/** The flush settings of a group from its tags. `invalid` says why the timeout tag was not taken. */
export interface FlushSettings {
  readonly document?: string;
  readonly timeoutSeconds: number;
  readonly invalid?: string;
}

/** SSM document names: 3 to 128 of letters, digits, `_`, `-`, `.` (or a document ARN). */
const DOCUMENT_NAME = /^(?:arn:[a-z-]+:ssm:[a-z0-9-]*:\d*:document\/)?[A-Za-z0-9_.-]{3,128}$/;

/**
 * The flush settings from the group's tags `phoenix:flush-document` and
 * `phoenix:flush-timeout-seconds` (a whole number, 30 to 3600; default 120). An invalid timeout:
 * the default, with `invalid`. An invalid document name: no flush, with `invalid`.
 */
export function flushSettings(document: string | undefined, timeout: string | undefined): FlushSettings {
  const problems: string[] = [];
  let timeoutSeconds = DEFAULT_FLUSH_TIMEOUT_SECONDS;
  if (timeout !== undefined) {
    const value = timeout.trim();
    const n = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
    if (n >= MIN_FLUSH_TIMEOUT_SECONDS && n <= MAX_FLUSH_TIMEOUT_SECONDS) timeoutSeconds = n;
    else
      problems.push(
        `${Tags.flushTimeoutSeconds} must be a whole number of seconds from ${MIN_FLUSH_TIMEOUT_SECONDS} to ${MAX_FLUSH_TIMEOUT_SECONDS}, got ${JSON.stringify(timeout)}: the default ${DEFAULT_FLUSH_TIMEOUT_SECONDS} applies`,
      );
  }
  let name = document?.trim();
  if (name === '') name = undefined;
  if (name !== undefined && !DOCUMENT_NAME.test(name)) {
    problems.push(
      `${Tags.flushDocument} is not an SSM document name, got ${JSON.stringify(document)}: no flush`,
    );
    name = undefined;
  }
  return {
    ...(name !== undefined ? { document: name } : {}),
    timeoutSeconds,
    ...(problems.length > 0 ? { invalid: problems.join('; ') } : {}),
  };
}

/** The flush timeout for a replacement: capped for a Spot interruption. */
export function flushTimeoutFor(settings: FlushSettings, interruption: boolean): number {
  return interruption
    ? Math.min(settings.timeoutSeconds, INTERRUPTION_FLUSH_CAP_SECONDS)
    : settings.timeoutSeconds;
}

/** The lifecycle hook's heartbeat timeout for a flush timeout. */
export function hookHeartbeatSeconds(flushTimeoutSeconds: number): number {
  return flushTimeoutSeconds + HOOK_HEARTBEAT_MARGIN_SECONDS;
}

/** An SSM invocation status as a FlushStatus: final ones mapped, anything else `Running`. */
export function flushStatusOf(ssmStatus: string | undefined): FlushStatus {
  return (ssmStatus !== undefined ? FINAL[ssmStatus] : undefined) ?? 'Running';
}

/** Has a running flush used up its time (counted in polls, so it scales with the workflow's waits)? */
export function flushTimedOut(
  polls: number,
  timeoutSeconds: number,
  pollSeconds = FLUSH_POLL_SECONDS,
): boolean {
  return polls * pollSeconds >= timeoutSeconds;
}

/** The longest `deregistration_delay.timeout_seconds` of the target groups (0 when none; AWS's default 300 when unset). */
export function longestDelay(delays: readonly (string | undefined)[]): number {
  let longest = 0;
  for (const d of delays) {
    const n = d === undefined ? 300 : Number(d);
    if (Number.isFinite(n) && n > longest) longest = Math.min(3600, Math.floor(n));
  }
  return longest;
}

/** The input of a Drain execution: one termination lifecycle action of the hook `phoenix-drain`. */
export interface DrainInput {
  readonly instanceId: string;
  readonly groupName: string;
  readonly hookName: string;
  readonly token: string;
  /** The id of the event that announced the lifecycle action. */
  readonly requestId: string;
}

/** What ResolveLifecycleAction records (`$.action`). */
export interface LifecycleActionState {
  readonly fleet?: string;
  /** The instance was drained by Phoenix itself (tag `phoenix:drained`): no flush. */
  readonly drained: boolean;
}

/**
 * The Step Functions execution name of a lifecycle action: per instance and token (a token names
 * one action), within the 80 characters of `[A-Za-z0-9_-]`.
 */
export function drainExecutionName(instanceId: string, token: string): string {
  const safe = (s: string, max: number) => s.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, max);
  return `${safe(instanceId, 19)}--${safe(token, 59)}`;
}

/**
 * What the reconcile sweep does about a group's termination hook, from its tags: when the group
 * names a flush document, make sure the hook is there with this heartbeat (`ensure`; the sweep
 * reads the group's hook, since an operator or a blue-green cutover may have changed the group);
 * when only the record `phoenix:drain-hook` is left (the owner removed the document tag), remove
 * the hook; nothing otherwise (no call at all for groups that never opted in).
 */
export function drainHookAction(
  document: string | undefined,
  timeout: string | undefined,
  installed: string | undefined,
): { ensure: number; recorded: boolean } | { remove: true } | undefined {
  const settings = flushSettings(document, timeout);
  if (settings.document !== undefined) {
    const heartbeat = hookHeartbeatSeconds(settings.timeoutSeconds);
    return { ensure: heartbeat, recorded: installed?.trim() === String(heartbeat) };
  }
  return installed !== undefined ? { remove: true } : undefined;
}
