/**
 * The web view's and the report's pure parts: escaping, the live fragment (instances per image,
 * batch N/M, the gate's countdown), where a rollout stands from its execution history, and the
 * report's timeline (rollback visible). The browser test is test/e2e/web-view.test.ts.
 */
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { terminatedAt } from '../../cli/report';
import { markOf, rolloutProgress, visitsOf, type ExecutionTimeline } from '../../local/web/execution';
import {
  escapeHtml,
  imageColour,
  renderPage,
  renderReport,
  renderState,
  type WebFleet,
  type WebState,
} from '../../local/web/render';

const t0 = Date.parse('2026-12-01T10:00:00Z');
const at = (s: number) => new Date(t0 + s * 1000);

const entered = (name: string, s: number, input: unknown = {}): HistoryEvent => ({
  id: 0,
  timestamp: at(s),
  type: 'TaskStateEntered',
  stateEnteredEventDetails: { name, input: JSON.stringify(input) },
});
const exited = (name: string, s: number): HistoryEvent => ({
  id: 0,
  timestamp: at(s),
  type: 'TaskStateExited',
  stateExitedEventDetails: { name, output: '{}' },
});

const plan = (replaced: number) => ({
  fleetState: { desiredCapacity: 4, batchSize: 1, warmupSeconds: 200, bakeSeconds: 0 },
  progress: { replaced },
});

function timeline(events: HistoryEvent[], extra: Partial<ExecutionTimeline> = {}): ExecutionTimeline {
  return {
    executionArn: 'arn:aws:states:us-east-1:000000000000:execution:Rollout:web--1',
    name: 'web--1',
    status: 'RUNNING',
    startedAt: at(0).toISOString(),
    input: { fleet: 'web', imageId: 'ami-b' },
    visits: visitsOf(events),
    ...extra,
  };
}

const fleet = (over: Partial<WebFleet> = {}): WebFleet => ({
  fleet: 'web',
  channel: 'web',
  desiredImage: 'ami-a',
  paused: false,
  pinnedImage: null,
  groups: [
    {
      name: 'web-asg',
      desiredCapacity: 4,
      byImage: [
        { imageId: 'ami-a', count: 3, inService: 3 },
        { imageId: 'ami-b', count: 2, inService: 1 },
      ],
    },
  ],
  rollout: null,
  replacements: [],
  timeline: [],
  ...over,
});

const state = (fleets: WebFleet[], over: Partial<WebState> = {}): WebState => ({
  at: at(10).toISOString(),
  fleets,
  outcomes: [],
  ...over,
});

describe('escapeHtml', () => {
  it('escapes the five characters that end text or an attribute', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe(
      '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;',
    );
    expect(escapeHtml(undefined)).toBe('');
  });
});

