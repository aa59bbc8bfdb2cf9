/**
 * Log levels mean what they say (lambdas/powertools.ts): a handled outcome thrown by a step is one
 * INFO line with its reason and no stack, a transient error WARN, and only what needs a human is
 * ERROR with its stack. Metrics are published only when some were added, so Powertools' "No
 * application metrics to publish" warning never reaches the terminal. The Powertools logger's and
 * metrics' real output is captured from the process streams they write to.
 */
import type { Context } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  AlarmBreachedError,
  BatchNotHealthyError,
  ConfigurationError,
  ErrorNames,
  OlderImageError,
  RollbackStalledError,
  TransientAwsError,
} from '../../lambdas/domain/errors';
import {
  HANDLED_OUTCOME_ERRORS,
  logger,
  logLevelOf,
  metrics,
  stepHandler,
  wrap,
} from '../../lambdas/powertools';

const context = {
  functionName: 'phoenix-rollout-record',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:phoenix-rollout-record',
  memoryLimitInMB: '256',
  awsRequestId: 'request-1',
  logGroupName: '/aws/lambda/phoenix-rollout-record',
  logStreamName: 'stream',
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => 30_000,
} as unknown as Context;

let written: string[];
let previousLevel: ReturnType<typeof logger.getLevelName>;
let spies: { mockRestore: () => void }[] = [];

beforeEach(() => {
  written = [];
  previousLevel = logger.getLevelName();
  const capture = (chunk: unknown) => {
    written.push(String(chunk));
    return true;
  };
  spies = [
    vi.spyOn(process.stdout, 'write').mockImplementation(capture),
    vi.spyOn(process.stderr, 'write').mockImplementation(capture),
  ];
});

afterEach(() => {
  for (const spy of spies) spy.mockRestore();
  logger.setLogLevel(previousLevel);
});

/** The Powertools JSON log lines written, parsed. */
function logLines(): Record<string, any>[] {
  return written
    .flatMap((chunk) => chunk.split('\n'))
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, any>)
    .filter((line) => line['level'] !== undefined);
}

/**
 * Log at DEBUG during the invocation: Powertools' Lambda-context middleware sets the level back to
 * the environment's (SILENT in tests) at the start of every warm invocation.
 */
const verbose = <T>(run: () => Promise<T>) => {
  logger.setLogLevel('DEBUG');
  return run();
};

const failing = (error: Error) =>
  stepHandler('rollout-record', () => verbose(() => Promise.reject(error))) as unknown as (
    event: unknown,
    context: Context,
  ) => Promise<unknown>;

const request = { step: 'CheckAlarms', execution: 'web-ami-2', state: { fleet: 'web' } };

