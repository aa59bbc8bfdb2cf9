/**
 * The watch model of `phoenix status <fleet> --watch` (and of `publish --wait`, `rollback --wait`):
 * one fleet as a tree, like `kubectl argo rollouts get rollout --watch` — fleet → strategy, target
 * image vs current image, batch N/M, percent complete, the current gate with its countdown and the
 * gating alarms → each group → each instance with its image, lifecycle, health, target-group state
 * and marks — and its text rendering. Pure: cli/watch.ts reads the real state into a `WatchInput`
 * (the fleet record, the groups, the instances, target health, alarms, the execution's history)
 * and draws the frames.
 */
import { countedChecks } from '../lambdas/domain/pacing';
import type { FleetState, Progress } from '../lambdas/domain/rollout';
import { exitOfOutcome, type ExitName } from './exit-codes';
import type { FleetStatus } from './status';

// ---- what cli/watch.ts reads -------------------------------------------------------------------

export interface WatchInstanceInput {
  readonly instanceId: string;
  /** null: EC2 did not say. */
  readonly imageId: string | null;
  readonly lifecycleState: string;
  readonly healthStatus: string;
  /** The worst state over the group's target groups; null when the group has none. */
  readonly targetState: string | null;
  /** The `phoenix:tainted` tag (the replacement's cause), if any. */
  readonly tainted: string | null;
  /** The `phoenix:drained` tag is set (Phoenix drained it). */
  readonly drained: boolean;
}

export interface WatchGroupInput {
  readonly name: string;
  readonly desiredCapacity: number;
  readonly minSize: number;
  readonly maxSize: number;
  readonly instances: readonly WatchInstanceInput[];
}

/** The active rollout's execution, as its history says (the newest state entered and its input). */
export interface ExecutionDetail {
  /** The execution followed (the lock's, or its continuation). */
  readonly execution: string;
  readonly status: string | null;
  readonly step: string | null;
  /** ISO-8601: when `step` was entered. */
  readonly stepEnteredAt: string | null;
  /** From the input of the newest state entered. */
  readonly fleetState?: Partial<FleetState>;
  readonly progress?: Partial<Progress>;
}

export interface WatchInput {
  readonly status: FleetStatus;
  readonly groups: readonly WatchGroupInput[];
  readonly execution: ExecutionDetail | null;
  /** The gating alarms' states by name (those of the rollout's fleetState). */
  readonly alarms: Readonly<Record<string, string>>;
  readonly now: Date;
}

// ---- the model (what --json prints) ------------------------------------------------------------

/** ✔ serving, ◌ on its way (pending, warming, terminating), ✖ unhealthy. */
export type Mark = 'ok' | 'progressing' | 'bad';

export interface WatchInstance {
  readonly instanceId: string;
  readonly imageId: string | null;
  /** new: on the target image; old: on another image; unknown: EC2 did not say. */
  readonly role: 'new' | 'old' | 'unknown';
  readonly lifecycleState: string;
  readonly healthStatus: string;
  readonly targetState: string | null;
  readonly mark: Mark;
  readonly tainted: string | null;
  readonly draining: boolean;
}

export interface WatchGroup {
  readonly name: string;
  readonly desiredCapacity: number;
  readonly minSize: number;
  readonly maxSize: number;
  readonly counts: {
    readonly total: number;
    readonly new: number;
    readonly old: number;
    readonly serving: number;
  };
  readonly instances: readonly WatchInstance[];
}

export type GateKind = 'lock' | 'alarms' | 'health' | 'warm-up' | 'bake' | 'rollback-capacity';

export interface WatchGate {
  readonly kind: GateKind;
  readonly step: string;
  /** The gate's length (warm-up, bake), null when it has none. */
  readonly seconds: number | null;
  /** Seconds left of it (0 at the end), null when it has no length. */
  readonly remainingSeconds: number | null;
  /** Health checks made so far and allowed, when the gate is the batch health check. */
  readonly checks?: { readonly made: number; readonly max: number | null };
}

export type WatchPhase = 'idle' | 'queued' | 'rolling' | 'rolling-back' | 'paused';

