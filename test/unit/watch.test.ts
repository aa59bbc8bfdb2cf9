/**
 * The watch model of `phoenix status --watch` (cli/watch-model.ts), its rendering and the frame
 * writer (cli/watch.ts), and the exit-code table (cli/exit-codes.ts): structure, marks, counts,
 * NO_COLOR and non-TTY output.
 */
import { describe, expect, it } from 'vitest';
import { EXIT_CODES, exitOfOutcome, worstExit } from '../../cli/exit-codes';
import type { FleetStatus } from '../../cli/status';
import {
  changeKey,
  FrameWriter,
  MAX_FAILED_READS,
  renderModels,
  TolerantReader,
  useColour,
  withNote,
} from '../../cli/watch';
import {
  buildWatchModel,
  type ExecutionDetail,
  renderWatch,
  type WatchInput,
  type WatchInstanceInput,
} from '../../cli/watch-model';

const OLD = 'ami-0000000000000000a';
const NEW = 'ami-0000000000000000b';
const NOW = new Date('2026-12-01T12:00:00Z');
const ESC = '\x1b';

function status(overrides: Partial<FleetStatus> = {}): FleetStatus {
  return {
    fleet: 'web',
    channel: 'web',
    desiredImage: OLD,
    previousImage: null,
    targetImage: NEW,
    groups: [],
    activeRollout: {
      execution: 'web--ami-b--0123456789abcdef',
      imageId: NEW,
      startedAt: '2026-12-01T11:59:00Z',
      expiresAt: '2026-12-01T13:59:00Z',
      expired: false,
      workflow: { status: 'RUNNING', step: 'WarmUpBatch' },
    },
    lastOutcome: null,
    paused: null,
    pinnedImage: null,
    ...overrides,
  };
}

const instance = (
  id: string,
  imageId: string | null,
  more: Partial<WatchInstanceInput> = {},
): WatchInstanceInput => ({
  instanceId: id,
  imageId,
  lifecycleState: 'InService',
  healthStatus: 'Healthy',
  targetState: 'healthy',
  tainted: null,
  drained: false,
  ...more,
});

const warmUp: ExecutionDetail = {
  execution: 'web--ami-b--0123456789abcdef',
  status: 'RUNNING',
  step: 'WarmUpBatch',
  stepEnteredAt: new Date(NOW.getTime() - 10_000).toISOString(),
  fleetState: {
    strategy: 'rolling',
    desiredCapacity: 4,
    batchSize: 1,
    warmupSeconds: 30,
    bakeSeconds: 60,
    maxChecks: 10,
    alarms: ['web-5xx', 'web-latency'],
  },
  progress: { batch: 1, expectedNew: 2, remainingOld: 2, ready: true, checks: 2, replaced: 1 },
};

function rolling(overrides: Partial<WatchInput> = {}): WatchInput {
  return {
    status: status(),
    groups: [
      {
        name: 'web-asg',
        desiredCapacity: 4,
        minSize: 4,
        maxSize: 5,
        instances: [
          instance('i-01', OLD),
          instance('i-02', NEW),
          instance('i-03', OLD, { lifecycleState: 'Terminating:Wait', targetState: 'draining' }),
          instance('i-04', NEW, { lifecycleState: 'Pending', targetState: 'initial' }),
          instance('i-05', OLD, { healthStatus: 'Unhealthy', tainted: 'health-check' }),
        ],
      },
    ],
    execution: warmUp,
    alarms: { 'web-5xx': 'OK', 'web-latency': 'ALARM' },
    now: NOW,
    ...overrides,
  };
}

