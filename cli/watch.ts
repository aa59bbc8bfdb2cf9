/**
 * `phoenix status <fleet> --watch`: the watch model (cli/watch-model.ts) read from the real state
 * every interval and drawn as a live tree that redraws in place; also the progress display of
 * `phoenix publish --wait` and `phoenix rollback --wait`.
 *
 * Reads only: the fleet record (DynamoDB), the groups (Auto Scaling), the instances and their tags
 * (EC2), target health (ELBv2), the gating alarms (CloudWatch) and the execution's newest state
 * entered with its input (Step Functions GetExecutionHistory).
 *
 * Terminal: on a TTY each frame moves the cursor back to the frame's first line and rewrites only
 * the lines that changed (each ended by clear-to-end-of-line, the rest of the old frame erased),
 * with the cursor hidden until exit or SIGINT. Not a TTY (or `--json`): a new snapshot only when
 * the model changes (the countdown aside), no escape codes. NO_COLOR turns colours off.
 */
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { GetExecutionHistoryCommand, SFNClient } from '@aws-sdk/client-sfn';
import type { AutoScalingGroup } from '@aws-sdk/client-auto-scaling';
import { Env, Tags } from '../lambdas/domain/contract';
import type { FleetState, Progress } from '../lambdas/domain/rollout';
import { alarmStates } from '../lambdas/aws/alarms';
import { ec2 } from '../lambdas/aws/clients';
import { aws } from '../lambdas/aws/errors';
import { groupsOfFleet } from '../lambdas/aws/fleets';
import { targetStates } from '../lambdas/aws/load-balancing';
import type { ExitName } from './exit-codes';
import { fleetStatus } from './status';
import {
  buildWatchModel,
  type ExecutionDetail,
  renderWatch,
  type WatchGroupInput,
  type WatchInstanceInput,
  type WatchModel,
} from './watch-model';

// ---- reading -----------------------------------------------------------------------------------

const STATE_MACHINE_ARN = /^(arn:[^:]+:states:[^:]+:\d{12}):stateMachine:([^:]+)$/;

