import { describe, expect, it } from 'vitest';
import { channelsModel, promotionText, renderChannels } from '../../cli/channels';
import { renderApprove } from '../../cli/approve';
import type { PromotionRule } from '../../lambdas/domain/promotion';

const now = new Date('2026-01-07T12:00:00Z');
const rule: PromotionRule = {
  channel: 'prod',
  promoteFrom: 'staging',
  afterSeconds: 3600,
  approval: true,
  maxHealthReplacements: 0,
};
const parameters = new Map([
  ['prod', { value: 'ami-0000000a', version: 3 }],
  ['staging', { value: 'ami-0000000b', version: 7 }],
  ['adhoc', { value: 'ami-0000000c', version: 1 }],
]);

describe('phoenix channels: model and render', () => {
  it('orders the pipeline upstream first, with the waiting image, what it waits for and the time left', () => {
    const model = channelsModel({
      parameters,
      rules: [rule],
      checks: [
        {
          channel: 'prod',
          decision: {
            kind: 'wait',
            imageId: 'ami-0000000b',
            waitingFor: ['approval', 'delay'],
            fleetsNotRolled: [],
            until: '2026-01-07T12:25:00.000Z',
            reason: 'waiting',
          },
        },
      ],
      quarantined: [{ imageId: 'ami-0000000d', name: 'web-bad', reason: 'rolled back in web-staging' }],
      now,
    });
    expect(model.channels.map((c) => c.channel)).toEqual(['adhoc', 'staging', 'prod']);
    expect(model.channels[2]).toMatchObject({
      upstream: 'staging',
      image: 'ami-0000000a',
      parameterVersion: 3,
      waiting: { imageId: 'ami-0000000b', secondsLeft: 1500 },
    });
    const text = renderChannels(model);
    expect(text.split('\n')[0]).toMatch(/^CHANNEL\s+FROM\s+IMAGE\s+PROMOTION$/);
    expect(text).toContain(
      'prod     staging  ami-0000000a (v3)  ami-0000000b waiting: approval (phoenix approve prod ami-0000000b); delay: 25 min left (until 2026-01-07T12:25:00Z)',
    );
    expect(text).toContain('quarantined images (never promoted):');
    expect(text).toMatch(/ami-0000000d\s+web-bad\s+rolled back in web-staging/);
  });
  it('blocked, fleets not rolled, up to date, and channels without upstream', () => {
    const base = { channel: 'prod', upstream: 'staging' };
    expect(
      promotionText({
        ...base,
        blocked: { imageId: 'ami-1', blockedBy: 'alarm', reason: 'gating alarm(s) in ALARM: x' },
      }),
    ).toBe('ami-1 BLOCKED (alarm): gating alarm(s) in ALARM: x');
    expect(
      promotionText({
        ...base,
        waiting: {
          imageId: 'ami-1',
          waitingFor: ['fleets-not-rolled'],
          fleetsNotRolled: ['a', 'b'],
          reason: '',
        },
      }),
    ).toBe('ami-1 waiting: fleets not rolled: a, b');
    expect(promotionText({ ...base, idle: "ami-1 is already prod's image" })).toBe(
      "up to date (ami-1 is already prod's image)",
    );
    expect(promotionText({ channel: 'staging' })).toBe('-');
  });
  it('renderApprove says what happened and what is odd', () => {
    const r = {
      channel: 'prod',
      imageId: 'ami-1',
      by: 'arn:aws:iam::1:user/ann',
      at: 't',
      alreadyApproved: false,
    };
    expect(renderApprove({ ...r, promoteFrom: 'staging', approvalRequired: true })).toContain(
      'approved by arn:aws:iam::1:user/ann',
    );
    expect(renderApprove(r)).toContain('no promotion check has recorded a rule for prod yet');
    expect(
      renderApprove({ ...r, alreadyApproved: true, promoteFrom: 'staging', approvalRequired: false }),
    ).toMatch(/already approved[\s\S]*does not ask for an approval/);
  });
});
