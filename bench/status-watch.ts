/**
 * The redraw cost of `phoenix status <fleet> --watch` (cli/watch.ts), pure (no AWS reads): a
 * 20-instance fleet mid-rollout (batch 3 of 5, warm-up), its watch model built and its tree rendered
 * and written through the frame writer to a TTY-like sink.
 *
 * Figures: time to build + render one frame (median of 2,000, after 200 uncounted), and the bytes
 * written per redraw: the first frame, a redraw where only the countdown changed, a redraw after a
 * batch (four instances change), and off a TTY a snapshot on change.
 *
 *   npx tsx bench/status-watch.ts     prints the figures as JSON
 */
import { performance } from 'node:perf_hooks';
import type { FleetStatus } from '../cli/status';
import { FrameWriter, renderModels } from '../cli/watch';
import { buildWatchModel, type WatchInput, type WatchInstanceInput } from '../cli/watch-model';

const OLD = 'ami-0000000000000000a';
const NEW = 'ami-0000000000000000b';
const SIZE = 20;
const BATCH = 4;
const FRAMES = 2000;
const WARMUP = 200;

/** The fleet after `replaced` old instances were retired, `seconds` into the current batch's warm-up. */
function input(replaced: number, seconds: number): WatchInput {
  const now = new Date('2026-12-01T12:00:00Z');
  const newCount = Math.min(SIZE, replaced + BATCH);
  const instances: WatchInstanceInput[] = [];
  for (let i = 0; i < SIZE + BATCH; i += 1) {
    const isNew = i < newCount;
    if (!isNew && i - newCount >= SIZE - replaced) break;
    instances.push({
      instanceId: `i-${String(i).padStart(17, '0')}`,
      imageId: isNew ? NEW : OLD,
      lifecycleState: 'InService',
      healthStatus: 'Healthy',
      targetState: 'healthy',
      tainted: null,
      drained: false,
    });
  }
  const status: FleetStatus = {
    fleet: 'web',
    channel: 'web',
    desiredImage: OLD,
    previousImage: null,
    targetImage: NEW,
    groups: [],
    activeRollout: {
      execution: 'web--ami-0000000000000000b--0123456789abcdef',
      imageId: NEW,
      startedAt: '2026-12-01T11:55:00Z',
      expiresAt: '2026-12-01T13:55:00Z',
      expired: false,
      workflow: { status: 'RUNNING', step: 'WarmUpBatch' },
    },
    lastOutcome: null,
    paused: null,
    pinnedImage: null,
  };
  return {
    status,
    groups: [{ name: 'web-asg', desiredCapacity: SIZE, minSize: SIZE, maxSize: SIZE + BATCH, instances }],
    execution: {
      execution: status.activeRollout!.execution,
      status: 'RUNNING',
      step: 'WarmUpBatch',
      stepEnteredAt: new Date(now.getTime() - seconds * 1000).toISOString(),
      fleetState: {
        strategy: 'rolling',
        desiredCapacity: SIZE,
        batchSize: BATCH,
        warmupSeconds: 120,
        bakeSeconds: 300,
        maxChecks: 20,
        alarms: ['web-5xx', 'web-latency'],
      },
      progress: {
        batch: BATCH,
        expectedNew: newCount,
        remainingOld: SIZE - replaced,
        ready: true,
        checks: 1,
        replaced,
      },
    },
    alarms: { 'web-5xx': 'OK', 'web-latency': 'OK' },
    now,
  };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

export interface StatusWatchFigures {
  /** Median ms to build the model and render the tree of one frame (20 instances). */
  readonly frameMs: number;
  readonly frameP95Ms: number;
  /** Bytes written: the first frame, a countdown-only redraw, a redraw after a batch, a non-TTY snapshot. */
  readonly bytes: {
    readonly first: number;
    readonly countdown: number;
    readonly batch: number;
    readonly nonTty: number;
  };
  readonly lines: number;
}

export function measureStatusWatch(): StatusWatchFigures {
  const times: number[] = [];
  for (let i = 0; i < WARMUP + FRAMES; i += 1) {
    const started = performance.now();
    const lines = renderModels([buildWatchModel(input(8, i % 120))], true);
    const ms = performance.now() - started;
    if (lines.length === 0) throw new Error('no frame rendered');
    if (i >= WARMUP) times.push(ms);
  }
  const sorted = [...times].sort((a, b) => a - b);
  const sink = { write: () => true, isTTY: true, columns: 200 };
  const tty = new FrameWriter(sink);
  const first = renderModels([buildWatchModel(input(8, 10))], true);
  const bytesFirst = tty.frame(first);
  const bytesCountdown = tty.frame(renderModels([buildWatchModel(input(8, 12))], true));
  const bytesBatch = tty.frame(renderModels([buildWatchModel(input(12, 0))], true));
  tty.close();
  const plain = new FrameWriter({ write: () => true, isTTY: false });
  const bytesNonTty = plain.frame(renderModels([buildWatchModel(input(8, 10))], false), 'a');
  return {
    frameMs: Math.round(median(times) * 1000) / 1000,
    frameP95Ms: Math.round(sorted[Math.floor(sorted.length * 0.95)]! * 1000) / 1000,
    bytes: { first: bytesFirst, countdown: bytesCountdown, batch: bytesBatch, nonTty: bytesNonTty },
    lines: first.length,
  };
}

type Record = (figure: {
  name: string;
  value: number | null;
  unit: string;
  target: number | null;
  command: string;
  detail?: { [key: string]: unknown };
  error?: string;
}) => unknown;

/** The figures of bench/run.ts (no targets: measured, not asserted). */
export function benchStatusWatch(record: Record): void {
  const command = 'npx tsx bench/status-watch.ts';
  const f = measureStatusWatch();
  record({
    name: 'status --watch: build + render one frame, 20 instances (median of 2,000)',
    value: f.frameMs,
    unit: 'ms',
    target: null,
    command,
    detail: { p95Ms: f.frameP95Ms, lines: f.lines },
  });
  record({
    name: 'status --watch: bytes written per redraw, only the countdown changed (TTY)',
    value: f.bytes.countdown,
    unit: 'B',
    target: null,
    command,
    detail: { firstFrame: f.bytes.first, afterABatch: f.bytes.batch, nonTtySnapshot: f.bytes.nonTty },
  });
}

if (require.main === module) {
  process.stdout.write(`${JSON.stringify(measureStatusWatch(), null, 2)}\n`);
}