describe('imageColour', () => {
  it('gives an image the same colour every time, and unknown images grey', () => {
    expect(imageColour('ami-0123')).toBe(imageColour('ami-0123'));
    expect(imageColour('ami-0123')).toMatch(/^#[0-9a-f]{6}$/);
    expect(imageColour(null)).toBe('#cccccc');
  });
});

describe('where a rollout stands', () => {
  it('reads batch N/M and the warm-up gate with its end (scaled) from the last state entered', () => {
    const t = timeline([
      entered('LaunchBatch', 1, plan(1)),
      exited('LaunchBatch', 2),
      entered('WarmUpBatch', 3, plan(1)),
    ]);
    expect(rolloutProgress(t, 0.01)).toEqual({
      step: 'WarmUpBatch',
      batch: { n: 2, of: 4 },
      gate: { kind: 'warm-up', endsAt: new Date(t0 + 3000 + 2000).toISOString() },
      rollingBack: false,
    });
  });

  it('says rolling back once a rollback state was entered (no batch, no gate)', () => {
    const t = timeline([entered('CheckAlarmsAfterBatch', 1, plan(0)), entered('StartRollback', 2, plan(0))]);
    expect(rolloutProgress(t)).toEqual({ step: 'StartRollback', rollingBack: true });
  });

  it('knows nothing before the first state', () => {
    expect(rolloutProgress(timeline([]))).toEqual({ step: null, rollingBack: false });
  });

  it('pairs each state entered with when it was left, and marks batches, gates and rollbacks', () => {
    const visits = visitsOf([entered('LaunchBatch', 1), exited('LaunchBatch', 4), entered('Bake', 5)]);
    expect(visits.map((v) => [v.name, v.exitedAt ?? null])).toEqual([
      ['LaunchBatch', at(4).toISOString()],
      ['Bake', null],
    ]);
    expect(
      ['LaunchBatch', 'WarmUpBatch', 'Bake', 'CheckAlarmsAfterBake', 'StartRollback', 'ValidateImage'].map(
        markOf,
      ),
    ).toEqual(['batch', 'gate', 'gate', 'gate', 'rollback', 'step']);
  });
});

describe('the live fragment', () => {
  it('draws one square per instance in its image colour, with a legend that counts them', () => {
    const html = renderState(state([fleet()]));
    expect(html.match(/class="inst[^"]*" data-image="ami-a"/g)).toHaveLength(3);
    expect(html.match(/class="inst[^"]*" data-image="ami-b"/g)).toHaveLength(2);
    expect(html.match(/class="inst pending" data-image="ami-b"/g)).toHaveLength(1);
    expect(html).toContain(`background:${imageColour('ami-b')}`);
    expect(html).toContain('ami-a ×3 (desired)');
  });

  it('shows the active rollout with batch N/M and the gate countdown', () => {
    const html = renderState(
      state([
        fleet({
          rollout: {
            execution: 'web--1',
            imageId: 'ami-b',
            startedAt: at(0).toISOString(),
            status: 'RUNNING',
            progress: {
              step: 'WarmUpBatch',
              batch: { n: 2, of: 4 },
              gate: { kind: 'warm-up', endsAt: at(14).toISOString() },
              rollingBack: false,
            },
          },
        }),
      ]),
    );
    expect(html).toContain('<span class="batch">batch 2/4</span>');
    expect(html).toContain('<span class="gate">gate warm-up, 4 s left</span>');
    expect(html).toContain('ami-b ×2 (rolling out)');
  });

  it('escapes every text taken from the state', () => {
    const evil = '<script>alert(1)</script>';
    const html = renderState(
      state(
        [
          fleet({
            fleet: evil,
            timeline: [
              {
                at: at(1).toISOString(),
                kind: 'rollout',
                imageId: 'ami-b',
                outcome: 'rejected',
                reason: evil,
              },
            ],
          }),
        ],
        { outcomes: [{ detailType: evil, detail: { fleet: evil, reason: evil } }], error: evil },
      ),
    );
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('says so when there is no fleet', () => {
    expect(renderState(state([]))).toContain('No managed fleets yet');
  });

  it('is served by a page with no external assets that polls /api/state', () => {
    const page = renderPage();
    expect(page).toContain("fetch('/api/state'");
    expect(page).not.toMatch(/<(script|link|img)[^>]+(src|href)=/);
  });
});

describe('the report', () => {
  const rolledBack = timeline(
    [
      entered('LaunchBatch', 1, plan(0)),
      entered('WarmUpBatch', 2, plan(0)),
      entered('CheckAlarmsAfterBatch', 5, plan(0)),
      entered('StartRollback', 6, plan(0)),
    ],
    { status: 'FAILED', error: 'RolloutRolledBack', endedAt: at(8).toISOString() },
  );
  const html = renderReport({
    fleet: 'web',
    generatedAt: at(10).toISOString(),
    desiredImage: 'ami-a',
    instances: [
      { instanceId: 'i-old', imageId: 'ami-a', launchedAt: at(-100).toISOString(), state: 'InService' },
      {
        instanceId: 'i-new',
        imageId: 'ami-b',
        launchedAt: at(1).toISOString(),
        endedAt: at(7).toISOString(),
        state: 'terminated',
      },
    ],
    executions: [rolledBack],
    history: [
      {
        at: at(8).toISOString(),
        kind: 'rollout',
        imageId: 'ami-b',
        outcome: 'rolled-back',
        reason: 'alarm x',
      },
    ],
    notes: [],
  });

  it('marks a rolled-back execution ROLLED BACK with its batch, gate and rollback marks', () => {
    expect(html).toMatch(/class="execution" data-execution="web--1" data-outcome="rolled-back"/);
    expect(html).toContain('>ROLLED BACK<');
    expect(html.match(/data-mark="batch"/g)).toHaveLength(1);
    expect(html.match(/data-mark="gate"/g)).toHaveLength(2);
    expect(html.match(/data-mark="rollback"/g)).toHaveLength(1);
    expect(html).toContain('data-outcome="rolled-back"><td>');
  });

  it('draws each instance as a bar in its image colour, a terminated one ending where it ended', () => {
    expect(html).toMatch(/data-instance="i-new" data-image="ami-b" data-state="terminated"/);
    expect(html).toContain(`fill="${imageColour('ami-b')}" fill-opacity="0.55"`);
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/);
  });
});

describe('terminatedAt', () => {
  it("reads the time of EC2's state transition reason", () => {
    expect(terminatedAt('User initiated (2026-12-01 22:30:05 UTC)')).toBe('2026-12-01T22:30:05.000Z');
    expect(terminatedAt('User initiated (2016-05-31 13:14:56 GMT)')).toBe('2016-05-31T13:14:56.000Z');
    expect(terminatedAt('')).toBeUndefined();
    expect(terminatedAt(undefined)).toBeUndefined();
  });
});
