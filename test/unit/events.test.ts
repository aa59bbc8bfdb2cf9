import { describe, expect, it } from 'vitest';
import {
  formatOutcome,
  isQuietOutcome,
  type OutcomeLogReader,
  outcomeJson,
  outcomeKind,
  outcomeLogGroup,
  parseOutcome,
  parseSince,
  runEvents,
  useColour,
  type OutcomeRecord,
} from '../../cli/events';
import { DetailTypes } from '../../lambdas/domain/contract';
import { ConfigurationError } from '../../lambdas/domain/errors';

const NOW = Date.parse('2026-12-01T12:00:00.000Z');

describe('phoenix events --since', () => {
  it('reads durations before now: seconds, minutes, hours, days and their sums', () => {
    expect(parseSince('90s', NOW)).toBe(NOW - 90_000);
    expect(parseSince('10m', NOW)).toBe(NOW - 600_000);
    expect(parseSince('2h', NOW)).toBe(NOW - 7_200_000);
    expect(parseSince('1d', NOW)).toBe(NOW - 86_400_000);
    expect(parseSince('1h30m', NOW)).toBe(NOW - 5_400_000);
  });

  it('reads ISO 8601 times', () => {
    expect(parseSince('2026-12-01T10:00:00Z', NOW)).toBe(Date.parse('2026-12-01T10:00:00Z'));
    expect(parseSince('2026-12-01T10:00:00.250+01:00', NOW)).toBe(Date.parse('2026-12-01T09:00:00.250Z'));
  });

  it.each(['', 'yesterday', '10', '10 minutes', '-5m', '2026-13-45T99:00:00Z', '5w'])(
    'rejects %j with a ConfigurationError quoting it',
    (value) => {
      expect(() => parseSince(value, NOW)).toThrow(ConfigurationError);
      expect(() => parseSince(value, NOW)).toThrow(JSON.stringify(value));
    },
  );
});

const record = (type: string, detail: Record<string, unknown>): OutcomeRecord => ({
  id: 'e-1',
  time: '2026-12-01T11:59:00Z',
  type,
  ...(typeof detail['fleet'] === 'string' ? { fleet: detail['fleet'] } : {}),
  detail,
});

