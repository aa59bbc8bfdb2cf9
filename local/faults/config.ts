/**
 * The fault configuration of the local runtime (`phoenix local --faults <rate> --seed <n>`,
 * `startLocalRuntime({ faults })`): rates per site, a seed that makes a run replayable, and the
 * validation of both (a bad value is a FaultConfigError, the CLI's usage error).
 */

/** An API call's fault (the api proxy, local/faults/api-proxy.ts). */
export type ApiFaultKind =
  /** The service's own throttling error, in its protocol. */
  | 'throttle'
  /** The service's own 5xx error. */
  | 'server-error'
  /** The connection is reset before the request reaches the service (nothing happened). */
  | 'reset'
  /** The request is held, then its connection reset (nothing happened). */
  | 'timeout'
  /** The answer comes late. */
  | 'latency'
  /** The request reached the service (its effect happened), then the connection is reset: the answer is lost. */
  | 'reset-after';

/** A Lambda invocation's fault (the Lambda host, local/lambda-host/invoke.ts). */
export type LambdaFaultKind =
  /** The runtime dies before the handler runs: no side effect, `Runtime.ExitError`. */
  | 'crash-before'
  /** The handler ran (its side effects happened), then the runtime died before answering: `Runtime.ExitError`. */
  | 'crash-after'
  /** The function ran out of time (its side effects may have happened): `Sandbox.Timedout`. */
  | 'timeout';

/** An event delivery's fault (the router, local/router/poller.ts). */
export type EventFaultKind = 'duplicate' | 'delay' | 'loss';

export const API_FAULT_KINDS: readonly ApiFaultKind[] = [
  'throttle',
  'server-error',
  'reset',
  'timeout',
  'latency',
  'reset-after',
];
export const LAMBDA_FAULT_KINDS: readonly LambdaFaultKind[] = ['crash-before', 'crash-after', 'timeout'];

export interface FaultConfig {
  /** Seeds every site's PRNG (an integer): the same seed, the same decisions per site. */
  readonly seed: number;
  /** Probability that a handler's AWS call (emulator or Step Functions) meets a fault, 0..1. */
  readonly api?: number;
  /** Probability that a Lambda invocation meets a fault, 0..1. */
  readonly lambda?: number;
  /** Probability that an event is delivered twice, 0..1. */
  readonly eventDuplicate?: number;
  /** Probability that an event's delivery is delayed (so later events overtake it), 0..1. */
  readonly eventDelay?: number;
  /** Probability that an event is consumed and never delivered, 0..1. */
  readonly eventLoss?: number;
  /** Which kinds a fault is drawn from (uniformly). Default: every kind. */
  readonly kinds?: {
    readonly api?: readonly ApiFaultKind[];
    readonly lambda?: readonly LambdaFaultKind[];
  };
}

/** `phoenix local --seed` default: printed at start, so a run can be replayed. */
export const DEFAULT_FAULT_SEED = 20260101;

/** A fault rate or seed that is not one. */
export class FaultConfigError extends Error {
  override readonly name = 'FaultConfigError';
}

const RATE_KEYS = ['api', 'lambda', 'eventDuplicate', 'eventDelay', 'eventLoss'] as const;

/** Throws FaultConfigError on a rate outside 0..1, a seed that is not an integer, an unknown kind. */
export function validateFaultConfig(config: FaultConfig): FaultConfig {
  if (!Number.isSafeInteger(config.seed)) {
    throw new FaultConfigError(`faults.seed must be an integer, got ${JSON.stringify(config.seed)}`);
  }
  for (const key of RATE_KEYS) {
    const rate = config[key];
    if (rate === undefined) continue;
    if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0 || rate > 1) {
      throw new FaultConfigError(
        `faults.${key} must be a probability in [0, 1], got ${JSON.stringify(rate)}`,
      );
    }
  }
  const checkKinds = (what: string, kinds: readonly string[] | undefined, known: readonly string[]) => {
    if (kinds === undefined) return;
    if (kinds.length === 0) throw new FaultConfigError(`faults.kinds.${what} must name at least one kind`);
    for (const kind of kinds) {
      if (!known.includes(kind)) {
        throw new FaultConfigError(
          `faults.kinds.${what}: unknown kind ${JSON.stringify(kind)} (known: ${known.join(', ')})`,
        );
      }
    }
  };
  checkKinds('api', config.kinds?.api, API_FAULT_KINDS);
  checkKinds('lambda', config.kinds?.lambda, LAMBDA_FAULT_KINDS);
  return config;
}

/** A probability from the command line ("0.1"); FaultConfigError otherwise. */
export function parseRate(value: string, option: string): number {
  const n = value.trim() === '' ? Number.NaN : Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) {
    throw new FaultConfigError(`${option} must be a probability in [0, 1], got ${JSON.stringify(value)}`);
  }
  return n;
}

/** An integer seed from the command line; FaultConfigError otherwise. */
export function parseSeed(value: string, option = '--seed'): number {
  const n = /^-?\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n)) {
    throw new FaultConfigError(`${option} must be an integer, got ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * `--faults <rate>`: API, Lambda, duplicate and delay faults at the rate, loss at a tenth of it
 * (unless `--event-loss` says otherwise). Undefined when no rate is given (faults off).
 */
export function faultsFromRate(options: {
  readonly rate?: number;
  readonly seed?: number;
  readonly eventLoss?: number;
}): FaultConfig | undefined {
  if (options.rate === undefined && options.eventLoss === undefined) return undefined;
  const rate = options.rate ?? 0;
  return validateFaultConfig({
    seed: options.seed ?? DEFAULT_FAULT_SEED,
    api: rate,
    lambda: rate,
    eventDuplicate: rate,
    eventDelay: rate,
    eventLoss: options.eventLoss ?? rate / 10,
  });
}
