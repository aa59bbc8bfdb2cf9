/**
 * Fault injection for the workflow properties: step doubles wrapped so that a chosen call of a
 * step fails (a transient error the workflow retries, one that persists past the retries, a
 * terminal error, or the step's own handled failure), and a log of every call the doubles saw.
 */
import fc from 'fast-check';
import { fail, type Scripts, type StepName } from '../support/workflow-harness';

export type FaultKind = 'transient' | 'persistent' | 'terminal' | 'gate';

export interface Fault<S extends string = StepName> {
  readonly step: S;
  /** The step's call (0-based, over the whole run) that fails; `persistent`: and every later one. */
  readonly call: number;
  readonly kind: FaultKind;
}

/** A fault at one of `steps`; `transientOnly` steps get only retried-away faults. */
export function faultOf<S extends StepName>(
  steps: readonly S[],
  transientOnly: readonly S[] = [],
): fc.Arbitrary<Fault<S>> {
  return fc
    .record({
      step: fc.constantFrom(...steps),
      call: fc.integer({ min: 0, max: 2 }),
      kind: fc.oneof(
        { weight: 1, arbitrary: fc.constant<FaultKind>('transient') },
        { weight: 2, arbitrary: fc.constantFrom<FaultKind>('persistent', 'terminal', 'gate') },
      ),
    })
    .map((f) => (transientOnly.includes(f.step) ? { ...f, kind: 'transient' as const } : f));
}

/** What the doubles saw: every call, in order, with its fault or its result. */
export interface Entry {
  readonly step: string;
  readonly payload: Record<string, any>;
  readonly fault?: FaultKind;
  readonly result?: any;
}

/**
 * `base` with `faults` injected, every call logged in `log`. A `gate` fault throws the step's
 * handled error from `gateErrors` (else it is terminal: `ValidationError`); transient ones throw
 * `TransientAwsError` (retried by the workflow).
 */
export function injectFaults(
  base: Scripts,
  faults: readonly Fault<string>[],
  log: Entry[],
  gateErrors: Readonly<Record<string, string>>,
): Scripts {
  const wrapped: Record<string, (p: Record<string, any>, n: number) => unknown> = {};
  for (const [step, script] of Object.entries(base) as [string, (p: any, n: number) => unknown][]) {
    wrapped[step] = (p, n) => {
      const f = faults.find((x) => x.step === step && (x.kind === 'persistent' ? n >= x.call : n === x.call));
      if (f !== undefined) {
        log.push({ step, payload: p, fault: f.kind });
        const gate = gateErrors[f.step];
        if (f.kind === 'gate' && gate !== undefined) throw fail(gate, `${step}: injected failed gate`);
        if (f.kind === 'terminal' || f.kind === 'gate')
          throw fail('ValidationError', `${step}: injected terminal error`);
        throw fail('TransientAwsError', `${step}: injected ServiceUnavailable`);
      }
      const result = script(p, n);
      log.push({ step, payload: p, result });
      return result;
    };
  }
  return wrapped as Scripts;
}

export const lastIndex = (log: readonly Entry[], pred: (e: Entry) => boolean) => {
  for (let i = log.length - 1; i >= 0; i--) if (pred(log[i]!)) return i;
  return -1;
};

/**
 * The faults that were not retried away: terminal, a gate, or a transient one whose retries (the
 * step's next calls, with no other step in between) all failed too.
 */
export function persistentFaults(log: readonly Entry[]): Entry[] {
  const retriedAway = (i: number): boolean => {
    const e = log[i]!;
    if (e.fault !== 'transient' && e.fault !== 'persistent') return false;
    const next = log[i + 1];
    if (next === undefined || next.step !== e.step) return false;
    return next.fault === undefined || retriedAway(i + 1);
  };
  return log.filter((e, i) => e.fault !== undefined && !retriedAway(i));
}

/** The log as one line: `Step → Step!fault → …`. */
export const traceOf = (log: readonly Entry[]) =>
  log.map((e) => (e.fault ? `${e.step}!${e.fault}` : e.step)).join(' → ');
