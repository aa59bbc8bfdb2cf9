/**
 * Every function reserves its concurrency (`reservedConcurrency`), so that an event storm cannot
 * take the account's whole Lambda concurrency: the defaults, an override, the Rollout steps
 * following `maxConcurrentRollouts`, and the props check.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Handlers } from '../../lambdas/domain/contract';
import { DEFAULT_RESERVED_CONCURRENCY, PhoenixControlPlane, type PhoenixControlPlaneProps } from '../../lib';
import { type CfnResourceJson, synthPhoenix, type SynthesizedPhoenix } from './support';

/** Reserved concurrency of each synthesized function, by its `phoenix:handler` metadata. */
function reservations(resources: Record<string, CfnResourceJson>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const r of Object.values(resources)) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    out[r.Metadata?.['phoenix:handler'] as string] = r.Properties?.ReservedConcurrentExecutions;
  }
  return out;
}

function build(props: PhoenixControlPlaneProps): Record<string, unknown> {
  const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Concurrency');
  new PhoenixControlPlane(stack, 'ControlPlane', props);
  return reservations(Template.fromStack(stack).toJSON().Resources as Record<string, CfnResourceJson>);
}

describe('reserved concurrency', () => {
  let phoenix: SynthesizedPhoenix;
  beforeAll(() => {
    phoenix = synthPhoenix();
  });
  afterAll(() => phoenix.dispose());

  it('reserves the default for every function of the stack: 82 in all', () => {
    expect(reservations(phoenix.resources)).toStrictEqual({
      intake: 20,
      'rollout-fleet': 20,
      'rollout-record': 20,
      replace: 10,
      drain: 10,
      reconcile: 1,
      chaos: 1,
    });
    const { [Handlers.validate]: validate, ...always } = DEFAULT_RESERVED_CONCURRENCY;
    expect(Object.values(always).reduce((a, b) => a + b, 0)).toBe(82);
    // The validate function exists only when a channel has validation: 2 more then.
    expect(validate).toBe(2);
  });

  it('takes a handler’s reservation from the prop and keeps the others’ defaults', () => {
    const got = build({ reservedConcurrency: { [Handlers.intake]: 50, [Handlers.chaos]: 2 } });
    const { [Handlers.validate]: _validate, ...always } = DEFAULT_RESERVED_CONCURRENCY;
    expect(got).toStrictEqual({ ...always, intake: 50, chaos: 2 });
  });

  it('raises the Rollout steps’ default to maxConcurrentRollouts when it is larger', () => {
    const got = build({ maxConcurrentRollouts: 40 });
    expect(got).toMatchObject({ 'rollout-fleet': 40, 'rollout-record': 40, intake: 20 });
  });

  it.each([
    [{ [Handlers.intake]: 0 }, /reservedConcurrency\.intake must be an integer of at least 1, got 0/],
    [{ [Handlers.replace]: 2.5 }, /reservedConcurrency\.replace must be an integer of at least 1, got 2\.5/],
    [{ [Handlers.drain]: -1 }, /reservedConcurrency\.drain must be an integer of at least 1, got -1/],
  ])('rejects the reservation %j, quoting it', (reservedConcurrency, message) => {
    expect(() => build({ reservedConcurrency })).toThrow(/^Invalid PhoenixControlPlane props: /);
    expect(() => build({ reservedConcurrency })).toThrow(message);
  });

  it('rejects a handler name that is not one of Phoenix’s, quoting it', () => {
    const reservedConcurrency = { intakee: 5 } as unknown as PhoenixControlPlaneProps['reservedConcurrency'];
    expect(() => build({ reservedConcurrency })).toThrow(
      /reservedConcurrency names no handler \["intakee"\]/,
    );
  });

  it('rejects a Rollout step reservation below maxConcurrentRollouts', () => {
    expect(() => build({ reservedConcurrency: { [Handlers.rolloutFleet]: 5 } })).toThrow(
      /reservedConcurrency\.rollout-fleet must be at least maxConcurrentRollouts \(10\).*got 5/,
    );
    expect(() =>
      build({ maxConcurrentRollouts: 30, reservedConcurrency: { [Handlers.rolloutRecord]: 20 } }),
    ).toThrow(/reservedConcurrency\.rollout-record must be at least maxConcurrentRollouts \(30\)/);
  });

  it('collects every problem in one message', () => {
    expect(() =>
      build({ reservedConcurrency: { [Handlers.intake]: 0, [Handlers.rolloutFleet]: 1 } }),
    ).toThrow(/intake must be .*; reservedConcurrency\.rollout-fleet must be at least/);
  });
});
