/**
 * `phoenix publish <ami> [--channel C] [--wait] [--timeout s]`: the `PublishImage` command on the
 * Phoenix bus, put through the SDK exactly as the README's `aws events put-events` does (source
 * `phoenix.command`, detail-type `PublishImage`, detail `{ imageId, channel? }`: the fields intake
 * parses, lambdas/domain/intake.ts).
 *
 * `--wait` follows the rollouts it starts: the fleets that follow the image's channel (`--channel`,
 * else the image's `phoenix:channel` tag, as intake resolves it), each until its fleet record holds
 * the history entry of its execution (named by intake from the fleet, the image and the event id;
 * or an entry of the image recorded since the publication), showing the live tree of
 * cli/watch.ts meanwhile. The result maps to the exit codes of cli/exit-codes.ts.
 */
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { COMMAND_SOURCE, DetailTypes, Env, NAME_PATTERN, Tags } from '../lambdas/domain/contract';
import { ConfigurationError } from '../lambdas/domain/errors';
import { isAmiId } from '../lambdas/domain/ids';
import { executionName } from '../lambdas/domain/rollout';
import { eventBridge, stepFunctions } from '../lambdas/aws/clients';
import { executionArn } from '../lambdas/aws/executions';
import { describeImage, fleetsFollowing } from '../lambdas/aws/fleets';
import { readFleetRecord } from '../lambdas/aws/store/fleet-records';
import { EXIT_CODES, exitOfOutcome, type ExitName, worstExit } from './exit-codes';
import { useBus } from './pause';
import { inChain } from './rollback';
import { type Output, readWatchModel, TolerantReader, WatchDisplay, withNote } from './watch';
import type { WatchModel } from './watch-model';

export interface PublishOptions {
  readonly channel?: string;
  readonly eventBusName?: string;
  /** Follow the rollouts started to their end. */
  readonly wait?: boolean;
  /** With `wait`: give up after this long (default 2 h, the Rollout workflow's own timeout). */
  readonly timeoutSeconds?: number;
  /** With `wait`: how often to look (default 2 s). */
  readonly pollMs?: number;
  /** With `wait`: where the live progress goes (none: no progress shown). */
  readonly progress?: Output;
}

export interface FleetResult {
  readonly fleet: string;
  /** The execution that recorded the outcome (null: none did). */
  readonly execution: string | null;
  /** The fleet record's history outcome (`succeeded`, `rejected`…), null when none was recorded. */
  readonly outcome: string | null;
  readonly reason: string | null;
  readonly step: string | null;
  readonly exit: ExitName;
}

export interface PublishReport {
  readonly imageId: string;
  readonly channel: string | null;
  readonly eventBusName: string;
  /** The PutEvents entry's event id (intake names the executions after it). */
  readonly eventId: string;
  /** With `wait`: the fleets followed and how each ended. */
  readonly results?: readonly FleetResult[];
  /** With `wait`: why nothing was followed (the image has no channel, no fleet follows it). */
  readonly note?: string;
  /** With `wait`: the worst result's exit (cli/exit-codes.ts). */
  readonly exit?: ExitName;
}

export async function publishImage(imageId: string, options: PublishOptions = {}): Promise<PublishReport> {
  const ami = imageId.trim();
  const channel = options.channel?.trim() || undefined;
  if (channel !== undefined && !NAME_PATTERN.test(channel)) {
    throw new ConfigurationError(
      `not a channel name: ${JSON.stringify(channel)} (expected ${String(NAME_PATTERN)})`,
    );
  }
  if (!isAmiId(ami) && channel === undefined) {
    throw new ConfigurationError(`not an AMI id: ${JSON.stringify(ami)} (expected ami-<8 or 17 hex digits>)`);
  }
  const bus = useBus(options.eventBusName);
  const publishedAt = Date.now();
  const put = await eventBridge().send(
    new PutEventsCommand({
      Entries: [
        {
          EventBusName: bus,
          Source: COMMAND_SOURCE,
          DetailType: DetailTypes.PublishImage,
          Detail: JSON.stringify({ imageId: ami, ...(channel !== undefined ? { channel } : {}) }),
        },
      ],
    }),
  );
  const entry = put.Entries?.[0];
  if ((put.FailedEntryCount ?? 0) > 0 || entry?.EventId === undefined) {
    throw new ConfigurationError(
      `the Phoenix bus ${bus} refused PublishImage: ${entry?.ErrorCode ?? ''} ${entry?.ErrorMessage ?? ''}`.trim(),
    );
  }
  const report: PublishReport = {
    imageId: ami,
    channel: channel ?? null,
    eventBusName: bus,
    eventId: entry.EventId,
  };
  if (!options.wait) return report;

  // The channel as intake resolves it: the command's, else the image's tag.
  let resolved = channel;
  if (resolved === undefined) {
    const image = await describeImage(ami);
    if (image === undefined)
      return { ...report, results: [], exit: 'rejected', note: `image ${ami} does not exist` };
    resolved = image.tags[Tags.channel]?.trim() || undefined;
    if (resolved === undefined) {
      return {
        ...report,
        results: [],
        exit: 'rejected',
        note: `image ${ami} has no ${Tags.channel} tag: it belongs to no channel`,
      };
    }
  }
  const fleets = [...new Set((await fleetsFollowing(resolved)).map((m) => m.fleet))];
  if (fleets.length === 0) {
    return {
      ...report,
      channel: resolved,
      results: [],
      exit: 'succeeded',
      note: `no fleet follows channel ${resolved}`,
    };
  }
  const results = await followRollouts(
    fleets.map((fleet) => ({
      fleet,
      imageId: ami,
      execution: executionName(fleet, ami, entry.EventId!),
      since: publishedAt,
    })),
    options,
  );
  return { ...report, channel: resolved, results, exit: worstExit(results.map((r) => r.exit)) };
}

