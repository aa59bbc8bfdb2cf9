/**
 * The fault injector's pure parts: per-site seeded streams (reproducible, independent of other
 * sites), rates that hold, the configuration's validation, `--faults <rate>`'s expansion, and the
 * error answers each service's SDK client parses.
 */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_FAULT_SEED,
  FaultConfigError,
  faultsFromRate,
  parseRate,
  parseSeed,
  validateFaultConfig,
} from '../../local/faults/config';
import { errorAnswer, signingService } from '../../local/faults/errors';
import { FaultInjector } from '../../local/faults/injector';
import { siteRandom } from '../../local/faults/random';

const SEED = 4242;
console.log(`faults-injector: seed ${SEED}`);

const draws = (seed: number, site: string, n: number) => {
  const random = siteRandom(seed, site);
  return Array.from({ length: n }, () => random());
};

describe('seeded streams', () => {
  it('are the same for the same seed and site, and differ across seeds and sites', () => {
    expect(draws(SEED, 'api:ec2', 50)).toEqual(draws(SEED, 'api:ec2', 50));
    expect(draws(SEED, 'api:ec2', 50)).not.toEqual(draws(SEED + 1, 'api:ec2', 50));
    expect(draws(SEED, 'api:ec2', 50)).not.toEqual(draws(SEED, 'api:dynamodb', 50));
    for (const x of draws(SEED, 'x', 1000)) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
  });

  it("a site's decisions do not shift when another site is used in between", () => {
    const alone = new FaultInjector({ seed: SEED, api: 0.3 }, { timeScale: 0.02 });
    const mixed = new FaultInjector({ seed: SEED, api: 0.3, lambda: 0.5 }, { timeScale: 0.02 });
    const a: unknown[] = [];
    const b: unknown[] = [];
    for (let i = 0; i < 200; i++) {
      a.push(alone.apiFault('ec2'));
      mixed.lambdaFault('rollout-fleet');
      mixed.apiFault('dynamodb');
      b.push(mixed.apiFault('ec2'));
    }
    expect(b).toEqual(a);
  });
});

describe('rates', () => {
  it.each([0, 0.05, 0.1, 0.5, 1])(
    'api faults happen at rate %s (±3σ over 4000 calls), every kind drawn',
    (rate) => {
      const injector = new FaultInjector({ seed: SEED, api: rate }, { timeScale: 0.02 });
      const n = 4000;
      let hits = 0;
      for (let i = 0; i < n; i++) if (injector.apiFault('ec2') !== undefined) hits++;
      const sigma = Math.sqrt(n * rate * (1 - rate));
      expect(Math.abs(hits - n * rate)).toBeLessThanOrEqual(3 * sigma + 1e-9);
      expect(injector.total).toBe(hits);
      if (rate >= 0.1) {
        expect(Object.keys(injector.injected['api:ec2']!).sort()).toEqual(
          ['latency', 'reset', 'reset-after', 'server-error', 'throttle', 'timeout'].sort(),
        );
      }
    },
  );

  it('lambda and event faults happen at their rates; a lost event is neither duplicated nor delayed', () => {
    const injector = new FaultInjector(
      { seed: SEED, lambda: 0.1, eventLoss: 0.01, eventDuplicate: 0.1, eventDelay: 0.2 },
      { timeScale: 0.02 },
    );
    const n = 20_000;
    let lambda = 0;
    let lost = 0;
    let duplicated = 0;
    let delayed = 0;
    for (let i = 0; i < n; i++) {
      if (injector.lambdaFault('replace') !== undefined) lambda++;
      const event = injector.eventFault('IntakeRule');
      if (event.lose) {
        lost++;
        expect(event.duplicate || event.delayMs > 0).toBe(false);
      }
      if (event.duplicate) duplicated++;
      if (event.delayMs > 0) {
        delayed++;
        expect(event.delayMs).toBeLessThan(60_000 * 0.02);
      }
    }
    const near = (count: number, rate: number) =>
      expect(Math.abs(count - n * rate)).toBeLessThanOrEqual(3 * Math.sqrt(n * rate * (1 - rate)) + 1);
    near(lambda, 0.1);
    near(lost, 0.01);
    near(duplicated, 0.1 * 0.99);
    near(delayed, 0.2 * 0.99);
    expect(Object.keys(injector.injected['lambda:replace']!).sort()).toEqual([
      'crash-after',
      'crash-before',
      'timeout',
    ]);
    expect(injector.injected['events:IntakeRule']).toEqual({
      loss: lost,
      duplicate: duplicated,
      delay: delayed,
    });
  });

  it('draws only the kinds asked for', () => {
    const injector = new FaultInjector(
      { seed: SEED, api: 1, lambda: 1, kinds: { api: ['reset-after'], lambda: ['timeout'] } },
      { timeScale: 0.02 },
    );
    for (let i = 0; i < 50; i++) {
      expect(injector.apiFault('sqs')?.kind).toBe('reset-after');
      expect(injector.lambdaFault('intake')).toBe('timeout');
    }
  });
});

