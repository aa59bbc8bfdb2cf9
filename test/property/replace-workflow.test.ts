/**
 * Property-based test (fast-check, seeded, shrinking) of the synthesized Replace state machine in
 * the workflow harness, with failures injected at random steps and calls (see ./faults.ts) and a
 * random world (the instance already gone, slots busy for a while, the circuit open, surge or
 * terminate, a slow replacement). Invariants, on what the steps reported:
 *
 * - exactly one outcome, reported by ReleaseReplacementSlot, which releases the disruption-budget
 *   slot on every path (a slot taken is never left held);
 * - nothing is replaced, drained or retired without a slot (the budget bounds replacements in flight);
 * - the old instance is retired only after it was deregistered (drained);
 * - InstanceReplaced only when the old instance was retired and the group serves again, never after
 *   a failure that was not retried away; with only retried-away failures, no ReplacementFailed.
 *
 * Seed: PHOENIX_PROPERTY_SEED (see ./seed.ts); a failure prints how to replay it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Scripts, type StepName, useWorkflow } from '../support/workflow-harness';
import { type Entry, type Fault, faultOf, injectFaults, persistentFaults, traceOf } from './faults';
import { asyncPropertyParameters } from './seed';

const FILE = 'test/property/replace-workflow.test.ts';

const FAULTABLE = [
  'ResolveInstance',
  'TaintInstance',
  'AcquireReplacementSlot',
  'ReplaceInstance',
  'DeregisterInstance',
  'RetireInstance',
  'WaitForReplacement',
  'ReleaseReplacementSlot',
] as const satisfies readonly StepName[];
type FaultStep = (typeof FAULTABLE)[number];

interface ReplaceCase {
  readonly faults: readonly Fault<FaultStep>[];
  /** ResolveInstance finds the instance gone from the fleet. */
  readonly gone: boolean;
  /** AcquireReplacementSlot finds no slot free this many times first. */
  readonly busyPolls: number;
  /** AcquireReplacementSlot skips (the circuit breaker is open). */
  readonly circuitOpen: boolean;
  readonly mode: 'surge' | 'terminate';
  /** Health checks before the group serves again. */
  readonly checksToServing: number;
}

const replaceCase: fc.Arbitrary<ReplaceCase> = fc.record({
  faults: fc.array(faultOf(FAULTABLE, ['ReleaseReplacementSlot']), { minLength: 1, maxLength: 3 }),
  gone: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
  busyPolls: fc.integer({ min: 0, max: 2 }),
  circuitOpen: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
  mode: fc.constantFrom('surge' as const, 'terminate' as const),
  checksToServing: fc.integer({ min: 1, max: 3 }),
});

const GATE_ERRORS: Readonly<Record<string, string>> = {};

function scriptsFor(c: ReplaceCase, log: Entry[]): Scripts {
  const base: Scripts = {
    ResolveInstance: () =>
      c.gone
        ? { skip: 'instance i-0123456789abcdef0 is no longer in fleet web' }
        : {
            groupName: 'web-asg',
            imageId: 'ami-00000000000000001',
            desiredCapacity: 4,
            maxSize: 5,
            originalInstanceIds: ['i-0123456789abcdef0', 'i-0123456789abcdef1'],
            budget: 1,
          },
    TaintInstance: () => ({ tainted: 'health' }),
    AcquireReplacementSlot: (_p, n) => {
      if (c.circuitOpen) {
        return {
          acquired: false,
          deferred: false,
          attempts: n + 1,
          circuitOpen: true,
          skip: 'the circuit breaker of fleet web is open',
        };
      }
      const acquired = n >= c.busyPolls;
      return { acquired, deferred: !acquired, attempts: n + 1, inFlight: 1, budget: 1 };
    },
    ReplaceInstance: (p) => {
      const checks = p['state'].replacement === undefined ? 0 : p['state'].replacement.checks + 1;
      if (c.mode === 'terminate') return { mode: 'terminate', done: false, retire: true, checks };
      return checks >= 1
        ? { mode: 'surge', done: false, retire: true, checks }
        : { mode: 'surge', done: false, checks };
    },
    DeregisterInstance: () => ({
      deregisteredFrom: [
        'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef',
      ],
      delaySeconds: 0,
      deregistrationDelaySeconds: 0,
      flush: { status: 'None' },
    }),
    StartFlush: (p) => ({ ...p['state'].drain.flush, status: 'Running', commandId: 'c-1', polls: 0 }),
    CheckFlush: (p) => ({ ...p['state'].drain.flush, status: 'Success', polls: 1 }),
    RetireInstance: (p) => ({
      mode: p['state'].replacement.mode,
      done: true,
      checks: p['state'].replacement.checks,
    }),
    WaitForReplacement: (p) => {
      const checks = (p['state'].health?.checks ?? 0) + 1;
      return { ready: checks >= c.checksToServing, checks, replacementInstanceId: 'i-0123456789abcdef9' };
    },
    ReleaseReplacementSlot: (p) => ({ outcome: p['outcome'], released: true }),
  };
  return injectFaults(base, c.faults, log, GATE_ERRORS);
}