export interface WatchRollout {
  readonly execution: string;
  readonly imageId: string;
  readonly startedAt: string;
  readonly status: string | null;
  readonly step: string | null;
  readonly batch: { readonly number: number; readonly of: number; readonly size: number } | null;
  /** Instances on the target image that serve, of the desired capacity, 0–100. */
  readonly percent: number | null;
  readonly gate: WatchGate | null;
  readonly alarms: readonly { readonly name: string; readonly state: string }[];
  readonly note?: string;
}

export interface WatchModel {
  readonly fleet: string;
  readonly channel: string | null;
  readonly strategy: 'rolling' | 'blue-green' | null;
  /**
   * The image the fleet runs as Phoenix last committed it; before its first rollout, the image of
   * the launch template the rollout found (its fleetState).
   */
  readonly currentImage: string | null;
  /** The image being rolled out, else the desired image. */
  readonly targetImage: string | null;
  readonly phase: WatchPhase;
  readonly rollout: WatchRollout | null;
  readonly groups: readonly WatchGroup[];
  /** The newest history entry (what the last rollout did). */
  readonly last: {
    readonly outcome: string;
    readonly imageId: string;
    readonly execution: string;
    readonly reason: string | null;
    readonly step: string | null;
    /** The exit it maps to (cli/exit-codes.ts). */
    readonly exit: ExitName;
  } | null;
  readonly pinnedImage: string | null;
  /** What the operator can do now, as commands. */
  readonly hints: readonly string[];
}

// ---- building ----------------------------------------------------------------------------------

const ROLLBACK_STEPS =
  /^(StartRollback|CheckRollbackCapacity|WaitForRollbackCapacity|RollbackCapacityLoop|FinishRollback|ReportRolledBack)$/;

function gateOf(detail: ExecutionDetail, now: Date): WatchGate | null {
  const step = detail.step;
  if (step === null) return null;
  const fs = detail.fleetState;
  const timed = (kind: GateKind, seconds: number | undefined): WatchGate => {
    const length = typeof seconds === 'number' ? seconds : null;
    const since = detail.stepEnteredAt !== null ? Date.parse(detail.stepEnteredAt) : NaN;
    const remaining =
      length === null || Number.isNaN(since)
        ? null
        : Math.max(0, Math.ceil(length - (now.getTime() - since) / 1000));
    return { kind, step, seconds: length, remainingSeconds: remaining };
  };
  if (step === 'WarmUpBatch') return timed('warm-up', fs?.warmupSeconds);
  if (step === 'Bake') return timed('bake', fs?.bakeSeconds);
  if (/^(CheckBatchHealth|WaitForHealthyBatch(Interval)?|BatchHealthLoop)$/.test(step)) {
    // The checks that count towards the bound: the fast ones (domain/pacing.ts) do not.
    return {
      ...timed('health', undefined),
      checks: {
        made: countedChecks(detail.progress?.checks ?? 0, detail.progress),
        max: fs?.maxChecks ?? null,
      },
    };
  }
  if (step.startsWith('CheckAlarms')) return timed('alarms', undefined);
  if (/FleetLock$/.test(step)) return timed('lock', undefined);
  if (/RollbackCapacity/.test(step)) return timed('rollback-capacity', undefined);
  return null;
}

function markOf(i: WatchInstanceInput): Mark {
  if (i.healthStatus === 'Unhealthy' || i.targetState === 'unhealthy') return 'bad';
  const serving = i.lifecycleState === 'InService' && (i.targetState === null || i.targetState === 'healthy');
  return serving ? 'ok' : 'progressing';
}

function groupOf(g: WatchGroupInput, target: string | null): WatchGroup {
  const instances = g.instances.map((i): WatchInstance => ({
    instanceId: i.instanceId,
    imageId: i.imageId,
    role: i.imageId === null ? 'unknown' : i.imageId === target ? 'new' : 'old',
    lifecycleState: i.lifecycleState,
    healthStatus: i.healthStatus,
    targetState: i.targetState,
    mark: markOf(i),
    tainted: i.tainted,
    draining: i.drained || i.lifecycleState.startsWith('Terminating') || i.targetState === 'draining',
  }));
  // New instances first, then by id: a stable order, so that frames change only where state does.
  instances.sort(
    (a, b) => Number(b.role === 'new') - Number(a.role === 'new') || a.instanceId.localeCompare(b.instanceId),
  );
  return {
    name: g.name,
    desiredCapacity: g.desiredCapacity,
    minSize: g.minSize,
    maxSize: g.maxSize,
    counts: {
      total: instances.length,
      new: instances.filter((i) => i.role === 'new').length,
      old: instances.filter((i) => i.role !== 'new').length,
      serving: instances.filter((i) => i.mark === 'ok').length,
    },
    instances,
  };
}