describe('configuration', () => {
  it('refuses a rate outside [0, 1], a seed that is not an integer, an unknown kind', () => {
    expect(() => validateFaultConfig({ seed: 1.5 })).toThrow(FaultConfigError);
    expect(() => validateFaultConfig({ seed: 1, api: 1.1 })).toThrow(/faults\.api must be a probability/);
    expect(() => validateFaultConfig({ seed: 1, eventLoss: -0.1 })).toThrow(FaultConfigError);
    expect(() => validateFaultConfig({ seed: 1, lambda: Number.NaN })).toThrow(FaultConfigError);
    expect(() => validateFaultConfig({ seed: 1, kinds: { api: ['meteor' as 'reset'] } })).toThrow(
      /unknown kind "meteor"/,
    );
    expect(() => new FaultInjector({ seed: 1, api: 2 }, { timeScale: 1 })).toThrow(FaultConfigError);
    expect(validateFaultConfig({ seed: 7, api: 0, lambda: 1 })).toEqual({ seed: 7, api: 0, lambda: 1 });
  });

  it('parses command-line rates and seeds', () => {
    expect(parseRate('0.1', '--faults')).toBe(0.1);
    expect(() => parseRate('', '--faults')).toThrow(FaultConfigError);
    expect(() => parseRate('10%', '--faults')).toThrow(/--faults must be a probability/);
    expect(parseSeed('-12')).toBe(-12);
    expect(() => parseSeed('1.5')).toThrow(/--seed must be an integer/);
    expect(() => parseSeed('abc')).toThrow(FaultConfigError);
  });

  it('--faults <rate> sets API, Lambda, duplicates and delays at the rate, loss at rate ÷ 10', () => {
    expect(faultsFromRate({})).toBeUndefined();
    expect(faultsFromRate({ rate: 0.2 })).toEqual({
      seed: DEFAULT_FAULT_SEED,
      api: 0.2,
      lambda: 0.2,
      eventDuplicate: 0.2,
      eventDelay: 0.2,
      eventLoss: 0.02,
    });
    expect(faultsFromRate({ rate: 0.2, eventLoss: 0.5, seed: 9 })).toMatchObject({ seed: 9, eventLoss: 0.5 });
  });
});

describe('error answers', () => {
  it('names each service its own throttling and 5xx errors, with their statuses', () => {
    const table = (kind: 'throttle' | 'server-error') =>
      Object.fromEntries(
        [
          'ec2',
          'autoscaling',
          'elasticloadbalancing',
          'monitoring',
          'dynamodb',
          'events',
          'ssm',
          'sqs',
          'states',
        ].map((service) => {
          const answer = errorAnswer(service, kind, 'req-1');
          return [service, `${answer.name} ${answer.status}`];
        }),
      );
    expect(table('throttle')).toEqual({
      ec2: 'RequestLimitExceeded 503',
      autoscaling: 'Throttling 400',
      elasticloadbalancing: 'Throttling 400',
      monitoring: 'Throttling 400',
      dynamodb: 'ProvisionedThroughputExceededException 400',
      events: 'ThrottlingException 400',
      ssm: 'ThrottlingException 400',
      sqs: 'ThrottlingException 400',
      states: 'ThrottlingException 400',
    });
    expect(table('server-error')).toEqual({
      ec2: 'InternalError 500',
      autoscaling: 'InternalFailure 500',
      elasticloadbalancing: 'InternalFailure 500',
      monitoring: 'InternalFailure 500',
      dynamodb: 'InternalServerError 500',
      events: 'InternalException 500',
      ssm: 'InternalServerError 500',
      sqs: 'InternalFailure 500',
      states: 'ServiceUnavailable 503',
    });
  });

  it('reads the service from the SigV4 credential scope', () => {
    expect(
      signingService(
        'AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/autoscaling/aws4_request, SignedHeaders=host, Signature=ab',
      ),
    ).toBe('autoscaling');
    expect(signingService(undefined)).toBe('');
  });
});