describe('the watch model', () => {
  it('during a rollout names the image rolled out, counts its instances as new, and gives batch, percent, gate and alarms', () => {
    const model = buildWatchModel(rolling());
    expect(model).toMatchObject({
      fleet: 'web',
      strategy: 'rolling',
      currentImage: OLD,
      targetImage: NEW,
      phase: 'rolling',
    });
    expect(model.groups[0]?.counts).toEqual({ total: 5, new: 2, old: 3, serving: 2 });
    expect(model.groups[0]?.instances.map((i) => [i.instanceId, i.role])).toEqual([
      ['i-02', 'new'],
      ['i-04', 'new'],
      ['i-01', 'old'],
      ['i-03', 'old'],
      ['i-05', 'old'],
    ]);
    expect(model.rollout).toMatchObject({
      imageId: NEW,
      step: 'WarmUpBatch',
      batch: { number: 2, of: 4, size: 1 },
      percent: 25,
      gate: { kind: 'warm-up', seconds: 30, remainingSeconds: 20 },
      alarms: [
        { name: 'web-5xx', state: 'OK' },
        { name: 'web-latency', state: 'ALARM' },
      ],
    });
    expect(model.hints.some((h) => h.startsWith('phoenix pause web'))).toBe(true);
  });

  it('marks each instance: serving, on its way, unhealthy; tainted and draining', () => {
    const byId = new Map(buildWatchModel(rolling()).groups[0]!.instances.map((i) => [i.instanceId, i]));
    expect(byId.get('i-02')).toMatchObject({ mark: 'ok', draining: false, tainted: null });
    expect(byId.get('i-04')).toMatchObject({ mark: 'progressing' });
    expect(byId.get('i-03')).toMatchObject({ mark: 'progressing', draining: true });
    expect(byId.get('i-05')).toMatchObject({ mark: 'bad', tainted: 'health-check' });
  });

  it('the bake gate counts down to 0 and the batch is the last one', () => {
    const bake: ExecutionDetail = {
      ...warmUp,
      step: 'Bake',
      stepEnteredAt: new Date(NOW.getTime() - 90_000).toISOString(),
      progress: { ...warmUp.progress!, replaced: 4 },
    };
    const model = buildWatchModel(rolling({ execution: bake }));
    expect(model.rollout?.gate).toMatchObject({ kind: 'bake', seconds: 60, remainingSeconds: 0 });
    expect(model.rollout?.batch).toMatchObject({ number: 4, of: 4 });
  });

  it('a rollback step makes the phase rolling-back; a health check shows its checks', () => {
    expect(
      buildWatchModel(rolling({ execution: { ...warmUp, step: 'WaitForRollbackCapacity' } })).phase,
    ).toBe('rolling-back');
    const health = buildWatchModel(rolling({ execution: { ...warmUp, step: 'WaitForHealthyBatch' } }));
    expect(health.rollout?.gate).toMatchObject({
      kind: 'health',
      checks: { made: 2, max: 10 },
      seconds: null,
    });
    // Fast checks (a batch waiting for its target groups' initial health checks) do not count.
    const paced = buildWatchModel(
      rolling({
        execution: {
          ...warmUp,
          step: 'WaitForHealthyBatchInterval',
          progress: { ...warmUp.progress!, checks: 5, fastChecks: 3 },
        },
      }),
    );
    expect(paced.rollout?.gate).toMatchObject({ kind: 'health', checks: { made: 2, max: 10 } });
  });

  it('without a rollout: the desired image is the target, the last outcome maps to its exit, hints say what to do', () => {
    const idle = buildWatchModel(
      rolling({
        status: status({
          activeRollout: null,
          desiredImage: NEW,
          targetImage: NEW,
          lastOutcome: {
            kind: 'rollout',
            at: '',
            imageId: NEW,
            outcome: 'succeeded',
            execution: 'x',
            reason: null,
            step: null,
          },
        }),
        execution: null,
      }),
    );
    expect(idle).toMatchObject({
      phase: 'idle',
      targetImage: NEW,
      rollout: null,
      last: { exit: 'succeeded' },
    });
    expect(idle.groups[0]?.counts).toMatchObject({ new: 2, old: 3 });
    expect(idle.hints).toEqual(['phoenix rollback web   back to the image it ran before']);
    const paused = buildWatchModel(
      rolling({
        status: status({ activeRollout: null, paused: { at: '', reason: 'incident' } }),
        execution: null,
      }),
    );
    expect(paused.phase).toBe('paused');
    expect(paused.hints).toEqual(['phoenix resume web']);
  });
});

