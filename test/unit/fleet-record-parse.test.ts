/** Fleet records are parsed when read (domain/fleet-record.ts), not cast. */
import { describe, expect, it } from 'vitest';
import {
  MalformedRecordError,
  parseFleetPause,
  parseFleetRecord,
  parseRolloutSlotQueue,
  parseRolloutSlots,
} from '../../lambdas/domain/fleet-record';

describe('parseFleetRecord', () => {
  it('reads every part of a record as written, leaving out other aggregates and NULLs', () => {
    const stored = {
      fleet: 'web',
      channel: 'web',
      desiredImage: 'ami-b',
      imageHistory: [{ imageId: 'ami-b', outcome: 'succeeded', at: 't', execution: 'e1' }],
      activeRollout: { execution: 'e2', imageId: 'ami-c', startedAt: 't', expiresAt: 42 },
      replacements: { 'i-1': { execution: 'r1', since: 't' } },
      replacementsInFlight: 1,
      paused: null,
      circuit: { flags: [{ instanceId: 'i-1', cause: 'health', at: 't' }], openedAt: 't' },
      circuitVersion: 3,
    };
    expect(parseFleetRecord(stored, 'web')).toStrictEqual({
      fleet: 'web',
      channel: 'web',
      desiredImage: 'ami-b',
      imageHistory: [{ imageId: 'ami-b', outcome: 'succeeded', at: 't', execution: 'e1' }],
      activeRollout: { execution: 'e2', imageId: 'ami-c', startedAt: 't', expiresAt: 42 },
      replacements: { 'i-1': { execution: 'r1', since: 't' } },
      replacementsInFlight: 1,
      circuit: { flags: [{ instanceId: 'i-1', cause: 'health', at: 't' }], openedAt: 't' },
    });
  });

  it('takes the fleet from the key when the record has no fleet field', () => {
    expect(parseFleetRecord({ replacementsInFlight: 0 }, 'api')).toStrictEqual({
      fleet: 'api',
      replacementsInFlight: 0,
    });
  });

  it('rejects a malformed record with MalformedRecordError naming the field and the value', () => {
    const bad = () =>
      parseFleetRecord(
        { activeRollout: { execution: 'e', imageId: 'i', startedAt: 't', expiresAt: '9' } },
        'web',
      );
    expect(bad).toThrow(MalformedRecordError);
    expect(bad).toThrow('fleet record web.activeRollout.expiresAt is not a number: got "9"');
    expect(() =>
      parseFleetRecord({ imageHistory: [{ imageId: 'a', at: 't', execution: 'e', outcome: 'won' }] }, 'w'),
    ).toThrow(/fleet record w\.imageHistory\[0\]\.outcome is not one of succeeded, .*: got "won"/);
    expect(() => parseFleetRecord('text', 'w')).toThrow(/fleet record w is not a map/);
    expect(() => parseFleetPause('paused', { at: 't' })).toThrow('paused.reason is missing');
  });
});

describe('parseRolloutSlots', () => {
  it('reads the ROLLOUTS item, absent as no slot', () => {
    expect(parseRolloutSlots(undefined)).toEqual({ slots: {}, inFlight: 0 });
    expect(parseRolloutSlots({ slots: { e1: 100 }, inFlight: 1 })).toEqual({
      slots: { e1: 100 },
      inFlight: 1,
    });
  });

  it('rejects a slot whose expiry is not a number', () => {
    expect(() => parseRolloutSlots({ slots: { e1: 'soon' }, inFlight: 1 })).toThrow(MalformedRecordError);
  });
});

describe('parseRolloutSlotQueue', () => {
  it('reads the queue of the ROLLOUTS item (waiters, unclaimed grants, the limit), absent as empty', () => {
    expect(parseRolloutSlotQueue(undefined)).toEqual({ waiters: {}, granted: {} });
    const waiter = { token: 't-1', since: '2026-12-02T06:00:00.000Z', expiresAt: 100 };
    expect(
      parseRolloutSlotQueue({
        slots: {},
        inFlight: 1,
        waiters: { e2: waiter },
        granted: { e1: 't-0' },
        slotLimit: 1,
      }),
    ).toEqual({ waiters: { e2: waiter }, granted: { e1: 't-0' }, limit: 1 });
  });

  it('rejects a waiter without its token', () => {
    expect(() =>
      parseRolloutSlotQueue({ waiters: { e2: { since: '2026-12-02T06:00:00.000Z', expiresAt: 100 } } }),
    ).toThrow(/waiters\.e2\.token is missing/);
  });
});