describe('the outcome line', () => {
  it('gives time, fleet, type, image and reason, without colour', () => {
    const line = formatOutcome(
      record('RolloutRejected', { fleet: 'web', imageId: 'ami-0b', reason: 'image owner 99 not allowed' }),
    );
    expect(line).toBe(
      '2026-12-01T11:59:00Z  web           RolloutRejected         ami-0b  — image owner 99 not allowed',
    );
    expect(line).not.toContain('\u001b[');
  });

  it('names the instance (or instances) when the outcome is about instances, and - when about neither', () => {
    expect(formatOutcome(record('InstanceReplaced', { fleet: 'web', instanceId: 'i-1' }))).toContain('  i-1');
    expect(
      formatOutcome(record('ReplacementSkipped', { instanceIds: ['i-1', 'i-2'], reason: 'not managed' })),
    ).toMatch(/^\S+ {2}- +ReplacementSkipped +i-1,i-2 {2}— not managed$/);
    expect(formatOutcome(record('ReconcileCompleted', {}))).toMatch(/ReconcileCompleted +-$/);
  });

  it('colours by kind: succeeded green, handled yellow, failed red', () => {
    const coloured = (type: string) => formatOutcome(record(type, { fleet: 'web' }), { colour: true });
    expect(coloured('RolloutSucceeded')).toContain('\u001b[32mRolloutSucceeded');
    for (const type of [
      'RolloutRejected',
      'RolloutRolledBack',
      'ReplacementSkipped',
      'ReplacementDeferred',
    ]) {
      expect(coloured(type)).toContain(`\u001b[33m${type}`);
    }
    expect(coloured('RolloutFailed')).toContain('\u001b[31mRolloutFailed');
    expect(coloured('RolloutStarted')).not.toContain('\u001b[');
  });

  it('classifies every detail-type Phoenix emits, the ones that need a human as failed', () => {
    const failed = Object.keys(DetailTypes).filter((t) => outcomeKind(t) === 'failed');
    expect(failed.sort()).toEqual(
      ['DesiredImageMissing', 'DrainFailed', 'FleetCircuitOpen', 'ReplacementFailed', 'RolloutFailed'].sort(),
    );
    expect(outcomeKind('InstanceReplaced')).toBe('succeeded');
    expect(outcomeKind('RolloutSuperseded')).toBe('handled');
  });

  it('respects NO_COLOR and a stream that is not a terminal', () => {
    expect(useColour({ isTTY: true }, {})).toBe(true);
    expect(useColour({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(useColour({ isTTY: true }, { NO_COLOR: '' })).toBe(true);
    expect(useColour({ isTTY: false }, {})).toBe(false);
    expect(useColour({}, {})).toBe(false);
  });

  it('--json: one object per line with the whole detail', () => {
    const r = record('RolloutSucceeded', { fleet: 'web', imageId: 'ami-0b' });
    const line = outcomeJson(r);
    expect(line).not.toContain('\n');
    expect(JSON.parse(line)).toEqual(r);
  });
});

describe('reading an archived log event', () => {
  it('takes the EventBridge event as the archive stores it', () => {
    const message = JSON.stringify({
      version: '0',
      id: 'abc',
      'detail-type': 'RolloutSucceeded',
      source: 'phoenix',
      time: '2026-12-01T11:00:00Z',
      detail: { fleet: 'web', imageId: 'ami-0b' },
    });
    expect(parseOutcome(message, 1)).toEqual({
      id: 'abc',
      time: '2026-12-01T11:00:00Z',
      type: 'RolloutSucceeded',
      fleet: 'web',
      detail: { fleet: 'web', imageId: 'ami-0b' },
    });
  });

  it('skips a message that is not an event', () => {
    expect(parseOutcome('not json')).toBeUndefined();
    expect(parseOutcome('"a string"')).toBeUndefined();
    expect(parseOutcome(JSON.stringify({ detail: {} }))).toBeUndefined();
  });
});

describe('the outcome log group', () => {
  it('comes from --log-group, then $PHOENIX_OUTCOME_LOG_GROUP', () => {
    expect(outcomeLogGroup({ logGroup: '/a' }, { PHOENIX_OUTCOME_LOG_GROUP: '/b' })).toBe('/a');
    expect(outcomeLogGroup({}, { PHOENIX_OUTCOME_LOG_GROUP: '/b' })).toBe('/b');
  });

  it('fails with a ConfigurationError that says what to pass', () => {
    expect(() => outcomeLogGroup({}, {})).toThrow(ConfigurationError);
    expect(() => outcomeLogGroup({}, {})).toThrow(/--log-group <name> or set PHOENIX_OUTCOME_LOG_GROUP/);
  });
});

describe('quiet sweeps', () => {
  const sweep = (detail: Record<string, unknown>) =>
    record(DetailTypes.ReconcileCompleted, { fleets: 2, instances: 4, apiCalls: 5, ...detail });

  it('a sweep that found nothing, started nothing and reclaimed nothing is quiet; any other outcome is not', () => {
    expect(isQuietOutcome(sweep({ differences: 0, started: 0, reclaimedSlots: 0 }))).toBe(true);
    expect(isQuietOutcome(sweep({ differences: 1, started: 0, reclaimedSlots: 0 }))).toBe(false);
    expect(isQuietOutcome(sweep({ differences: 0, started: 1, reclaimedSlots: 0 }))).toBe(false);
    expect(isQuietOutcome(sweep({ differences: 0, started: 0, reclaimedSlots: 1 }))).toBe(false);
    expect(isQuietOutcome(record(DetailTypes.RolloutSucceeded, { differences: 0, started: 0 }))).toBe(false);
  });

  it('phoenix events leaves them out unless --all', async () => {
    const message = (id: string, type: string, detail: Record<string, unknown>) =>
      JSON.stringify({ id, 'detail-type': type, source: 'phoenix', time: '2026-12-01T10:00:00Z', detail });
    const reader: OutcomeLogReader = {
      filterLogEvents: () =>
        Promise.resolve({
          events: [
            {
              message: message('a', DetailTypes.ReconcileCompleted, {
                differences: 0,
                started: 0,
                reclaimedSlots: 0,
              }),
              timestamp: 1,
            },
            {
              message: message('b', DetailTypes.RolloutSucceeded, { fleet: 'web', imageId: 'ami-1' }),
              timestamp: 2,
            },
          ],
        }),
    };
    const read = async (all: boolean) => {
      const lines: string[] = [];
      await runEvents(reader, { logGroup: 'g', json: true, all }, (l) => lines.push(l));
      return lines.map((l) => (JSON.parse(l) as { type: string }).type);
    };
    expect(await read(false)).toEqual([DetailTypes.RolloutSucceeded]);
    expect(await read(true)).toEqual([DetailTypes.ReconcileCompleted, DetailTypes.RolloutSucceeded]);
  });
});
