/**
 * The metrics Phoenix emits (lambdas/aws/metrics.ts): the EMF documents written to stdout, read
 * back and checked for namespace, dimensions and value. A throttled call goes through the real
 * `aws()` wrapper (a throttling error is a path the emulator cannot produce: a thrown SDK error).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DetailTypes } from '../../lambdas/domain/contract';
import { TransientAwsError } from '../../lambdas/domain/errors';
import { aws } from '../../lambdas/aws/errors';
import { recordOutcome } from '../../lambdas/aws/metrics';
import { PhoenixMetrics } from '../../lambdas/domain/metric-names';

interface Emf {
  _aws: {
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
  [key: string]: unknown;
}

const saved = { ...process.env };
let written: string[] = [];

beforeEach(() => {
  written = [];
  process.env.AWS_LAMBDA_FUNCTION_NAME = 'phoenix-replace';
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  for (const key of ['AWS_LAMBDA_FUNCTION_NAME', 'POWERTOOLS_METRICS_DISABLED']) {
    if (saved[key] === undefined) delete process.env[key];
    else process.env[key] = saved[key];
  }
});

/** The EMF documents written so far (one JSON object a line). */
function emitted(): Emf[] {
  return written
    .join('')
    .split('\n')
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as Emf);
}

/** One document's metric: its name, its dimensions (name → value) and its value. */
function metricOf(doc: Emf) {
  const [directive] = doc._aws.CloudWatchMetrics;
  const name = directive?.Metrics[0]?.Name ?? '';
  const dimensions = Object.fromEntries((directive?.Dimensions[0] ?? []).map((d) => [d, doc[d]]));
  return {
    namespace: directive?.Namespace,
    name,
    unit: directive?.Metrics[0]?.Unit,
    dimensions,
    value: doc[name],
  };
}

const replaced = {
  fleet: 'web',
  instanceId: 'i-0123456789abcdef0',
  cause: 'health',
  execution: 'web--i-0123456789abcdef0',
  eventId: 'e-1',
  reason: 'status check failed',
};

describe('outcome metrics', () => {
  it('counts an outcome by its detail-type, in the Phoenix namespace, without a fleet dimension', () => {
    recordOutcome(DetailTypes.RolloutFailed, {
      fleet: 'web',
      channel: 'prod',
      imageId: 'ami-1',
      execution: 'x',
      reason: 'rollback failed',
      error: 'BatchNotHealthyError',
    });
    expect(emitted().map(metricOf)).toEqual([
      {
        namespace: PhoenixMetrics.namespace,
        name: 'Outcomes',
        unit: 'Count',
        dimensions: { service: 'phoenix', Outcome: 'RolloutFailed' },
        value: 1,
      },
    ]);
  });

  it('counts the end of a replacement by cause as well', () => {
    recordOutcome(DetailTypes.InstanceReplaced, replaced);
    recordOutcome(DetailTypes.ReplacementFailed, { ...replaced, cause: 'interruption', error: 'X' });
    expect(emitted().map((d) => [metricOf(d).name, metricOf(d).dimensions])).toEqual([
      ['Outcomes', { service: 'phoenix', Outcome: 'InstanceReplaced' }],
      ['Replacements', { service: 'phoenix', Outcome: 'InstanceReplaced', Cause: 'health' }],
      ['Outcomes', { service: 'phoenix', Outcome: 'ReplacementFailed' }],
      ['Replacements', { service: 'phoenix', Outcome: 'ReplacementFailed', Cause: 'interruption' }],
    ]);
  });

  it('a replacement whose need has a time records its time to heal, in seconds, by cause', () => {
    recordOutcome(DetailTypes.InstanceReplaced, {
      ...replaced,
      detectedAt: '2026-12-01T10:00:00.000Z',
      healSeconds: 272.5,
    });
    const heal = emitted()
      .map(metricOf)
      .filter((m) => m.name === PhoenixMetrics.timeToHeal);
    expect(heal).toEqual([
      {
        namespace: PhoenixMetrics.namespace,
        name: 'TimeToHeal',
        unit: 'Seconds',
        dimensions: { service: 'phoenix', Cause: 'health' },
        value: 272.5,
      },
    ]);
  });

  it('counts circuit transitions as their outcomes', () => {
    recordOutcome(DetailTypes.FleetCircuitClosed, { fleet: 'web', reason: 'window cleared' });
    expect(emitted().map((d) => metricOf(d).dimensions.Outcome)).toEqual(['FleetCircuitClosed']);
  });

  it('writes nothing outside a Lambda function (the CLI reuses the adapters)', () => {
    delete process.env.AWS_LAMBDA_FUNCTION_NAME;
    recordOutcome(DetailTypes.InstanceReplaced, replaced);
    expect(emitted()).toEqual([]);
  });
});

const sdkError = (name: string, status: number) =>
  Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode: status } });

describe('throttle metric', () => {
  it('counts a call throttled beyond the SDK retries, which stays a transient error', async () => {
    const call = () => Promise.reject(sdkError('ThrottlingException', 400));
    await expect(aws('DescribeAutoScalingGroups', call)).rejects.toThrow(TransientAwsError);
    await expect(
      aws('SetDesiredCapacity', () =>
        Promise.reject(Object.assign(new Error('slow down'), { code: 'Throttling' })),
      ),
    ).rejects.toThrow(TransientAwsError);
    expect(emitted().map(metricOf)).toEqual([
      {
        namespace: 'Phoenix',
        name: 'Throttles',
        unit: 'Count',
        dimensions: { service: 'phoenix' },
        value: 1,
      },
      {
        namespace: 'Phoenix',
        name: 'Throttles',
        unit: 'Count',
        dimensions: { service: 'phoenix' },
        value: 1,
      },
    ]);
  });

  it('does not count other failures, transient or not', async () => {
    await expect(aws('X', () => Promise.reject(sdkError('InternalFailure', 500)))).rejects.toThrow(
      TransientAwsError,
    );
    await expect(aws('Y', () => Promise.reject(sdkError('ValidationError', 400)))).rejects.toThrow(
      'ValidationError happened',
    );
    expect(emitted()).toEqual([]);
  });
});
