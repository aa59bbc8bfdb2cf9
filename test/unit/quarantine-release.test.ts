/**
 * `phoenix release` (cli/release.ts) without AWS: the argument check and what the terminal shows.
 * The release itself (tag, record, ImageReleased, exit codes) is in test/e2e/quarantine.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { checkImageId, type ReleaseReport, renderRelease } from '../../cli/release';
import { ConfigurationError } from '../../lambdas/domain/errors';

describe('phoenix release', () => {
  it('accepts an AMI id and refuses anything else, naming it', () => {
    expect(checkImageId('ami-0123456789abcdef0')).toBe('ami-0123456789abcdef0');
    expect(() => checkImageId('i-0123456789abcdef0')).toThrow(ConfigurationError);
    expect(() => checkImageId('ami-XYZ')).toThrow(/"ami-XYZ"/);
  });

  it('says who released it, when, why, and the quarantine it cleared', () => {
    const report: ReleaseReport = {
      imageId: 'ami-0123456789abcdef0',
      wasQuarantined: true,
      tag: 'health',
      quarantine: {
        reason: 'health',
        at: '2026-12-02T03:00:00.000Z',
        execution: 'web-ami-0123-e1',
        fleet: 'web',
        cause: 'after 40 checks, 0 of 2 instances are InService and healthy',
      },
      releasedBy: 'arn:aws:sts::123456789012:assumed-role/operator/alice',
      at: '2026-12-02T04:00:00.000Z',
      reason: 'the health check was fixed',
    };
    const text = renderRelease(report);
    expect(text).toContain('released by arn:aws:sts::123456789012:assumed-role/operator/alice');
    expect(text).toContain('at 2026-12-02T04:00:00.000Z (the health check was fixed)');
    expect(text).toContain(
      'quarantined 2026-12-02T03:00:00.000Z (health, fleet web, execution web-ami-0123-e1)',
    );
    expect(text).toContain('ImageReleased');
  });

  it('says so when there was nothing to release', () => {
    expect(
      renderRelease({
        imageId: 'ami-0123456789abcdef0',
        wasQuarantined: false,
        tag: null,
        quarantine: null,
        releasedBy: null,
        at: null,
        reason: null,
      }),
    ).toBe('image ami-0123456789abcdef0 is not quarantined: nothing to release');
  });
});