describe('the tree', () => {
  const model = buildWatchModel(rolling());

  it('shows the fleet, the images, batch N/M, the gate countdown, alarms, the group and each instance with its mark', () => {
    const lines = renderWatch(model, { color: false });
    const text = lines.join('\n');
    expect(text).not.toContain(ESC);
    expect(lines[0]).toMatch(/^Fleet web .*ROLLING$/);
    expect(text).toContain(`${NEW} (rolling out) ← ${OLD} (current)`);
    expect(text).toContain('batch 2/4');
    expect(text).toContain('25% complete');
    expect(text).toContain('warm-up, 20s left of 30s');
    expect(text).toMatch(/✔ web-5xx OK +✖ web-latency ALARM/);
    expect(text).toContain('group web-asg  2 new, 3 old, 2/4 serving');
    const instanceLines = lines.filter((l) => / i-0\d /.test(l));
    expect(instanceLines).toHaveLength(5);
    expect(instanceLines.filter((l) => l.includes('✔'))).toHaveLength(2);
    expect(instanceLines.filter((l) => l.includes('◌'))).toHaveLength(2);
    expect(instanceLines.filter((l) => l.includes('✖'))).toHaveLength(1);
    expect(text).toContain('tainted:health-check');
    expect(text).toContain('draining');
  });

  it('colours only when asked', () => {
    const coloured = renderWatch(model, { color: true }).join('\n');
    expect(coloured).toContain(`${ESC}[32m✔${ESC}[0m`);
    expect(coloured).toContain(`${ESC}[31m✖${ESC}[0m`);
    expect(useColour({ write: () => true, isTTY: true }, {})).toBe(true);
    expect(useColour({ write: () => true, isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(useColour({ write: () => true, isTTY: false }, {})).toBe(false);
  });
});

function capture(isTTY: boolean, columns?: number) {
  const chunks: string[] = [];
  return {
    chunks,
    out: { write: (t: string) => chunks.push(t), isTTY, ...(columns !== undefined ? { columns } : {}) },
  };
}

describe('the frame writer', () => {
  const model = buildWatchModel(rolling());
  const later = buildWatchModel(rolling({ now: new Date(NOW.getTime() + 5_000) }));

  it('off a TTY prints a snapshot only when the model changes (the countdown aside), without escape codes', () => {
    const { out, chunks } = capture(false);
    const writer = new FrameWriter(out);
    expect(writer.frame(renderModels([model], true), changeKey([model]))).toBeGreaterThan(0);
    expect(writer.frame(renderModels([later], true), changeKey([later]))).toBe(0);
    const done = buildWatchModel(rolling({ execution: { ...warmUp, step: 'CheckAlarmsAfterBatch' } }));
    expect(writer.frame(renderModels([done], true), changeKey([done]))).toBeGreaterThan(0);
    writer.close();
    expect(chunks).toHaveLength(2);
    expect(chunks.join('')).not.toContain(ESC);
    expect(chunks[1]).toContain('CheckAlarmsAfterBatch');
  });

  it('on a TTY redraws in place: cursor hidden, only changed lines rewritten, cursor shown on close', () => {
    const { out, chunks } = capture(true);
    const writer = new FrameWriter(out);
    const first = renderModels([model], false);
    writer.frame(first);
    expect(chunks[0]!.startsWith(`${ESC}[?25l`)).toBe(true);
    expect(chunks[0]!.split(`${ESC}[K`)).toHaveLength(first.length + 1);

    const second = renderModels([later], false);
    const changed = second.filter((l, i) => l !== first[i]);
    expect(changed).toHaveLength(1); // the countdown
    writer.frame(second);
    expect(chunks[1]!.startsWith(`${ESC}[${first.length}A`)).toBe(true);
    expect(chunks[1]!.split(`${ESC}[K`)).toHaveLength(2);
    expect(chunks[1]).toContain('15s left of 30s');

    writer.frame(second.slice(0, 3));
    expect(chunks[2]!.endsWith(`${ESC}[J`)).toBe(true);
    writer.close();
    expect(chunks[3]).toBe(`${ESC}[?25h`);
  });

  it('on a TTY cuts lines to the terminal width so that wrapping never breaks the redraw', () => {
    const { out, chunks } = capture(true, 30);
    new FrameWriter(out).frame(renderModels([model], false));
    const lines = chunks[0]!
      .replace(`${ESC}[?25l`, '')
      .split(`${ESC}[K\r\n`)
      .filter((l) => l !== '');
    expect(lines.every((l) => l.length < 30)).toBe(true);
  });
});

describe('exit codes', () => {
  it('are distinct, 0 for success, and the worst result wins', () => {
    const codes = Object.values(EXIT_CODES).map((e) => e.code);
    expect(new Set(codes).size).toBe(codes.length);
    expect(EXIT_CODES.succeeded.code).toBe(0);
    expect(exitOfOutcome('rolled-back')).toBe('rolledBack');
    expect(exitOfOutcome('rejected')).toBe('rejected');
    expect(exitOfOutcome(null)).toBe('failed');
    expect(worstExit(['succeeded', 'rejected', 'rolledBack'])).toBe('rolledBack');
    expect(worstExit([])).toBe('succeeded');
  });
});

describe('a watch that meets a failed read', () => {
  const at = new Date('2026-12-02T03:04:05Z');
  const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });

  it('keeps the last frame with a note, reads again, and clears the note once a read works', async () => {
    const answers: (number | Error)[] = [1, throttled, throttled, 2];
    const reader = new TolerantReader(
      () => {
        const next = answers.shift()!;
        return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
      },
      () => at,
    );
    expect(await reader.next()).toEqual({ value: 1 });
    const failed = await reader.next();
    expect(failed.value).toBe(1);
    expect(failed.note).toBe(
      `! read failed (1 of ${MAX_FAILED_READS} in a row, reading again): ThrottlingException: Rate exceeded — shown as of 03:04:05 UTC`,
    );
    expect((await reader.next()).note).toContain(`(2 of ${MAX_FAILED_READS} in a row`);
    expect(await reader.next()).toEqual({ value: 2 });
  });

  it('gives up on the first read, and after MAX_FAILED_READS failures in a row', async () => {
    await expect(new TolerantReader(() => Promise.reject(throttled)).next()).rejects.toBe(throttled);
    let calls = 0;
    const reader = new TolerantReader(() =>
      calls++ === 0 ? Promise.resolve('frame') : Promise.reject(throttled),
    );
    await reader.next();
    for (let i = 1; i < MAX_FAILED_READS; i += 1) expect((await reader.next()).value).toBe('frame');
    await expect(reader.next()).rejects.toBe(throttled);
  });

  it('puts the note under a header', () => {
    expect(withNote('Rolling back web', undefined)).toBe('Rolling back web');
    expect(withNote(undefined, '! note')).toBe('! note');
    expect(withNote('Rolling back web', '! note')).toBe('Rolling back web\n! note');
  });
});
