/**
 * The fan-out limit's prop (`maxConcurrentRollouts`): validated, and handed to rollout-record (the
 * function that takes the global rollout slots) as its environment.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { PhoenixControlPlane } from '../../lib';
import { Env, Handlers } from '../../lambdas/domain/contract';

function synth(maxConcurrentRollouts?: number) {
  const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'FanOut');
  const cp = new PhoenixControlPlane(
    stack,
    'ControlPlane',
    maxConcurrentRollouts !== undefined ? { maxConcurrentRollouts } : {},
  );
  return { cp, template: Template.fromStack(stack) };
}

function environmentOf(template: Template, handler: string): Record<string, unknown> {
  const functions = Object.values(template.findResources('AWS::Lambda::Function')) as {
    Metadata?: Record<string, unknown>;
    Properties: { Environment?: { Variables?: Record<string, unknown> } };
  }[];
  const fn = functions.find((f) => f.Metadata?.['phoenix:handler'] === handler);
  if (fn === undefined) throw new Error(`no function for handler ${handler}`);
  return fn.Properties.Environment?.Variables ?? {};
}

describe('maxConcurrentRollouts', () => {
  it('defaults to 20 and reaches rollout-record only', () => {
    const { template } = synth();
    expect(environmentOf(template, Handlers.rolloutRecord)[Env.maxConcurrentRollouts]).toBe('20');
    expect(environmentOf(template, Handlers.intake)[Env.maxConcurrentRollouts]).toBeUndefined();
  });

  it('takes the prop', () => {
    expect(environmentOf(synth(3).template, Handlers.rolloutRecord)[Env.maxConcurrentRollouts]).toBe('3');
  });

  it.each([0, -1, 2.5, 1001, Number.NaN])('rejects %s, quoting it', (value) => {
    expect(() => synth(value)).toThrow(/maxConcurrentRollouts must be an integer from 1 to 1000, got/);
  });
});
