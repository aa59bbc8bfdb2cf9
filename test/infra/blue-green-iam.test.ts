/**
 * IAM of blue-green rollouts and the target-group gate (rollout-fleet), as synthesized.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tags } from '../../lambdas/domain/contract';
import { allowStatementsOf, asArray, synthPhoenix, type Json, type SynthesizedPhoenix } from './support';

let phoenix: SynthesizedPhoenix;

beforeAll(() => {
  phoenix = synthPhoenix();
});
afterAll(() => phoenix.dispose());

function granting(action: string): Record<string, Json>[] {
  return allowStatementsOf(phoenix, phoenix.stack.controlPlane.rolloutFleetFunction.role).filter((s) =>
    asArray<string>(s.Action).includes(action),
  );
}

describe('IAM, blue-green', () => {
  it('creates a group only with the green and rollout request tags', () => {
    const found = granting('autoscaling:CreateAutoScalingGroup');
    expect(found).toHaveLength(1);
    expect(found[0]!.Condition).toStrictEqual({
      StringLike: { [`aws:RequestTag/${Tags.greenOf}`]: '*', [`aws:RequestTag/${Tags.rollout}`]: '*' },
    });
    expect(JSON.stringify(found[0]!.Resource)).toContain(':autoScalingGroup:*:autoScalingGroupName/*');
  });

  it.each([
    'autoscaling:DeleteAutoScalingGroup',
    'autoscaling:AttachLoadBalancerTargetGroups',
    'autoscaling:DetachLoadBalancerTargetGroups',
    'autoscaling:CreateOrUpdateTags',
    'autoscaling:DeleteTags',
  ])('%s only on groups that are a fleet or in a blue-green transition', (action) => {
    const conditions = granting(action).map((s) => s.Condition);
    expect(conditions).toHaveLength(2);
    expect(conditions).toEqual(
      expect.arrayContaining([
        { StringLike: { [`aws:ResourceTag/${Tags.fleet}`]: '*' } },
        { StringLike: { [`aws:ResourceTag/${Tags.rollout}`]: '*' } },
      ]),
    );
  });

  it('reads target health (no resource-level permissions: Resource *)', () => {
    const found = granting('elasticloadbalancing:DescribeTargetHealth');
    expect(found).toHaveLength(1);
    expect(found[0]!.Resource).toBe('*');
    expect(found[0]!.Condition).toBeUndefined();
  });
});