export function buildWatchModel(input: WatchInput): WatchModel {
  const s = input.status;
  const lock = s.activeRollout;
  const target = lock?.imageId ?? s.desiredImage;
  const groups = input.groups.map((g) => groupOf(g, target));
  const detail = input.execution;
  let rollout: WatchRollout | null = null;
  let phase: WatchPhase = s.paused !== null ? 'paused' : 'idle';
  if (lock !== null) {
    const fs = detail?.fleetState;
    const desired = fs?.desiredCapacity ?? groups.reduce((n, g) => n + g.desiredCapacity, 0);
    const size = fs?.batchSize;
    const newServing = groups.reduce(
      (n, g) => n + g.instances.filter((i) => i.role === 'new' && i.mark === 'ok').length,
      0,
    );
    const of = size !== undefined && size > 0 ? Math.max(1, Math.ceil(desired / size)) : null;
    const replaced = detail?.progress?.replaced ?? 0;
    const finishing =
      detail?.step !== null &&
      detail?.step !== undefined &&
      /^(Bake|CheckAlarmsAfterBake|ReleaseFleetBeforeCommit|CommitRollout|RolloutSucceeded)$/.test(
        detail.step,
      );
    const batch =
      of !== null && size !== undefined && detail?.progress !== undefined
        ? { number: finishing ? of : Math.min(of, Math.floor(replaced / size) + 1), of, size }
        : null;
    const alarmNames = fs?.alarms ?? [];
    rollout = {
      execution: detail?.execution ?? lock.execution,
      imageId: lock.imageId,
      startedAt: lock.startedAt,
      status: detail?.status ?? lock.workflow.status,
      step: detail?.step ?? lock.workflow.step,
      batch,
      percent: desired > 0 ? Math.round((100 * Math.min(desired, newServing)) / desired) : null,
      gate: detail !== null ? gateOf(detail, input.now) : null,
      alarms: alarmNames.map((name) => ({ name, state: input.alarms[name] ?? 'MISSING' })),
      ...(lock.workflow.note !== undefined ? { note: lock.workflow.note } : {}),
    };
    phase =
      lock.queued !== undefined
        ? 'queued'
        : rollout.step !== null && ROLLBACK_STEPS.test(rollout.step)
          ? 'rolling-back'
          : 'rolling';
  }
  const last = s.lastOutcome;
  const hints: string[] = [];
  if (lock !== null) {
    hints.push(`phoenix pause ${s.fleet}   stop at the next safe point`);
    hints.push(
      `aws stepfunctions stop-execution --execution-arn …:${rollout!.execution}   abort (no rollback)`,
    );
  } else if (s.paused !== null) {
    hints.push(`phoenix resume ${s.fleet}`);
  } else if (last?.outcome === 'succeeded') {
    hints.push(`phoenix rollback ${s.fleet}   back to the image it ran before`);
  }
  if (s.pinnedImage !== null) hints.push(`phoenix unpin ${s.fleet}`);
  return {
    fleet: s.fleet,
    channel: s.channel,
    strategy: detail?.fleetState?.strategy ?? (detail?.fleetState !== undefined ? 'rolling' : null),
    currentImage: s.desiredImage ?? detail?.fleetState?.previousImageId ?? null,
    targetImage: target,
    phase,
    rollout,
    groups,
    last: last === null ? null : { ...last, exit: exitOfOutcome(last.outcome) },
    pinnedImage: s.pinnedImage?.imageId ?? null,
    hints,
  };
}

// ---- rendering ---------------------------------------------------------------------------------

export interface RenderOptions {
  /** ANSI colours (off for NO_COLOR and non-TTY output). */
  readonly color: boolean;
}

const SGR = { green: 32, yellow: 33, red: 31, cyan: 36, dim: 2, bold: 1 } as const;

export const MARKS: Readonly<Record<Mark, string>> = { ok: '✔', progressing: '◌', bad: '✖' };

const markColour: Readonly<Record<Mark, keyof typeof SGR>> = {
  ok: 'green',
  progressing: 'yellow',
  bad: 'red',
};

