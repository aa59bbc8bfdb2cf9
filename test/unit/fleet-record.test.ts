import { describe, expect, it } from 'vitest';
import { type FleetRecord, type HistoryEntry, rollbackCandidates } from '../../lambdas/domain/fleet-record';
import { maxConcurrentRollouts } from '../../lambdas/steps/record';

const entry = (imageId: string, outcome: HistoryEntry['outcome'], n: number): HistoryEntry => ({
  imageId,
  outcome,
  at: `2026-11-27T0${n}:00:00Z`,
  execution: `e${n}`,
});

describe('rollbackCandidates', () => {
  it('succeeded images other than the desired one, newest first, each once; then the previous image', () => {
    const record: FleetRecord = {
      fleet: 'web',
      desiredImage: 'ami-d',
      previousImage: 'ami-p',
      imageHistory: [
        entry('ami-a', 'succeeded', 1),
        entry('ami-b', 'succeeded', 2),
        entry('ami-x', 'rolled-back', 3),
        entry('ami-a', 'succeeded', 4),
        entry('ami-y', 'rejected', 5),
        entry('ami-d', 'succeeded', 6),
      ],
    };
    expect(rollbackCandidates(record)).toEqual(['ami-a', 'ami-b', 'ami-p']);
  });

  it('a fleet rolled out once: its image before (the record previous image)', () => {
    expect(
      rollbackCandidates({
        fleet: 'web',
        desiredImage: 'ami-b',
        previousImage: 'ami-a',
        imageHistory: [entry('ami-b', 'succeeded', 1)],
      }),
    ).toEqual(['ami-a']);
  });

  it('no record, or nothing but the desired image: none', () => {
    expect(rollbackCandidates(undefined)).toEqual([]);
    expect(
      rollbackCandidates({
        fleet: 'web',
        desiredImage: 'ami-b',
        imageHistory: [entry('ami-b', 'succeeded', 1)],
      }),
    ).toEqual([]);
  });
});

describe('maxConcurrentRollouts (rollout-record environment)', () => {
  it('defaults to 10; takes a positive integer; rejects anything else, naming the variable', () => {
    expect(maxConcurrentRollouts({})).toBe(20);
    expect(maxConcurrentRollouts({ PHOENIX_MAX_CONCURRENT_ROLLOUTS: '2' })).toBe(2);
    for (const bad of ['0', '-1', 'ten', '1.5']) {
      expect(() => maxConcurrentRollouts({ PHOENIX_MAX_CONCURRENT_ROLLOUTS: bad })).toThrow(
        /PHOENIX_MAX_CONCURRENT_ROLLOUTS must be a positive integer/,
      );
    }
  });
});

describe('inChain (phoenix rollback --wait follows continuations)', () => {
  it('the execution itself and its -c<n> continuations, nothing else', async () => {
    const { inChain } = await import('../../cli/rollback');
    const name = 'web--ami-0123456789abcdef0--0123456789abcdef';
    expect(inChain(name, name)).toBe(true);
    expect(inChain(`${name}-c2`, name)).toBe(true);
    expect(inChain(`${name.slice(0, 77)}-c2`, name)).toBe(true);
    expect(inChain('web--ami-0123456789abcdef0--ffffffffffffffff-c2', name)).toBe(false);
    expect(inChain('other', name)).toBe(false);
  });
});
