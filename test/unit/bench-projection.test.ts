import { describe, expect, it } from 'vitest';
import { projectedSeconds, projectSchedule, type RolloutSpan } from '../../bench/projection';

// Real epoch milliseconds, time scale 0.1: a 30 s Wait takes 3,000 ms of real time.
const SCALE = 0.1;

/** A rollout that locks at `lock`, waits `waits` × 30 s back to back after `stepMs` of steps each. */
function rollout(start: number, lock: number, waits: number, stepMs: number): RolloutSpan {
  const spans = [];
  let t = lock;
  for (let i = 0; i < waits; i++) {
    t += stepMs;
    spans.push({ entered: t, exited: t + 3000, seconds: 30 });
    t += 3000;
  }
  t += stepMs;
  return { start, lock, release: t - stepMs / 2, end: t, waits: spans };
}

describe('projectedSeconds', () => {
  it('puts a Wait back at full length and keeps the time outside it', () => {
    const waits = [{ entered: 1_000, exited: 4_000, seconds: 30 }];
    // 1 s of steps, the 30 s wait (3 s real), 1 s of steps.
    expect(projectedSeconds(waits, 0, 5_000, SCALE)).toBeCloseTo(32, 6);
  });

  it("keeps a timer's lateness as real time", () => {
    // The wait fired 500 ms late: 3.5 s real for a 30 s wait.
    const waits = [{ entered: 0, exited: 3_500, seconds: 30 }];
    expect(projectedSeconds(waits, 0, 3_500, SCALE)).toBeCloseTo(30.5, 6);
  });

  it('counts the part of a wait inside the interval only', () => {
    const waits = [{ entered: 0, exited: 3_000, seconds: 30 }];
    expect(projectedSeconds(waits, 1_500, 3_000, SCALE)).toBeCloseTo(15, 6);
    expect(projectedSeconds(waits, 3_000, 4_000, SCALE)).toBeCloseTo(1, 6);
  });
});

describe('projectSchedule', () => {
  it('replays the run on k slots: a queued rollout starts when the earliest slot is given back', () => {
    // k = 1, two rollouts of one 30 s wait and 1 s of steps before and after it; the second locks
    // 200 ms after the first gave its slot back.
    const first = rollout(0, 100, 1, 1_000);
    const second = rollout(0, first.release + 200, 1, 1_000);
    const projected = projectSchedule([second, first], 1, 0, SCALE);
    const length = 1 + 30 + 1;
    const hold = length - 0.5;
    // first: locks at 0.1 s; second: at first's projected release + the 0.2 s hand-off.
    expect(projected.wallSeconds).toBeCloseTo(0.1 + hold + 0.2 + length, 6);
    expect(projected.meanRolloutSeconds).toBeCloseTo(length, 6);
    expect(projected.meanHandOffSeconds).toBeCloseTo(0.2, 6);
  });

  it('runs k rollouts side by side', () => {
    const rollouts = [rollout(0, 50, 2, 500), rollout(0, 60, 2, 500), rollout(0, 70, 2, 500)];
    const projected = projectSchedule(rollouts, 3, 0, SCALE);
    expect(projected.wallSeconds).toBeCloseTo(0.07 + 3 * 0.5 + 60, 6);
    expect(projected.meanHandOffSeconds).toBe(0);
  });

  it('refuses k below 1', () => {
    expect(() => projectSchedule([], 0, 0, SCALE)).toThrow(RangeError);
  });
});
