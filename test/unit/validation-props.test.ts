import { Duration } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { validateControlPlaneProps } from '../../lib/control-plane-props';

describe('channels.<c>.validation props', () => {
  it('accepts a validation with an SSM document, a Lambda test, or both', () => {
    expect(() =>
      validateControlPlaneProps({
        channels: {
          a: { validation: { group: 'web-validation', testDocument: 'web-smoke' } },
          b: {
            validation: { group: 'api-validation', testFunction: 'api-test', timeout: Duration.minutes(10) },
          },
          c: { validation: { group: 'c-validation', testDocument: 'c-smoke', testFunction: 'c-test' } },
        },
      }),
    ).not.toThrow();
  });

  it('refuses a validation that names no test', () => {
    expect(() =>
      validateControlPlaneProps({ channels: { staging: { validation: { group: 'v' } } } }),
    ).toThrow(/channels\.staging\.validation must name a test: testDocument .* and\/or testFunction/);
  });

  it('refuses validation on a promoted channel, a bad document name and an out-of-range timeout, all at once', () => {
    let message = '';
    try {
      validateControlPlaneProps({
        channels: {
          prod: { promoteFrom: 'staging', validation: { group: 'v', testDocument: 'ok-doc' } },
          staging: { validation: { group: 'v', testDocument: 'no spaces!', timeout: Duration.seconds(5) } },
        },
      });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/channels\.prod\.validation: channel prod is promoted from "staging"/);
    expect(message).toMatch(
      /channels\.staging\.validation\.testDocument must be an SSM document name, got "no spaces!"/,
    );
    expect(message).toMatch(
      /channels\.staging\.validation\.timeout must be from 1 minute to 24 hours, got 5 seconds/,
    );
  });
});