export interface Followed {
  readonly fleet: string;
  readonly imageId: string;
  /** The execution expected to record the outcome (continuations count as it). */
  readonly execution: string;
  /** Epoch ms: an entry of the image recorded since then counts too. */
  readonly since: number;
}

/** The result of one rollout, if it has ended. */
async function resultOf(f: Followed): Promise<FleetResult | undefined> {
  const record = await readFleetRecord(f.fleet);
  const entry = [...(record?.imageHistory ?? [])]
    .reverse()
    .find(
      (e) =>
        inChain(e.execution, f.execution) || (e.imageId === f.imageId && Date.parse(e.at) >= f.since - 2000),
    );
  if (entry !== undefined) {
    return {
      fleet: f.fleet,
      execution: entry.execution,
      outcome: entry.outcome,
      reason: entry.reason ?? null,
      step: entry.step ?? null,
      exit: exitOfOutcome(entry.outcome),
    };
  }
  if (record?.paused !== undefined && record.activeRollout === undefined) {
    return {
      fleet: f.fleet,
      execution: null,
      outcome: null,
      reason: `fleet ${f.fleet} is paused (${record.paused.reason}): nothing was started`,
      step: null,
      exit: 'stopped',
    };
  }
  // An execution that ended without recording an outcome (aborted, timed out) while no
  // continuation holds the fleet.
  const machine = process.env[Env.rolloutStateMachineArn]?.trim();
  const held = record?.activeRollout !== undefined && inChain(record.activeRollout.execution, f.execution);
  if (machine && !held) {
    try {
      const described = await stepFunctions().send(
        new DescribeExecutionCommand({ executionArn: executionArn(machine, f.execution) }),
      );
      if (described.status !== undefined && !['RUNNING', 'SUCCEEDED'].includes(described.status)) {
        return {
          fleet: f.fleet,
          execution: f.execution,
          outcome: null,
          reason: `execution ${described.status}${described.error !== undefined ? `: ${described.error}` : ''}`,
          step: null,
          exit: 'failed',
        };
      }
    } catch {
      // Not started yet (intake has not run), or unreadable: look again.
    }
  }
  return undefined;
}

/**
 * Follow rollouts until each has ended (or the timeout: `timedOut` for those still running),
 * showing the live tree of their fleets on `options.progress`.
 */
export async function followRollouts(
  followed: readonly Followed[],
  options: { timeoutSeconds?: number; pollMs?: number; progress?: Output },
): Promise<FleetResult[]> {
  const deadline = Date.now() + (options.timeoutSeconds ?? 2 * 60 * 60) * 1000;
  const pollMs = options.pollMs ?? 2000;
  const done = new Map<string, FleetResult>();
  const display = options.progress !== undefined ? new WatchDisplay(options.progress, false) : undefined;
  const reader = new TolerantReader(async () => {
    const models: WatchModel[] = [];
    for (const f of followed) models.push(await readWatchModel(f.fleet));
    return models;
  });
  try {
    for (;;) {
      for (const f of followed) {
        if (done.has(f.fleet)) continue;
        const result = await resultOf(f);
        if (result !== undefined) done.set(f.fleet, result);
      }
      if (display !== undefined) {
        const { value: models, note } = await reader.next();
        const summary = followed
          .map((f) => {
            const r = done.get(f.fleet);
            return `${f.fleet} ${r === undefined ? '◌ rolling' : `${r.exit === 'succeeded' ? '✔' : '✖'} ${r.outcome ?? r.exit}`}`;
          })
          .join(', ');
        display.show(models, withNote(`Following ${followed.map((f) => f.imageId)[0]}: ${summary}`, note));
      }
      if (done.size === followed.length) break;
      if (Date.now() > deadline) {
        for (const f of followed) {
          if (!done.has(f.fleet)) {
            done.set(f.fleet, {
              fleet: f.fleet,
              execution: f.execution,
              outcome: null,
              reason: `still running after ${options.timeoutSeconds ?? 7200} s: follow it with phoenix status ${f.fleet} --watch`,
              step: null,
              exit: 'timedOut',
            });
          }
        }
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  } finally {
    display?.close();
  }
  return followed.map((f) => done.get(f.fleet)!);
}

export function renderPublish(report: PublishReport): string {
  const lines = [
    `PublishImage ${report.imageId}${report.channel !== null ? ` (channel ${report.channel})` : ''} put on bus ${report.eventBusName}: event ${report.eventId}`,
  ];
  if (report.note !== undefined) lines.push(report.note);
  for (const r of report.results ?? []) {
    lines.push(
      `  ${r.fleet}: ${r.outcome ?? r.exit}${r.step !== null ? ` at ${r.step}` : ''}${r.reason !== null ? `: ${r.reason}` : ''}${r.execution !== null ? ` (execution ${r.execution})` : ''}`,
    );
  }
  if (report.exit !== undefined) lines.push(`exit ${EXIT_CODES[report.exit].code} (${report.exit})`);
  else lines.push('follow it with: phoenix status <fleet> --watch');
  return lines.join('\n');
}
