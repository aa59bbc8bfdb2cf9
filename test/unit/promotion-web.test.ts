import { describe, expect, it } from 'vitest';
import { pipelineHtml, renderState } from '../../local/web/render';

describe('web view: the promotion pipeline', () => {
  const pipeline = {
    channels: [
      { channel: 'staging', image: 'ami-0000000b', promotion: '-', state: 'idle' as const },
      {
        channel: 'prod',
        upstream: 'staging',
        image: 'ami-0000000a',
        promotion: 'ami-0000000b waiting: delay: 3 min left',
        state: 'waiting' as const,
      },
    ],
    quarantined: [{ imageId: 'ami-0000000d', reason: '<rolled back>' }],
  };
  it('shows staging → prod with each image, the waiting one, and the quarantined images (escaped)', () => {
    const html = pipelineHtml(pipeline);
    expect(html).toMatch(/data-channel="staging"[\s\S]*→[\s\S]*data-channel="prod" data-state="waiting"/);
    expect(html).toContain('ami-0000000b waiting: delay: 3 min left');
    expect(html).toContain('from staging');
    expect(html).toContain('quarantined: ami-0000000d (&lt;rolled back&gt;)');
  });
  it('is part of the live fragment only when there is a pipeline', () => {
    const state = { at: '2026-01-07T12:00:00.000Z', fleets: [], outcomes: [] };
    expect(renderState(state)).not.toContain('Pipeline');
    expect(renderState({ ...state, pipeline })).toContain('<h2>Pipeline</h2>');
  });
});