const ACTIONS = ['ReplaceInstance', 'DeregisterInstance', 'RetireInstance', 'WaitForReplacement'];

function checkReplaceInvariants(log: readonly Entry[]) {
  const trace = traceOf(log);
  const releases = log.filter((e) => e.step === 'ReleaseReplacementSlot' && e.fault === undefined);
  expect(releases, `one outcome (the slot released once): ${trace}`).toHaveLength(1);
  const outcome = String(releases[0]!.payload['outcome']);
  const slotAt = log.findIndex((e) => e.step === 'AcquireReplacementSlot' && e.result?.acquired === true);
  const firstAction = log.findIndex((e) => ACTIONS.includes(e.step));
  if (firstAction >= 0) {
    expect(slotAt >= 0 && slotAt < firstAction, `replaced without a slot: ${trace}`).toBe(true);
  }
  log.forEach((e, i) => {
    if (e.step === 'RetireInstance' && e.fault === undefined) {
      const drained = log.slice(0, i).some((d) => d.step === 'DeregisterInstance' && d.fault === undefined);
      expect(drained, `retired without a drain: ${trace}`).toBe(true);
    }
  });
  const persistent = persistentFaults(log);
  if (outcome === 'InstanceReplaced') {
    expect(persistent, `replaced after a failure: ${trace}`).toEqual([]);
    expect(
      log.some((e) => e.step === 'RetireInstance' && e.fault === undefined && e.result.done === true),
      `replaced but never retired: ${trace}`,
    ).toBe(true);
    expect(
      log.some((e) => e.step === 'WaitForReplacement' && e.fault === undefined && e.result.ready === true),
      `replaced but not serving: ${trace}`,
    ).toBe(true);
  }
  if (persistent.length === 0)
    expect(outcome, `failed without a failure: ${trace}`).not.toBe('ReplacementFailed');
  else expect(outcome, `a failure not reported as such: ${trace}`).toBe('ReplacementFailed');
  return outcome;
}

const wf = useWorkflow('Replace', () => ({}));

const input = {
  fleet: 'web',
  instanceId: 'i-0123456789abcdef0',
  cause: 'health',
  reason: 'EC2 status check failed',
  requestId: 'event-1',
};

let runs = 0;
const outcomeCounts = new Map<string, number>();

describe('Replace workflow under injected failures (synthesized definition, property)', () => {
  it('reports one outcome and releases its slot on every path; replaces only with a slot, drains first, never succeeds after a failure', async () => {
    await fc.assert(
      fc.asyncProperty(replaceCase, async (c) => {
        const log: Entry[] = [];
        wf.scripts = scriptsFor(c, log);
        wf.calls = [];
        const record = await wf.run(`property-${++runs}`, input);
        expect(['SUCCEEDED', 'FAILED']).toContain(record.status);
        const outcome = checkReplaceInvariants(log);
        outcomeCounts.set(outcome, (outcomeCounts.get(outcome) ?? 0) + 1);
      }),
      asyncPropertyParameters(FILE, 50),
    );
    console.info(`[property] ${FILE}: outcomes ${JSON.stringify(Object.fromEntries(outcomeCounts))}`);
  });

  it('the checker refuses a trace that retires without a slot, or leaves the slot held', () => {
    const ok = (step: string, payload: Record<string, any> = {}, result: any = {}): Entry => ({
      step,
      payload,
      result,
    });
    const noSlot = [
      ok('ResolveInstance'),
      ok('TaintInstance'),
      ok('AcquireReplacementSlot', {}, { acquired: false }),
      ok('ReplaceInstance'),
      ok('ReleaseReplacementSlot', { outcome: 'ReplacementFailed' }),
    ];
    expect(() => checkReplaceInvariants(noSlot)).toThrow(/without a slot/);
    expect(() => checkReplaceInvariants(noSlot.slice(0, -1))).toThrow(/one outcome/);
  });
});