/** The group's instances with image, tags and the worst target-group state. */
async function groupInput(group: AutoScalingGroup): Promise<WatchGroupInput> {
  const members = (group.Instances ?? []).filter((m) => m.InstanceId !== undefined);
  const ids = members.map((m) => m.InstanceId!);
  const ec2Facts = new Map<string, { imageId?: string; tags: Map<string, string> }>();
  for (let i = 0; i < ids.length; i += 1000) {
    let token: string | undefined;
    do {
      const page = await aws('DescribeInstances', () =>
        ec2().send(new DescribeInstancesCommand({ InstanceIds: ids.slice(i, i + 1000), NextToken: token })),
      );
      for (const instance of (page.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
        if (instance.InstanceId === undefined) continue;
        ec2Facts.set(instance.InstanceId, {
          ...(instance.ImageId !== undefined ? { imageId: instance.ImageId } : {}),
          tags: new Map((instance.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
        });
      }
      token = page.NextToken;
    } while (token);
  }
  const worst = new Map<string, string>();
  for (const arn of group.TargetGroupARNs ?? []) {
    const states = await targetStates(arn, ids);
    for (const id of ids) {
      const state = states.get(id) ?? 'unused';
      const before = worst.get(id);
      if (before === undefined || before === 'healthy') worst.set(id, state);
    }
  }
  const hasTargetGroups = (group.TargetGroupARNs ?? []).length > 0;
  return {
    name: group.AutoScalingGroupName ?? '?',
    desiredCapacity: group.DesiredCapacity ?? 0,
    minSize: group.MinSize ?? 0,
    maxSize: group.MaxSize ?? 0,
    instances: members.map((m): WatchInstanceInput => {
      const facts = ec2Facts.get(m.InstanceId!);
      return {
        instanceId: m.InstanceId!,
        imageId: facts?.imageId ?? null,
        lifecycleState: m.LifecycleState ?? 'Unknown',
        healthStatus: m.HealthStatus ?? 'Unknown',
        targetState: hasTargetGroups ? (worst.get(m.InstanceId!) ?? 'unused') : null,
        tainted: facts?.tags.get(Tags.tainted) ?? null,
        drained: facts?.tags.has(Tags.drained) ?? false,
      };
    }),
  };
}

/** The newest state entered by the execution, with its input's fleetState and progress; never throws. */
export async function readExecutionDetail(
  sfn: SFNClient,
  stateMachineArn: string | undefined,
  execution: string,
): Promise<Omit<ExecutionDetail, 'status'> | null> {
  const arn = stateMachineArn !== undefined ? STATE_MACHINE_ARN.exec(stateMachineArn) : null;
  if (arn === null) return null;
  try {
    const history = await sfn.send(
      new GetExecutionHistoryCommand({
        executionArn: `${arn[1]}:execution:${arn[2]}:${execution}`,
        reverseOrder: true,
        maxResults: 100,
      }),
    );
    const entered = history.events?.find(
      (e) => e.type?.endsWith('StateEntered') && e.stateEnteredEventDetails?.name !== undefined,
    );
    if (entered === undefined) return { execution, step: null, stepEnteredAt: null };
    let state: { fleetState?: Partial<FleetState>; progress?: Partial<Progress> } = {};
    try {
      const parsed = JSON.parse(entered.stateEnteredEventDetails?.input ?? 'null') as unknown;
      if (parsed !== null && typeof parsed === 'object') state = parsed;
    } catch {
      // An input that is not JSON tells nothing more than the step.
    }
    return {
      execution,
      step: entered.stateEnteredEventDetails!.name!,
      stepEnteredAt: entered.timestamp !== undefined ? new Date(entered.timestamp).toISOString() : null,
      ...(state.fleetState !== undefined ? { fleetState: state.fleetState } : {}),
      ...(state.progress !== undefined ? { progress: state.progress } : {}),
    };
  } catch {
    return null;
  }
}

export interface ReadWatchOptions {
  /** Default `$PHOENIX_ROLLOUT_STATE_MACHINE_ARN`. */
  readonly stateMachineArn?: string;
  readonly now?: Date;
}

/** One fleet's watch model, read from the real state. */
export async function readWatchModel(fleet: string, options: ReadWatchOptions = {}): Promise<WatchModel> {
  const now = options.now ?? new Date();
  const stateMachineArn = options.stateMachineArn ?? process.env[Env.rolloutStateMachineArn];
  const report = await fleetStatus({
    fleet,
    now,
    ...(stateMachineArn !== undefined ? { stateMachineArn } : {}),
  });
  const status = report.fleets[0]!;
  const groups: WatchGroupInput[] = [];
  for (const member of await groupsOfFleet(fleet)) groups.push(await groupInput(member.group));
  let execution: ExecutionDetail | null = null;
  const alarms: Record<string, string> = {};
  const lock = status.activeRollout;
  if (lock !== null) {
    const sfn = new SFNClient({
      maxAttempts: 2,
      requestHandler: { connectionTimeout: 2_000, requestTimeout: 5_000 },
    });
    try {
      const followed = lock.workflow.continuedAs ?? lock.execution;
      const detail = await readExecutionDetail(sfn, stateMachineArn, followed);
      if (detail !== null) execution = { ...detail, status: lock.workflow.status };
    } finally {
      sfn.destroy();
    }
    const names = execution?.fleetState?.alarms ?? [];
    if (names.length > 0) {
      try {
        for (const [name, state] of await alarmStates(names)) alarms[name] = state;
      } catch {
        // Alarms that cannot be read show as MISSING; the rollout itself reads them again.
      }
    }
  }
  return buildWatchModel({ status, groups, execution, alarms, now });
}

// ---- drawing -----------------------------------------------------------------------------------

export interface Output {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;
const visible = (line: string) => line.replace(ANSI, '');

/** The model without its countdown: what "changed" means off a TTY. */
export function changeKey(models: readonly WatchModel[]): string {
  return JSON.stringify(models, (key, value: unknown) => (key === 'remainingSeconds' ? undefined : value));
}

/**
 * Draws successive frames. On a TTY: in place (cursor up to the frame's first line, rewrite only
 * the lines that differ, each followed by clear-to-end-of-line, erase what is left of the old
 * frame), cursor hidden until `close()`. Off a TTY: each changed frame printed whole.
 */
export class FrameWriter {
  private previous: string[] = [];
  private previousKey: string | undefined;
  private cursorHidden = false;

  constructor(
    private readonly out: Output,
    private readonly tty: boolean = out.isTTY === true,
  ) {}

  /** Draw `lines` (and `key`: off a TTY, nothing is printed while it stays the same). Returns the bytes written. */
  frame(lines: readonly string[], key: string = lines.join('\n')): number {
    let text: string;
    if (!this.tty) {
      if (key === this.previousKey) return 0;
      this.previousKey = key;
      text = `${lines.map(visible).join('\n')}\n`;
    } else {
      const width = this.out.columns;
      const fitted = lines.map((l) =>
        width !== undefined && width > 1 && visible(l).length >= width ? visible(l).slice(0, width - 1) : l,
      );
      const parts: string[] = [];
      if (!this.cursorHidden) {
        parts.push('\x1b[?25l');
        this.cursorHidden = true;
      }
      if (this.previous.length > 0) parts.push(`\x1b[${this.previous.length}A\r`);
      // Unchanged lines are stepped over (one cursor-down per run of them), changed ones rewritten.
      let skip = 0;
      fitted.forEach((line, i) => {
        if (i < this.previous.length && this.previous[i] === line) {
          skip += 1;
          return;
        }
        if (skip > 0) parts.push(`\x1b[${skip}B`);
        skip = 0;
        parts.push(`${line}\x1b[K\r\n`);
      });
      if (skip > 0) parts.push(`\x1b[${skip}B`);
      if (fitted.length < this.previous.length) parts.push('\x1b[J');
      this.previous = fitted;
      text = parts.join('');
    }
    this.out.write(text);
    return Buffer.byteLength(text);
  }

  /** Show the cursor again (TTY). */
  close(): void {
    if (this.cursorHidden) {
      this.out.write('\x1b[?25h');
      this.cursorHidden = false;
    }
  }
}

/** Colours unless NO_COLOR is set (to anything) or the output is not a TTY. */
export function useColour(out: Output, env: NodeJS.ProcessEnv = process.env): boolean {
  return out.isTTY === true && (env['NO_COLOR'] === undefined || env['NO_COLOR'] === '');
}

/** The lines of several fleets' models, a blank line between them. */
export function renderModels(models: readonly WatchModel[], colour: boolean, header?: string): string[] {
  const lines: string[] = header !== undefined ? [header, ''] : [];
  models.forEach((m, i) => {
    if (i > 0) lines.push('');
    lines.push(...renderWatch(m, { color: colour }));
  });
  return lines;
}

/** A display of successive model snapshots: a live tree, or JSON documents (one per change). */
export class WatchDisplay {
  private readonly writer: FrameWriter;
  private lastJsonKey: string | undefined;
  private readonly colour: boolean;
  private readonly onSignal = () => {
    this.close();
    process.exit(130);
  };

  constructor(
    private readonly out: Output,
    private readonly json: boolean,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.writer = new FrameWriter(out, !json && out.isTTY === true);
    this.colour = !json && useColour(out, env);
    process.once('SIGINT', this.onSignal);
  }

  show(models: readonly WatchModel[], header?: string): number {
    if (this.json) {
      const key = changeKey(models);
      if (key === this.lastJsonKey) return 0;
      this.lastJsonKey = key;
      const text = `${JSON.stringify(models.length === 1 ? models[0] : { fleets: models })}\n`;
      this.out.write(text);
      return Buffer.byteLength(text);
    }
    return this.writer.frame(
      renderModels(models, this.colour, header),
      `${header ?? ''}${changeKey(models)}`,
    );
  }

  close(): void {
    process.removeListener('SIGINT', this.onSignal);
    this.writer.close();
  }
}

/** How many reads in a row may fail before a watch gives up (the first read may not fail at all). */
export const MAX_FAILED_READS = 5;

/**
 * A watch's reads, tolerant of a passing failure: a read that fails (throttling, a dropped
 * connection) keeps the last good value on screen with a note saying so, and the next interval
 * reads again. The first read failing (nothing to show: a wrong endpoint, no such fleet) or
 * `MAX_FAILED_READS` failures in a row throw the last error.
 */
export class TolerantReader<T> {
  private last: { readonly value: T; readonly at: Date } | undefined;
  private failures = 0;

  constructor(
    private readonly read: () => Promise<T>,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The value read now, or the last good one with `note` saying why and since when. */
  async next(): Promise<{ readonly value: T; readonly note?: string }> {
    try {
      const value = await this.read();
      this.last = { value, at: this.now() };
      this.failures = 0;
      return { value };
    } catch (error) {
      this.failures += 1;
      if (this.last === undefined || this.failures >= MAX_FAILED_READS) throw error;
      const why = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      const at = this.last.at.toISOString().slice(11, 19);
      return {
        value: this.last.value,
        note: `! read failed (${this.failures} of ${MAX_FAILED_READS} in a row, reading again): ${why} — shown as of ${at} UTC`,
      };
    }
  }
}

/** A frame's header with a reader's note under it. */
export function withNote(header: string | undefined, note: string | undefined): string | undefined {
  if (note === undefined) return header;
  return header === undefined ? note : `${header}\n${note}`;
}

export interface WatchOptions extends ReadWatchOptions {
  /** Seconds between frames (default 2). */
  readonly intervalSeconds?: number;
  readonly json?: boolean;
  /** Return once no rollout is active (at once if none is). */
  readonly untilDone?: boolean;
  readonly out?: Output;
  /** Stop after this many frames (tests). */
  readonly maxFrames?: number;
}

/**
 * Watch a fleet until SIGINT (or, with `untilDone`, until its rollout ends). Returns the exit of
 * the fleet's newest outcome when it stops by itself.
 */
export async function watchFleet(fleet: string, options: WatchOptions = {}): Promise<ExitName> {
  const out = options.out ?? process.stdout;
  const display = new WatchDisplay(out, options.json === true);
  const intervalMs = (options.intervalSeconds ?? 2) * 1000;
  const reader = new TolerantReader(() => readWatchModel(fleet, options));
  try {
    for (let frame = 1; ; frame += 1) {
      const { value: model, note } = await reader.next();
      display.show([model], note);
      if (options.untilDone && model.rollout === null) return model.last?.exit ?? 'succeeded';
      if (options.maxFrames !== undefined && frame >= options.maxFrames) return 'succeeded';
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  } finally {
    display.close();
  }
}
