import { describe, expect, it } from 'vitest';
import {
  addFlag,
  CIRCUIT_FLAG_LIMIT,
  type CircuitState,
  circuitLimit,
  circuitSettings,
  evaluateCircuit,
} from '../../lambdas/domain/circuit';

const T = (tag: string, value: string | undefined) => ({ tag, value });
const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));

describe('circuitSettings', () => {
  it('defaults: 30% in 600 s', () => {
    expect(circuitSettings(T('th', undefined), T('w', undefined))).toEqual({
      thresholdPercent: 30,
      windowSeconds: 600,
      invalid: [],
    });
  });
  it('reads N% or N, and whole seconds', () => {
    expect(circuitSettings(T('th', '50%'), T('w', '120'))).toMatchObject({
      thresholdPercent: 50,
      windowSeconds: 120,
    });
    expect(circuitSettings(T('th', ' 20 '), T('w', '86400'))).toMatchObject({
      thresholdPercent: 20,
      windowSeconds: 86400,
    });
  });
  it('an invalid value names the tag and the value, and the default applies', () => {
    const s = circuitSettings(
      T('phoenix:circuit-threshold', '0%'),
      T('phoenix:circuit-window-seconds', '10m'),
    );
    expect(s.thresholdPercent).toBe(30);
    expect(s.windowSeconds).toBe(600);
    expect(s.invalid.map((i) => [i.tag, i.value])).toEqual([
      ['phoenix:circuit-threshold', '0%'],
      ['phoenix:circuit-window-seconds', '10m'],
    ]);
    for (const bad of ['101%', 'x', '-5', '0.3']) {
      expect(circuitSettings(T('th', bad), T('w', undefined)).invalid).toHaveLength(1);
    }
    expect(circuitSettings(T('th', undefined), T('w', '0')).invalid).toHaveLength(1);
  });
});

describe('circuitLimit', () => {
  it('the threshold share, rounded down, at least one', () => {
    expect(circuitLimit(20, 30)).toBe(6);
    expect(circuitLimit(3, 30)).toBe(1);
    expect(circuitLimit(0, 30)).toBe(1);
    expect(circuitLimit(10, 100)).toBe(10);
  });
});

describe('addFlag and evaluateCircuit', () => {
  const flagAll = (n: number, start = 0, state?: CircuitState) => {
    let s = state;
    for (let i = 0; i < n; i++)
      s = addFlag(s, { instanceId: `i-${start + i}`, cause: 'health', at: at(i).toISOString() }, at(i), 600);
    return s!;
  };

  it('one flag per instance, flags outside the window dropped, bounded', () => {
    let s = addFlag(undefined, { instanceId: 'i-1', cause: 'health', at: at(0).toISOString() }, at(0), 600);
    s = addFlag(s, { instanceId: 'i-1', cause: 'health', at: at(5).toISOString() }, at(5), 600);
    // The newest flag of an instance stands (test/property/planners.test.ts, circuit breaker).
    expect(s.flags).toEqual([{ instanceId: 'i-1', cause: 'health', at: at(5).toISOString() }]);
    s = addFlag(s, { instanceId: 'i-2', cause: 'health', at: at(700).toISOString() }, at(700), 600);
    expect(s.flags.map((f) => f.instanceId)).toEqual(['i-2']);
    const many = flagAll(CIRCUIT_FLAG_LIMIT + 20);
    expect(many.flags).toHaveLength(CIRCUIT_FLAG_LIMIT);
    expect(many.flags.at(-1)?.instanceId).toBe(`i-${CIRCUIT_FLAG_LIMIT + 19}`);
  });

  it('opens when more than the limit are flagged in the window, once', () => {
    const six = flagAll(6);
    expect(evaluateCircuit(six, at(10), { windowSeconds: 600, limit: 6 })).toMatchObject({
      open: false,
      opened: false,
    });
    const seven = flagAll(1, 6, six);
    const d = evaluateCircuit(seven, at(10), { windowSeconds: 600, limit: 6 });
    expect(d).toMatchObject({ open: true, opened: true, closed: false });
    expect(d.evidence).toHaveLength(7);
    expect(d.state.openedAt).toBe(at(10).toISOString());
    const again = evaluateCircuit(d.state, at(20), { windowSeconds: 600, limit: 6 });
    expect(again).toMatchObject({ open: true, opened: false });
    expect(again.state.openedAt).toBe(at(10).toISOString());
  });

  it('stays open while a flag is in the window; closes (once) when the window cleared', () => {
    const open = evaluateCircuit(flagAll(3), at(3), { windowSeconds: 600, limit: 2 }).state;
    expect(evaluateCircuit(open, at(500), { windowSeconds: 600, limit: 2 })).toMatchObject({ open: true });
    const cleared = evaluateCircuit(open, at(700), { windowSeconds: 600, limit: 2 });
    expect(cleared).toMatchObject({ open: false, closed: true, state: { flags: [] } });
    expect(evaluateCircuit(cleared.state, at(701), { windowSeconds: 600, limit: 2 })).toMatchObject({
      open: false,
      closed: false,
    });
  });
});

describe('evaluateCircuit with a new flag', () => {
  const flag = (id: string, s: number) => ({ instanceId: id, cause: 'health', at: at(s).toISOString() });
  it('the flag that passes the limit opens it', () => {
    const state = { flags: [flag('i-1', 0)] };
    expect(evaluateCircuit(state, at(1), { windowSeconds: 60, limit: 1 }, flag('i-2', 1))).toMatchObject({
      open: true,
      opened: true,
    });
    expect(evaluateCircuit(state, at(1), { windowSeconds: 60, limit: 1 }, flag('i-1', 1))).toMatchObject({
      open: false,
    });
  });
  it('a flag after the window cleared does not keep it open: closed, and counted afresh', () => {
    const open = { flags: [flag('i-1', 0), flag('i-2', 0)], openedAt: at(0).toISOString() };
    const d = evaluateCircuit(open, at(61), { windowSeconds: 60, limit: 1 }, flag('i-3', 61));
    expect(d).toMatchObject({ open: false, closed: true, state: { flags: [flag('i-3', 61)] } });
    expect(d.state.openedAt).toBeUndefined();
  });
});
