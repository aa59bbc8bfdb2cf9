/**
 * IAM of the quarantine (issue 13 §3), by simulation of the synthesized policies: rollout-fleet
 * may tag an image `phoenix:quarantined` and nothing else — no other key, no instance, no removal
 * (releasing is the operator's act, `phoenix release`, with the operator's credentials) — and no
 * other Phoenix role may tag images at all.
 */
import { describe, expect, it } from 'vitest';
import { Tags } from '../../lambdas/domain/contract';
import { ACCOUNT, type IamRequest, phoenixPolicies, REGION, simulate } from '../support/iam-policies';

const policies = phoenixPolicies();
const fleet = policies.roleOfHandler('rollout-fleet');
const image = `arn:aws:ec2:${REGION}::image/ami-0123456789abcdef0`;
const instance = `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/i-0123456789abcdef0`;

function tagging(resource: string, tags: Record<string, string>, action = 'ec2:CreateTags'): IamRequest {
  return {
    action,
    resource,
    context: {
      ...Object.fromEntries(Object.entries(tags).map(([k, v]) => [`aws:RequestTag/${k}`, v])),
      'aws:TagKeys': Object.keys(tags),
    },
  };
}

describe('IAM simulation: quarantine', () => {
  it('must allow: rollout-fleet tags an image phoenix:quarantined=<reason>', async () => {
    for (const reason of ['health', 'alarm', 'bake', 'validation']) {
      expect(await simulate(fleet, tagging(image, { [Tags.quarantined]: reason })), reason).toBe('Allowed');
    }
  });

  it.each([
    ['another tag key on an image (Name)', tagging(image, { Name: 'renamed' })],
    [
      'another phoenix key on an image (phoenix:channel: it would publish the image)',
      tagging(image, { [Tags.channel]: 'prod' }),
    ],
    [
      'the quarantine key together with another key',
      tagging(image, { [Tags.quarantined]: 'health', Name: 'x' }),
    ],
    ['an image with no tag keys in the request', { action: 'ec2:CreateTags', resource: image }],
    ['the quarantine key on an instance', tagging(instance, { [Tags.quarantined]: 'health' })],
    [
      'remove the quarantine tag (DeleteTags: the operator releases)',
      tagging(image, { [Tags.quarantined]: 'health' }, 'ec2:DeleteTags'),
    ],
  ])('must deny: rollout-fleet may not tag %s', async (_name, request) => {
    expect(await simulate(fleet, request)).not.toBe('Allowed');
  });

  it('must deny: no other Phoenix role may quarantine an image', async () => {
    const others = policies.roles.filter((r) => r.handler !== 'rollout-fleet');
    expect(others.length).toBeGreaterThan(0);
    for (const role of others) {
      expect(await simulate(role, tagging(image, { [Tags.quarantined]: 'health' })), role.id).not.toBe(
        'Allowed',
      );
    }
  });
});
