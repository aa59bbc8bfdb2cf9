import { describe, expect, it } from 'vitest';
import {
  DEFAULT_VALIDATION_TIMEOUT_SECONDS,
  functionVerdict,
  MAX_OUTPUT_CHARS,
  parseValidationChannels,
  truncateOutput,
  validateExecutionName,
} from '../../lambdas/domain/validation';

describe('validation domain', () => {
  it('names one execution per image and channel, within Step Functions limits', () => {
    expect(validateExecutionName('staging', 'ami-0123456789abcdef0')).toBe(
      'validate--staging--ami-0123456789abcdef0',
    );
    const long = validateExecutionName('c'.repeat(200) + '/x', 'ami-0123456789abcdef0');
    expect(long.length).toBeLessThanOrEqual(80);
    expect(long).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(long.endsWith('--ami-0123456789abcdef0')).toBe(true);
  });

  it('keeps short output, and the head and the tail of a long one within the limit', () => {
    expect(truncateOutput('ok')).toBe('ok');
    const long = `HEAD${'x'.repeat(10_000)}TAIL-why-it-failed`;
    const cut = truncateOutput(long);
    expect(cut.length).toBeLessThanOrEqual(MAX_OUTPUT_CHARS);
    expect(cut.startsWith('HEAD')).toBe(true);
    expect(cut.endsWith('TAIL-why-it-failed')).toBe(true);
    expect(cut).toMatch(/characters cut/);
  });

  it('passes a test function only on { passed: true }', () => {
    expect(functionVerdict('{"passed":true}').passed).toBe(true);
    expect(functionVerdict('{"passed":"true"}').passed).toBe(false);
    expect(functionVerdict('null').passed).toBe(false);
    expect(functionVerdict(undefined)).toEqual({
      passed: false,
      output: 'the test function returned nothing',
    });
  });

  it('parses the intake environment, and names a bad one', () => {
    expect(parseValidationChannels(undefined)).toEqual({});
    expect(parseValidationChannels('{"s":{"group":"g","testDocument":"d"}}')).toEqual({
      s: { group: 'g', testDocument: 'd', timeoutSeconds: DEFAULT_VALIDATION_TIMEOUT_SECONDS },
    });
    expect(() => parseValidationChannels('nope')).toThrow(/PHOENIX_VALIDATION_CHANNELS is not JSON/);
    expect(() => parseValidationChannels('{"s":{"group":"g"}}')).toThrow(
      /PHOENIX_VALIDATION_CHANNELS\.s must have/,
    );
  });
});
