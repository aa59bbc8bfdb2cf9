/**
 * The fault injector of one local runtime: the decisions per site (each from its own seeded
 * stream, local/faults/random.ts), the counts of what was injected by site and kind, and the
 * events that were lost (a checker demands that their fleets converged anyway).
 */
import {
  API_FAULT_KINDS,
  type ApiFaultKind,
  type FaultConfig,
  LAMBDA_FAULT_KINDS,
  type LambdaFaultKind,
  validateFaultConfig,
} from './config';
import { type Random, siteRandom } from './random';

/** An event the router consumed and never delivered. */
export interface LostEvent {
  /** The event's id (EventBridge's `id`), if it has one. */
  readonly id: string | undefined;
  /** The rule (logical id) whose target never got it. */
  readonly rule: string;
  readonly detailType: string | undefined;
  readonly source: string | undefined;
  /** When it was lost (ISO 8601). */
  readonly at: string;
}

/** What an event delivery meets; every draw is made, whatever the rates, so streams stay aligned. */
export interface EventDecision {
  readonly lose: boolean;
  readonly duplicate: boolean;
  /** Milliseconds to hold the delivery (0: none). */
  readonly delayMs: number;
  /** Milliseconds between the delivery and its duplicate. */
  readonly duplicateAfterMs: number;
}

/**
 * One call of a handler that changes the world (EC2, Auto Scaling, Elastic Load Balancing; not a
 * Describe/Get/List), as the fault proxy saw it: the forensic trail of a torture run's dump.
 */
export interface TrailEntry {
  /** ISO time the proxy received it. */
  readonly at: string;
  readonly service: string;
  readonly action: string;
  /** The request's parameters (query protocol: form fields), as sent. */
  readonly params: Readonly<Record<string, string>>;
  /** The fault it met, if any ('reset' and 'timeout': nothing happened; 'reset-after': it did). */
  readonly fault?: string;
  /** The emulator's HTTP status (absent when no answer came through). */
  status?: number;
}

/** The faults of a runtime, as `runtime.faults` exposes them. */
export interface Faults {
  readonly config: FaultConfig;
  /** What was injected: site (`api:ec2`, `lambda:rollout-fleet`, `events:<rule>`) → kind → count. */
  readonly injected: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** Every event consumed and never delivered. */
  readonly lostEvents: readonly LostEvent[];
  /** Faults injected in all (every site, every kind). */
  readonly total: number;
  /** The handlers' world-changing calls, in order (at most TRAIL_LIMIT; the oldest go first). */
  readonly trail: readonly TrailEntry[];
}

export interface FaultInjectorOptions {
  /** The runtime's time scale: simulated waits (a held request, a delay) are multiplied by it. */
  readonly timeScale: number;
}

/** The most trail entries kept (a torture run makes a few thousand). */
const TRAIL_LIMIT = 50_000;
/** Simulated seconds a timed-out request is held before its connection is reset. */
const API_TIMEOUT_HOLD_S = 30;
/** Real milliseconds of added latency: a draw in [min, max). */
const API_LATENCY_MS = [50, 500] as const;
/** Simulated seconds an event can be delayed: a draw in [0, max). */
const EVENT_DELAY_MAX_S = 60;

export class FaultInjector implements Faults {
  readonly config: FaultConfig;
  readonly lostEvents: LostEvent[] = [];
  readonly trail: TrailEntry[] = [];
  private readonly counts: Record<string, Record<string, number>> = {};
  private readonly streams = new Map<string, Random>();
  private readonly timeScale: number;

  constructor(config: FaultConfig, options: FaultInjectorOptions) {
    this.config = validateFaultConfig(config);
    this.timeScale = options.timeScale;
  }

  get injected(): Readonly<Record<string, Readonly<Record<string, number>>>> {
    return this.counts;
  }

  get total(): number {
    let sum = 0;
    for (const kinds of Object.values(this.counts)) for (const n of Object.values(kinds)) sum += n;
    return sum;
  }

  /** Count one injected fault. */
  count(site: string, kind: string): void {
    const kinds = (this.counts[site] ??= {});
    kinds[kind] = (kinds[kind] ?? 0) + 1;
  }

  /** The stream of `site`, made on first use. */
  random(site: string): Random {
    let stream = this.streams.get(site);
    if (stream === undefined) {
      stream = siteRandom(this.config.seed, site);
      this.streams.set(site, stream);
    }
    return stream;
  }

  /** The fault a handler's call to `service` meets, if any (counted), with its parameter. */
  apiFault(service: string): { kind: ApiFaultKind; ms: number } | undefined {
    const site = `api:${service || 'unknown'}`;
    const random = this.random(site);
    const hit = random() < (this.config.api ?? 0);
    const kindDraw = random();
    const amount = random();
    if (!hit) return undefined;
    const kind = pick(this.config.kinds?.api ?? API_FAULT_KINDS, kindDraw);
    this.count(site, kind);
    const ms =
      kind === 'timeout'
        ? API_TIMEOUT_HOLD_S * 1000 * this.timeScale
        : kind === 'latency'
          ? API_LATENCY_MS[0] + amount * (API_LATENCY_MS[1] - API_LATENCY_MS[0])
          : 0;
    return { kind, ms };
  }

  /** The fault an invocation of `handler` meets, if any (counted). */
  lambdaFault(handler: string): LambdaFaultKind | undefined {
    const site = `lambda:${handler}`;
    const random = this.random(site);
    const hit = random() < (this.config.lambda ?? 0);
    const kindDraw = random();
    if (!hit) return undefined;
    const kind = pick(this.config.kinds?.lambda ?? LAMBDA_FAULT_KINDS, kindDraw);
    this.count(site, kind);
    return kind;
  }

  /** What a delivery of an event of `rule` meets (counted). A lost event is neither delayed nor duplicated. */
  eventFault(rule: string): EventDecision {
    const site = `events:${rule}`;
    const random = this.random(site);
    const lose = random() < (this.config.eventLoss ?? 0);
    const duplicate = random() < (this.config.eventDuplicate ?? 0);
    const delay = random() < (this.config.eventDelay ?? 0);
    const delayDraw = random();
    const duplicateDraw = random();
    const maxDelayMs = EVENT_DELAY_MAX_S * 1000 * this.timeScale;
    if (lose) {
      this.count(site, 'loss');
      return { lose, duplicate: false, delayMs: 0, duplicateAfterMs: 0 };
    }
    if (duplicate) this.count(site, 'duplicate');
    if (delay) this.count(site, 'delay');
    return {
      lose,
      duplicate,
      delayMs: delay ? delayDraw * maxDelayMs : 0,
      duplicateAfterMs: duplicateDraw * maxDelayMs,
    };
  }

  /** Record a world-changing call of a handler (the proxy calls it); returns the entry, to complete. */
  recordCall(entry: TrailEntry): TrailEntry {
    this.trail.push(entry);
    if (this.trail.length > TRAIL_LIMIT) this.trail.splice(0, this.trail.length - TRAIL_LIMIT);
    return entry;
  }

  /** Record an event that was consumed and never delivered. */
  recordLost(event: Omit<LostEvent, 'at'>): void {
    this.lostEvents.push({ ...event, at: new Date().toISOString() });
  }
}

function pick<T>(kinds: readonly T[], draw: number): T {
  return kinds[Math.min(kinds.length - 1, Math.floor(draw * kinds.length))]!;
}
