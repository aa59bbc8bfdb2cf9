/**
 * What the benchmarks share: the local runtime they run in (one set of constants) and the count of
 * the handlers' AWS requests through the project's call counter (lambdas/aws/call-counter.ts).
 */
import { performance } from 'node:perf_hooks';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { countingCalls, instrument } from '../lambdas/aws/call-counter';
import {
  autoScaling,
  dynamo,
  ec2,
  eventBridge,
  loadBalancing,
  ssm,
  stepFunctions,
} from '../lambdas/aws/clients';
import { silentLogger } from '../local/log';
import { startLocalRuntime, type LocalRuntime } from '../local/runtime';

/**
 * 0.1: a 15 s poll takes 1.5 s, the 120 s warm-up 12 s. The Lambda steps are not scaled (~30 per
 * rolling rollout, 40–80 ms each against moto), so in simulated seconds they weigh 1 / TIME_SCALE
 * times what they weigh in AWS: at 0.05 they alone were ~8 % of a 540 s minimum. (At 0.02, the
 * replacement storm's ~95 executions waiting for a slot poll every 0.3 s and saturate the
 * emulator: ~5 minutes instead of ~2.)
 */
export const TIME_SCALE = 0.1;
export const REGION = 'us-east-1';

/** The value a simple JSON path (`$.a.b`, as a Wait's SecondsPath) names in `input`. */
export function valueAt(path: string, input: unknown): unknown {
  let v = input;
  for (const p of path.replace(/^\$\./, '').split('.'))
    v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[p] : undefined;
  return v;
}

/** The local runtime of a benchmark: its own emulator, no scheduled rules, quiet. */
export function startBenchRuntime(): Promise<LocalRuntime> {
  return startLocalRuntime({
    timeScale: TIME_SCALE,
    fireSchedules: false,
    log: silentLogger,
    region: REGION,
  });
}

/** Requests per operation (`DescribeInstances` → n). */
export type Counts = Record<string, number>;

export const addCounts = (into: Counts, from: Counts) => {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
  return into;
};

/** The shared SDK clients of the handlers (lambdas/aws/clients.ts), once the runtime set their environment. */
export function handlerClients() {
  return [autoScaling(), dynamo(), ec2(), eventBridge(), stepFunctions(), ssm(), loadBalancing()];
}

export interface Invocation {
  readonly step: string;
  readonly execution?: string;
  readonly calls: Counts;
  /** `performance.now()` when the invocation started. */
  readonly startedAt: number;
  readonly ms: number;
}

/**
 * Count every request of every handler invocation: the call-counter middleware on the clients of
 * lambdas/aws/clients.ts, and on every CloudWatch client when it first sends (the alarms' client is
 * private to lambdas/aws/alarms.ts); each invocation runs in its own counting scope. Returns the
 * log, to which each invocation is added when it ends.
 */
export function countInvocations(runtime: LocalRuntime): Invocation[] {
  const clients = handlerClients();
  const prototype = CloudWatchClient.prototype as unknown as { send: (...args: unknown[]) => unknown };
  const send = prototype.send;
  // Adds the counter to the client before its first request: the handler's call is otherwise as is.
  prototype.send = function (this: CloudWatchClient, ...args: unknown[]) {
    instrument(this);
    return send.apply(this, args);
  };
  const log: Invocation[] = [];
  const host = runtime.host as { invoke: LocalRuntime['host']['invoke'] };
  const invoke = host.invoke.bind(runtime.host);
  host.invoke = async (nameOrArn, payload, options) => {
    const p = (payload ?? {}) as { step?: unknown; execution?: unknown };
    const started = performance.now();
    const { result, calls } = await countingCalls(clients, async () => {
      try {
        return { ok: true as const, value: await invoke(nameOrArn, payload, options) };
      } catch (error) {
        return { ok: false as const, error };
      }
    });
    log.push({
      step:
        typeof p.step === 'string' ? p.step : (runtime.host.resolveFunction(nameOrArn)?.handler ?? nameOrArn),
      ...(typeof p.execution === 'string' ? { execution: p.execution } : {}),
      calls,
      startedAt: started,
      ms: performance.now() - started,
    });
    if (!result.ok) throw result.error;
    return result.value;
  };
  return log;
}

/** The requests of the invocations that started in [from, to]. */
export function callsBetween(log: readonly Invocation[], from: number, to: number): Counts {
  const calls: Counts = {};
  for (const invocation of log)
    if (invocation.startedAt >= from && invocation.startedAt <= to) addCounts(calls, invocation.calls);
  return calls;
}
