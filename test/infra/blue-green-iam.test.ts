/**
 * IAM of blue-green rollouts and the target-group gate (rollout-fleet), as synthesized.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GREEN_GROUP_NAME_PATTERN } from '../../lambdas/domain/adoption';
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
  const green = `autoScalingGroupName/${GREEN_GROUP_NAME_PATTERN}`;
  const resourceOf = (st: Record<string, Json>) => JSON.stringify(st.Resource);

  it('creates a group only by the name Phoenix generates for green, with the green and rollout request tags', () => {
    const found = granting('autoscaling:CreateAutoScalingGroup');
    expect(found).toHaveLength(1);
    expect(found[0]!.Condition).toStrictEqual({
      StringLike: { [`aws:RequestTag/${Tags.greenOf}`]: '*', [`aws:RequestTag/${Tags.rollout}`]: '*' },
    });
    expect(resourceOf(found[0]!)).toContain(`:autoScalingGroup:*:${green}`);
  });

  it('deletes, attaches and detaches only green (by name, tagged phoenix:green-of) and retired blue groups, never a fleet', () => {
    const notAFleet = { [`aws:ResourceTag/${Tags.fleet}`]: 'true' };
    for (const action of [
      'autoscaling:DeleteAutoScalingGroup',
      'autoscaling:AttachLoadBalancerTargetGroups',
      'autoscaling:DetachLoadBalancerTargetGroups',
    ]) {
      const found = granting(action);
      expect(found.length, action).toBeGreaterThan(0);
      for (const st of found) {
        const condition = st.Condition as Record<string, Record<string, Json>>;
        expect(condition.Null, action).toStrictEqual(notAFleet);
        if (resourceOf(st).includes(green)) {
          expect(condition.StringLike?.[`aws:ResourceTag/${Tags.greenOf}`], action).toBe('*');
        } else {
          // Retired blue: tagged phoenix:blue-of and phoenix:rollout; never attached.
          expect(action).not.toBe('autoscaling:AttachLoadBalancerTargetGroups');
          expect(condition.StringLike, action).toStrictEqual({
            [`aws:ResourceTag/${Tags.blueOf}`]: '*',
            [`aws:ResourceTag/${Tags.rollout}`]: '*',
          });
        }
      }
    }
    // Deleting green needs phoenix:rollout too.
    const deleteGreen = granting('autoscaling:DeleteAutoScalingGroup').find((st) =>
      resourceOf(st).includes(green),
    )!;
    expect((deleteGreen.Condition as Record<string, Json>).StringLike).toStrictEqual({
      [`aws:ResourceTag/${Tags.greenOf}`]: '*',
      [`aws:ResourceTag/${Tags.rollout}`]: '*',
    });
  });

  it.each(['autoscaling:CreateOrUpdateTags', 'autoscaling:DeleteTags'])(
    '%s only of phoenix:* keys, on fleets, green groups (by name) and retired blue groups',
    (action) => {
      const found = granting(action);
      const phoenixKeys = found.filter(
        (st) =>
          JSON.stringify((st.Condition as Record<string, Json>)['ForAllValues:StringLike']) ===
          JSON.stringify({ 'aws:TagKeys': ['phoenix:*'] }),
      );
      expect(phoenixKeys.map((st) => (st.Condition as Record<string, Json>).StringLike)).toStrictEqual([
        { [`aws:ResourceTag/${Tags.fleet}`]: '*' },
        { [`aws:ResourceTag/${Tags.greenOf}`]: '*' },
        { [`aws:ResourceTag/${Tags.blueOf}`]: '*', [`aws:ResourceTag/${Tags.rollout}`]: '*' },
      ]);
      expect(resourceOf(phoenixKeys[1]!)).toContain(green);
      // The only other: green's creation tags (blue's own tags, copied), on a green name not yet tagged.
      const others = found.filter((st) => !phoenixKeys.includes(st));
      if (action === 'autoscaling:DeleteTags') expect(others).toEqual([]);
      else {
        expect(others).toHaveLength(1);
        expect(resourceOf(others[0]!)).toContain(green);
        expect(others[0]!.Condition).toStrictEqual({
          StringLike: { [`aws:RequestTag/${Tags.greenOf}`]: '*', [`aws:RequestTag/${Tags.rollout}`]: '*' },
          Null: {
            [`aws:ResourceTag/${Tags.fleet}`]: 'true',
            [`aws:ResourceTag/${Tags.greenOf}`]: 'true',
            'aws:TagKeys': 'false',
          },
        });
      }
    },
  );

  it('reads target health (no resource-level permissions: Resource *)', () => {
    const found = granting('elasticloadbalancing:DescribeTargetHealth');
    expect(found).toHaveLength(1);
    expect(found[0]!.Resource).toBe('*');
    expect(found[0]!.Condition).toBeUndefined();
  });
});