describe('log levels of what a step throws', () => {
  it('logs a handled outcome (a gating alarm in ALARM) as one INFO line with its reason, no stack, no ERROR', async () => {
    const error = new AlarmBreachedError('alarm web-errors is in ALARM after a batch');
    await expect(failing(error)(request, context)).rejects.toBe(error);
    const lines = logLines();
    expect(lines.filter((l) => l['level'] === 'ERROR')).toEqual([]);
    const info = lines.filter((l) => l['level'] === 'INFO');
    expect(info).toHaveLength(1);
    expect(info[0]).toMatchObject({
      message: 'rollout-record ended in a handled outcome: AlarmBreachedError',
      error: 'AlarmBreachedError',
      reason: 'alarm web-errors is in ALARM after a batch',
      step: 'CheckAlarms',
      fleet: 'web',
    });
    expect(JSON.stringify(info[0])).not.toContain('stack');
  });

  it('logs an error that needs a human (a rollback that stalled) as ERROR with its stack', async () => {
    const error = new RollbackStalledError('after 40 checks the previous image has 2 of 4 instances');
    await expect(failing(error)(request, context)).rejects.toBe(error);
    const errors = logLines().filter((l) => l['level'] === 'ERROR');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      message: 'rollout-record failed',
      error: { name: 'RollbackStalledError', message: expect.stringContaining('2 of 4 instances') },
    });
    expect(errors[0]!['error']['stack']).toContain('RollbackStalledError');
  });

  it('logs an unexpected error (not a Phoenix error) as ERROR with its stack', async () => {
    const error = new TypeError("Cannot read properties of undefined (reading 'groupName')");
    await expect(wrap('intake', () => verbose(() => Promise.reject(error)))({}, context)).rejects.toBe(error);
    const errors = logLines().filter((l) => l['level'] === 'ERROR');
    expect(errors).toHaveLength(1);
    expect(errors[0]!['error']['stack']).toContain('TypeError');
  });

  it('logs a transient error (retried by the workflow) as WARN, without a stack', async () => {
    const error = new TransientAwsError('DescribeAutoScalingGroups: Throttling: Rate exceeded');
    await expect(failing(error)(request, context)).rejects.toBe(error);
    const lines = logLines();
    expect(lines.filter((l) => l['level'] === 'ERROR')).toEqual([]);
    const warn = lines.filter((l) => l['level'] === 'WARN');
    expect(warn).toHaveLength(1);
    expect(warn[0]).toMatchObject({
      error: 'TransientAwsError',
      reason: expect.stringContaining('Throttling'),
    });
    expect(JSON.stringify(warn[0])).not.toContain('stack');
  });

  it('classifies every Phoenix error name: handled outcomes INFO, transient WARN, the rest ERROR', () => {
    expect(logLevelOf(new BatchNotHealthyError('x'))).toBe('info');
    expect(logLevelOf(new OlderImageError('x'))).toBe('info');
    expect(logLevelOf(new ConfigurationError('x'))).toBe('error');
    expect(logLevelOf('not an error')).toBe('error');
    const levels = Object.fromEntries(
      Object.values(ErrorNames).map((name) => {
        const error = new Error('x');
        error.name = name;
        return [name, logLevelOf(error)];
      }),
    );
    expect(levels).toEqual({
      MalformedEventError: 'error',
      ImageRejectedError: 'info',
      FleetNotFoundError: 'info',
      UnsupportedFleetError: 'info',
      InvalidFleetSettingError: 'info',
      MalformedRecordError: 'error',
      FleetBusyError: 'info',
      FleetPausedError: 'info',
      RolloutQueuedError: 'info',
      RolloutSlotQueuedError: 'info',
      BatchNotHealthyError: 'info',
      AlarmBreachedError: 'info',
      RollbackStalledError: 'error',
      ReplacementNotHealthyError: 'error',
      RolloutTimedOutError: 'info',
      OlderImageError: 'info',
      ConfigurationError: 'error',
      // A validation that timed out is a handled outcome (ImageValidationFailed, the image quarantined).
      ValidationTimedOutError: 'info',
      TransientAwsError: 'warn',
    });
    expect(HANDLED_OUTCOME_ERRORS.size).toBe(13);
  });
});

describe('metrics', () => {
  it('publishes nothing and warns nothing when a failed step added no metrics', async () => {
    const error = new BatchNotHealthyError('after 5 checks, 0 of 1 instances are InService and healthy');
    await expect(failing(error)(request, context)).rejects.toBe(error);
    expect(written.join('')).not.toContain('No application metrics');
    expect(metrics.hasStoredMetrics()).toBe(false);
  });

  it('publishes (and clears) the metrics a step added, without the warning', async () => {
    const done = stepHandler('rollout-record', () =>
      verbose(() => Promise.resolve({ ok: true })),
    ) as unknown as (event: unknown, context: Context) => Promise<unknown>;
    await expect(done(request, context)).resolves.toEqual({ ok: true });
    const emf = logLines().filter((l) => l['_aws'] !== undefined);
    expect(written.some((chunk) => chunk.includes('"StepsCompleted"'))).toBe(true);
    expect(emf).toEqual([]);
    expect(metrics.hasStoredMetrics()).toBe(false);
    expect(written.join('')).not.toContain('No application metrics');
    expect(logLines().filter((l) => l['message'] === 'step done')).toHaveLength(1);
  });
});
