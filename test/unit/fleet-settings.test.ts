import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_SURGE,
  InvalidFleetSettingError,
  minHealthyCount,
  parseFleetSettings,
  SettingTags,
  surgeSize,
} from '../../lambdas/domain/fleet-settings';

describe('parseFleetSettings', () => {
  it('takes the defaults when no tag is set (or a tag is empty)', () => {
    const defaults = {
      maxSurge: { kind: 'percent', value: 25 },
      minHealthyPercent: 100,
      warmupSeconds: 0,
      bakeSeconds: 0,
      alarms: [],
      strategy: 'rolling',
      canary: false,
    };
    expect(parseFleetSettings({})).toEqual(defaults);
    expect(parseFleetSettings({ [SettingTags.maxSurge]: ' ', [SettingTags.alarms]: '' })).toEqual(defaults);
    expect(DEFAULT_MAX_SURGE).toEqual({ kind: 'percent', value: 25 });
  });

  it('reads every tag', () => {
    expect(
      parseFleetSettings({
        'phoenix:max-surge': '2',
        'phoenix:min-healthy-percent': '90',
        'phoenix:warmup-seconds': '120',
        'phoenix:bake-seconds': '600',
        'phoenix:alarms': 'web-5xx, web-latency ,web-5xx',
        'phoenix:strategy': 'blue-green',
        'phoenix:canary': 'true',
        'phoenix:fleet': 'web',
      }),
    ).toEqual({
      maxSurge: { kind: 'count', value: 2 },
      minHealthyPercent: 90,
      warmupSeconds: 120,
      bakeSeconds: 600,
      alarms: ['web-5xx', 'web-latency'],
      strategy: 'blue-green',
      canary: true,
    });
    expect(parseFleetSettings({ 'phoenix:strategy': 'rolling', 'phoenix:canary': 'false' })).toMatchObject({
      strategy: 'rolling',
      canary: false,
    });
    expect(parseFleetSettings({ 'phoenix:max-surge': '50%' }).maxSurge).toEqual({
      kind: 'percent',
      value: 50,
    });
    expect(parseFleetSettings({ 'phoenix:max-surge': '100%' }).maxSurge).toEqual({
      kind: 'percent',
      value: 100,
    });
    expect(parseFleetSettings({ 'phoenix:min-healthy-percent': '0' }).minHealthyPercent).toBe(0);
    expect(parseFleetSettings({ 'phoenix:bake-seconds': '3600' }).bakeSeconds).toBe(3600);
  });

  const invalid: [string, string][] = [
    ['phoenix:max-surge', 'lots'],
    ['phoenix:max-surge', '0'],
    ['phoenix:max-surge', '-1'],
    ['phoenix:max-surge', '1.5'],
    ['phoenix:max-surge', '0%'],
    ['phoenix:max-surge', '101%'],
    ['phoenix:max-surge', '%'],
    ['phoenix:max-surge', '25 %'],
    ['phoenix:max-surge', '2e1'],
    ['phoenix:min-healthy-percent', '101'],
    ['phoenix:min-healthy-percent', '50%'],
    ['phoenix:min-healthy-percent', 'most'],
    ['phoenix:warmup-seconds', '-5'],
    ['phoenix:warmup-seconds', '1m'],
    ['phoenix:warmup-seconds', '3601'],
    ['phoenix:bake-seconds', '0.5'],
    ['phoenix:bake-seconds', 'forever'],
    ['phoenix:alarms', 'a,,b'],
    ['phoenix:alarms', 'x'.repeat(256)],
    ['phoenix:alarms', 'web\u0007bell'],
    ['phoenix:alarms', Array.from({ length: 101 }, (_, i) => `a${i}`).join(',')],
    ['phoenix:strategy', 'canary'],
    ['phoenix:strategy', 'Blue-Green'],
    ['phoenix:strategy', 'blue/green'],
    ['phoenix:canary', 'yes'],
    ['phoenix:canary', 'TRUE'],
    ['phoenix:canary', '1'],
  ];
  it.each(invalid)('rejects %s=%s, naming the tag and the value', (tag, value) => {
    let caught: unknown;
    try {
      parseFleetSettings({ [tag]: value });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidFleetSettingError);
    const error = caught as InvalidFleetSettingError;
    expect(error.name).toBe('InvalidFleetSettingError');
    expect(error.tag).toBe(tag);
    expect(error.value).toBe(value);
    expect(error.message).toContain(tag);
    expect(error.message).toContain(JSON.stringify(value));
  });
});

describe('surgeSize', () => {
  it('is a percentage of desired capacity rounded up, or a count, at least 1 and at most the fleet', () => {
    expect(surgeSize({ kind: 'percent', value: 25 }, 4)).toBe(1);
    expect(surgeSize({ kind: 'percent', value: 25 }, 5)).toBe(2);
    expect(surgeSize({ kind: 'percent', value: 100 }, 6)).toBe(6);
    expect(surgeSize({ kind: 'percent', value: 1 }, 3)).toBe(1);
    expect(surgeSize({ kind: 'count', value: 2 }, 4)).toBe(2);
    expect(surgeSize({ kind: 'count', value: 10 }, 4)).toBe(4);
    expect(surgeSize({ kind: 'count', value: 3 }, 0)).toBe(1);
    expect(surgeSize({ kind: 'percent', value: 25 }, 0)).toBe(1);
  });
});

describe('minHealthyCount', () => {
  it('is the percentage of desired capacity, rounded up', () => {
    expect(minHealthyCount(100, 4)).toBe(4);
    expect(minHealthyCount(75, 5)).toBe(4);
    expect(minHealthyCount(0, 5)).toBe(0);
    expect(minHealthyCount(50, 0)).toBe(0);
  });
});
