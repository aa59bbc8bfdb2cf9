/**
 * Quarantine (issue 13 §3): which rollbacks are the image's fault, decided from the failed step and
 * the caught error (both sides), the tag read back, and the image record's parsing.
 */
import { describe, expect, it } from 'vitest';
import { Tags } from '../../lambdas/domain/contract';
import { ErrorNames } from '../../lambdas/domain/errors';
import { MalformedRecordError } from '../../lambdas/domain/fleet-record';
import {
  parseImageRecord,
  quarantinedMessage,
  quarantineOf,
  quarantineReason,
} from '../../lambdas/domain/quarantine';

const caught = (Error: string, message = 'it failed') => ({
  Error,
  Cause: JSON.stringify({ errorType: Error, errorMessage: message }),
});

describe('quarantineReason: rollbacks the image caused', () => {
  it.each([
    ['CheckBatchHealth', ErrorNames.BatchNotHealthyError, 'health'],
    ['CheckGreenHealth', ErrorNames.BatchNotHealthyError, 'health'],
    ['CheckAlarmsAfterBatch', ErrorNames.AlarmBreachedError, 'alarm'],
    ['CheckAlarmsAfterGreen', ErrorNames.AlarmBreachedError, 'alarm'],
    ['CheckAlarmsAfterBake', ErrorNames.AlarmBreachedError, 'bake'],
    ['CheckAlarmsAfterGreenBake', ErrorNames.AlarmBreachedError, 'bake'],
  ])('%s failing with %s quarantines the image (%s)', (failedStep, error, reason) => {
    expect(quarantineReason({ failedStep, error: caught(error, 'alarm web-5xx is in ALARM') })).toBe(reason);
  });
});

describe('quarantineReason: rollbacks the image did not cause', () => {
  it.each([
    ['CheckBatchHealth', ErrorNames.TransientAwsError],
    ['LaunchBatch', 'Lambda.ServiceException'],
    ['CheckBatchHealth', ErrorNames.RolloutTimedOutError],
    ['CheckSafePoint', ErrorNames.RolloutTimedOutError],
    ['ReconcileLaunchTemplate', ErrorNames.ConfigurationError],
    ['LaunchBatch', ErrorNames.FleetNotFoundError],
    ['RetireBatch', 'States.Timeout'],
    ['CreateGreenGroup', ErrorNames.UnsupportedFleetError],
  ])('%s failing with %s does not', (failedStep, error) => {
    expect(quarantineReason({ failedStep, error: caught(error) })).toBeUndefined();
  });

  it('an alarm that does not exist is the fleet’s misconfiguration, not the image', () => {
    expect(
      quarantineReason({
        failedStep: 'CheckAlarmsAfterBatch',
        error: caught(ErrorNames.AlarmBreachedError, 'alarm web-5xx (tag phoenix:alarms) does not exist'),
      }),
    ).toBeUndefined();
  });

  it('phoenix rollback onto an older image is never judged, even when its batch is unhealthy', () => {
    expect(
      quarantineReason({
        mode: 'rollback',
        failedStep: 'CheckBatchHealth',
        error: caught(ErrorNames.BatchNotHealthyError),
      }),
    ).toBeUndefined();
  });

  it('no error at all (a stop at a safe point) does not', () => {
    expect(quarantineReason({})).toBeUndefined();
  });
});

describe('the tag and the record', () => {
  it('reads the quarantine from the AMI tags', () => {
    expect(quarantineOf({ [Tags.quarantined]: 'health', Name: 'x' })).toBe('health');
    expect(quarantineOf({ [Tags.quarantined]: '' })).toBe('unknown');
    expect(quarantineOf({ Name: 'x' })).toBeUndefined();
  });

  it('the rejection names the quarantine, its reason and the way out', () => {
    const message = quarantinedMessage('ami-0123456789abcdef0', 'bake');
    expect(message).toContain('quarantined');
    expect(message).toContain(`${Tags.quarantined}=bake`);
    expect(message).toContain('phoenix release ami-0123456789abcdef0');
  });

  it('parses an image record, and names the field of a malformed one', () => {
    const record = parseImageRecord('ami-1', {
      imageId: 'ami-1',
      quarantine: {
        reason: 'health',
        at: '2026-12-02T03:00:00.000Z',
        execution: 'e1',
        cause: 'c',
        fleet: 'web',
      },
      releases: [{ by: 'arn:aws:iam::1:user/op', at: '2026-12-02T02:00:00.000Z', reason: 'fixed' }],
    });
    expect(record.quarantine).toMatchObject({ reason: 'health', fleet: 'web' });
    expect(record.releases).toHaveLength(1);
    expect(() => parseImageRecord('ami-1', { quarantine: { reason: 7 } })).toThrow(MalformedRecordError);
    expect(() => parseImageRecord('ami-1', { quarantine: { reason: 7 } })).toThrow(/quarantine\.reason/);
  });
});