function countdown(gate: WatchGate): string {
  const parts: string[] = [gate.kind];
  if (gate.remainingSeconds !== null && gate.seconds !== null) {
    parts.push(`${gate.remainingSeconds}s left of ${gate.seconds}s`);
  }
  if (gate.checks !== undefined) {
    parts.push(`check ${gate.checks.made}${gate.checks.max !== null ? `/${gate.checks.max}` : ''}`);
  }
  return `${parts.join(', ')} (${gate.step})`;
}

/** The model as lines of text (no trailing newline), a tree like Argo Rollouts' `get rollout`. */
export function renderWatch(model: WatchModel, options: RenderOptions): string[] {
  const paint = (colour: keyof typeof SGR, text: string) =>
    options.color ? `\x1b[${SGR[colour]}m${text}\x1b[0m` : text;
  const lines: string[] = [];
  lines.push(
    `${paint('bold', `Fleet ${model.fleet}`)}  channel ${model.channel ?? '-'}  ${model.phase.toUpperCase()}`,
  );
  lines.push(`  Strategy:  ${model.strategy ?? '-'}`);
  const r = model.rollout;
  if (r !== null) {
    lines.push(
      `  Images:    ${paint('cyan', r.imageId)} (rolling out) ← ${model.currentImage ?? 'unknown'} (current)`,
    );
    const batch =
      r.batch !== null ? `batch ${r.batch.number}/${r.batch.of} (${r.batch.size} per batch)` : 'batch -';
    lines.push(
      `  Step:      ${r.step ?? 'unknown'}  ${batch}  ${r.percent !== null ? `${r.percent}% complete` : ''}`.trimEnd(),
    );
    if (r.gate !== null) lines.push(`  Gate:      ${countdown(r.gate)}`);
    if (r.alarms.length > 0) {
      const alarms = r.alarms.map((a) => {
        const mark: Mark = a.state === 'OK' ? 'ok' : a.state === 'ALARM' ? 'bad' : 'progressing';
        return `${paint(markColour[mark], MARKS[mark])} ${a.name} ${a.state}`;
      });
      lines.push(`  Alarms:    ${alarms.join('  ')}`);
    }
    lines.push(
      `  Execution: ${r.execution} ${r.status ?? 'status unknown'}${r.note !== undefined ? ` (${r.note})` : ''}`,
    );
  } else {
    lines.push(
      `  Image:     ${model.targetImage ?? 'unknown'}${model.pinnedImage !== null ? ' (pinned)' : ''}`,
    );
  }
  if (model.last !== null) {
    const l = model.last;
    const mark: Mark = l.exit === 'succeeded' ? 'ok' : l.exit === 'stopped' ? 'progressing' : 'bad';
    lines.push(
      `  Last:      ${paint(markColour[mark], MARKS[mark])} ${l.outcome} ${l.imageId}${l.step !== null ? ` at ${l.step}` : ''}${l.reason !== null ? `: ${l.reason}` : ''}`,
    );
  }
  model.groups.forEach((g, gi) => {
    const lastGroup = gi === model.groups.length - 1;
    lines.push(
      `${lastGroup ? '└' : '├'}─ group ${g.name}  ${g.counts.new} new, ${g.counts.old} old, ${g.counts.serving}/${g.desiredCapacity} serving  (min ${g.minSize}, max ${g.maxSize})`,
    );
    const stem = lastGroup ? '   ' : '│  ';
    g.instances.forEach((i, ii) => {
      const branch = ii === g.instances.length - 1 ? '└' : '├';
      const image =
        i.role === 'new' ? paint('cyan', i.imageId ?? '?') : paint('dim', i.imageId ?? '(unknown image)');
      const marks = [
        ...(i.tainted !== null ? [paint('red', `tainted:${i.tainted}`)] : []),
        ...(i.draining ? [paint('yellow', 'draining')] : []),
      ];
      lines.push(
        `${stem}${branch}─ ${paint(markColour[i.mark], MARKS[i.mark])} ${i.instanceId}  ${image}  ${i.role}  ${i.lifecycleState}/${i.healthStatus}${i.targetState !== null ? `  tg:${i.targetState}` : ''}${marks.length > 0 ? `  ${marks.join(' ')}` : ''}`,
      );
    });
  });
  if (model.hints.length > 0) {
    lines.push('', ...model.hints.map((h) => paint('dim', `  ${h}`)));
  }
  return lines;
}
