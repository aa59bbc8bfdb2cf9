/**
 * The pure rules behind the rollout's deadline, its continuations (continue-as-new) and the
 * ordering of images (supersede, late images).
 */
import { describe, expect, it } from 'vitest';
import { RolloutTimedOutError } from '../../lambdas/domain/errors';
import {
  checkDeadline,
  continuationName,
  type HistoryBudget,
  isNewerImage,
  processesToSuspend,
  rolloutDeadline,
  type SafePoint,
  segmentHistory,
} from '../../lambdas/domain/rollout';

describe('the rollout deadline', () => {
  const start = new Date('2026-11-27T00:00:00Z');
  const deadline = rolloutDeadline(start, 7200);

  it('is the start plus the timeout, in epoch seconds', () => {
    expect(deadline).toBe(start.getTime() / 1000 + 7200);
  });

  it('passes until the deadline, then throws RolloutTimedOutError naming the step', () => {
    expect(() => checkDeadline(deadline, new Date((deadline - 1) * 1000), 'CheckBatchHealth')).not.toThrow();
    expect(() => checkDeadline(deadline, new Date(deadline * 1000), 'CheckBatchHealth')).not.toThrow();
    const late = () => checkDeadline(deadline, new Date((deadline + 1) * 1000), 'CheckBatchHealth');
    expect(late).toThrow(RolloutTimedOutError);
    expect(late).toThrow(
      'the rollout timed out in CheckBatchHealth: its deadline 2026-11-27T02:00:00.000Z has passed',
    );
  });

  it('throws when a wait about to start would end after it', () => {
    const now = new Date((deadline - 100) * 1000);
    expect(() =>
      checkDeadline(deadline, now, 'CheckSafePoint', { seconds: 100, what: 'bake' }),
    ).not.toThrow();
    expect(() => checkDeadline(deadline, now, 'CheckSafePoint', { seconds: 101, what: 'bake' })).toThrow(
      'the rollout timed out in CheckSafePoint: the bake (101 s) would end after its deadline',
    );
  });

  it('checks nothing without a deadline', () => {
    expect(() => checkDeadline(undefined, new Date(8e15), 'X')).not.toThrow();
  });
});

describe('continuations', () => {
  it('are named <first execution>-c<n>, deterministically, within 80 characters', () => {
    expect(continuationName('web--ami-0abc--0123456789abcdef', 2)).toBe('web--ami-0abc--0123456789abcdef-c2');
    expect(continuationName('web--ami-0abc--0123456789abcdef-c2', 3)).toBe(
      'web--ami-0abc--0123456789abcdef-c3',
    );
    const long = 'x'.repeat(80);
    const second = continuationName(long, 2);
    expect(second).toHaveLength(80);
    expect(second.endsWith('-c2')).toBe(true);
    expect(continuationName(second, 3)).toBe(`${'x'.repeat(77)}-c3`);
    expect(continuationName(continuationName(second, 3), 12)).toBe(`${'x'.repeat(76)}-c12`);
  });

  const budget: HistoryBudget = {
    budget: 2000,
    firstStart: 458,
    continuationStart: 9,
    perBatch: 28,
    perCheck: 9,
    maxChecks: 40,
    worstEnd: 384,
  };

  it('hand over only when one more batch at its worst and the worst end might not fit', () => {
    // First execution: 458 + quick batches of 37 events; the worst batch (388) and end (384) need 772.
    let previous: SafePoint | undefined;
    const decisions: boolean[] = [];
    for (let batch = 0; batch < 25; batch++) {
      const next = segmentHistory(budget, 'e', previous, 1);
      decisions.push(next.continueNow);
      previous = { ...next, continuation: { name: 'e-c2', from: 'e', number: 2 } };
      if (next.continueNow) break;
    }
    // 458 + 20 × 37 = 1198 (+772 = 1970: one more); 1235 + 772 > 2000: hand over after 21.
    expect(decisions.indexOf(true)).toBe(20);
    expect(previous!.segment).toEqual({ execution: 'e', events: 458 + 21 * 37 });
    // A continuation counts from its own start.
    expect(segmentHistory(budget, 'e-c2', previous, 1).segment).toEqual({
      execution: 'e-c2',
      events: 9 + 37,
    });
  });
});

describe('image order and suspended processes', () => {
  it('orders images by CreationDate; unknown dates are not newer', () => {
    expect(isNewerImage('2026-11-20T00:00:01.000Z', '2026-11-20T00:00:00.000Z')).toBe(true);
    expect(isNewerImage('2026-11-20T00:00:00.000Z', '2026-11-20T00:00:00.000Z')).toBe(false);
    expect(isNewerImage('2026-11-19T00:00:00.000Z', '2026-11-20T00:00:00.000Z')).toBe(false);
    expect(isNewerImage(undefined, '2026-11-20T00:00:00.000Z')).toBe(false);
    expect(isNewerImage('2026-11-20T00:00:00.000Z', 'garbage')).toBe(false);
  });

  it('suspends only the processes the group has not suspended already', () => {
    expect(processesToSuspend([])).toEqual(['AZRebalance', 'AlarmNotification', 'ScheduledActions']);
    expect(processesToSuspend(['ScheduledActions', 'Launch'])).toEqual(['AZRebalance', 'AlarmNotification']);
  });
});
