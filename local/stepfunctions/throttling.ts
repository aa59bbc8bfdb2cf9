/**
 * Step Functions' API limits, for the local service's HTTP endpoint (the realism layer's
 * `throttling` option; the emulator's own buckets cover the other services): token buckets per
 * API action as AWS documents them for US East (N. Virginia), US West (Oregon) and Europe
 * (Ireland), AWS Step Functions Developer Guide, "Quotas", "Quotas related to API action
 * throttling" (bucket size, refill rate per second). A call over its bucket is answered with
 * Step Functions' own `ThrottlingException` (HTTP 400, "Rate exceeded"), which the SDK retries.
 * Buckets refill in real seconds, as the emulator's do.
 */
export interface ApiBucket {
  readonly burst: number;
  /** Tokens per real second. */
  readonly rate: number;
}

export const STEP_FUNCTIONS_BUCKETS: Readonly<Record<string, ApiBucket>> = {
  StartExecution: { burst: 1300, rate: 300 },
  DescribeExecution: { burst: 300, rate: 15 },
  ListExecutions: { burst: 200, rate: 5 },
  GetExecutionHistory: { burst: 400, rate: 20 },
  StopExecution: { burst: 1000, rate: 200 },
  DescribeStateMachine: { burst: 200, rate: 20 },
  ListStateMachines: { burst: 100, rate: 5 },
  SendTaskSuccess: { burst: 3000, rate: 500 },
  SendTaskFailure: { burst: 3000, rate: 500 },
  SendTaskHeartbeat: { burst: 3000, rate: 500 },
};

/**
 * The buckets for a realism `throttling` setting: none when off; AWS's when `true`; AWS's with the
 * `states:<Action>` entries of an object over them (other services' entries are the emulator's).
 */
export function stepFunctionsBuckets(
  throttling: boolean | Readonly<Record<string, ApiBucket>> | undefined,
): Readonly<Record<string, ApiBucket>> | undefined {
  if (throttling === undefined || throttling === false) return undefined;
  if (throttling === true) return STEP_FUNCTIONS_BUCKETS;
  const overrides = Object.fromEntries(
    Object.entries(throttling)
      .filter(([key]) => key.startsWith('states:'))
      .map(([key, bucket]) => [key.slice('states:'.length), bucket]),
  );
  return { ...STEP_FUNCTIONS_BUCKETS, ...overrides };
}

/** Token buckets by operation; `take(operation)` is false when its bucket is empty. */
export class ApiLimiter {
  private readonly tokens = new Map<string, { tokens: number; at: number }>();
  private throttledCalls = 0;

  constructor(
    private readonly buckets: Readonly<Record<string, ApiBucket>>,
    private readonly now: () => number = () => performance.now(),
  ) {}

  take(operation: string): boolean {
    const bucket = this.buckets[operation];
    if (bucket === undefined) return true;
    const t = this.now();
    const held = this.tokens.get(operation) ?? { tokens: bucket.burst, at: t };
    const tokens = Math.min(bucket.burst, held.tokens + ((t - held.at) / 1000) * bucket.rate);
    if (tokens < 1) {
      this.tokens.set(operation, { tokens, at: t });
      this.throttledCalls++;
      return false;
    }
    this.tokens.set(operation, { tokens: tokens - 1, at: t });
    return true;
  }

  /** Calls answered with ThrottlingException so far. */
  get throttled(): number {
    return this.throttledCalls;
  }
}
