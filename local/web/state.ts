/**
 * What the web view shows, read from the real state with the CLI's own readers (cli/status.ts
 * `fleetStatus`, cli/history.ts `fleetHistory`: rollouts and replacements; the fleet record for replacements in flight; the Rollout
 * execution's history for batch and gate) plus the outcomes the runtime has received.
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import { fleetHistory, type HistoryLine } from '../../cli/history';
import { fleetStatus } from '../../cli/status';
import { channelsCommand, promotionText } from '../../cli/channels';
import { readFleetRecord } from '../../lambdas/aws/store/fleet-records';
import { executionArnOf, readExecutionTimeline, rolloutProgress } from './execution';
import type { FeedItem, WebFleet, WebHistoryItem, WebPipeline, WebState } from './render';

export interface WebStateOptions {
  /** The Rollout state machine (the active rollout's batch and gate). */
  readonly stateMachineArn?: string;
  /** The outcomes received so far, oldest first. */
  readonly outcomes: () => readonly FeedItem[];
  /** The local runtime's scale of waits (countdowns); 1 in real time. */
  readonly timeScale?: number;
  readonly now?: () => Date;
}

/** A line of the fleet's history (cli/history.ts: rollouts, rollbacks, replacements) for the timeline. */
function timelineItem(h: HistoryLine): WebHistoryItem {
  const common = { at: h.at, outcome: h.outcome, execution: h.execution, reason: h.reason };
  if (h.kind === 'replacement') {
    return {
      ...common,
      kind: 'replacement',
      instanceId: h.instanceId,
      reason: h.reason ?? `cause ${h.cause}`,
    };
  }
  return { ...common, kind: h.kind, imageId: h.imageId };
}

export async function collectWebState(options: WebStateOptions): Promise<WebState> {
  const now = (options.now ?? (() => new Date()))();
  const outcomes = [...options.outcomes()];
  const sfn = new SFNClient({ maxAttempts: 2, requestHandler: { requestTimeout: 5_000 } });
  try {
    const status = await fleetStatus({
      ...(options.stateMachineArn !== undefined ? { stateMachineArn: options.stateMachineArn } : {}),
      now,
    });
    const fleets: WebFleet[] = [];
    for (const f of status.fleets) {
      const [history, record] = await Promise.all([fleetHistory(f.fleet), readFleetRecord(f.fleet)]);
      let rollout: WebFleet['rollout'] = null;
      if (f.activeRollout !== null) {
        const a = f.activeRollout;
        const name = a.workflow.continuedAs ?? a.execution;
        let progress = null;
        let note: string | undefined = a.workflow.note;
        if (options.stateMachineArn !== undefined) {
          try {
            const timeline = await readExecutionTimeline(sfn, executionArnOf(options.stateMachineArn, name));
            progress = rolloutProgress(timeline, options.timeScale ?? 1);
          } catch (error) {
            note = `cannot read the execution: ${error instanceof Error ? error.message : String(error)}`;
          }
        }
        rollout = {
          execution: name,
          imageId: a.imageId,
          startedAt: a.startedAt,
          status: a.workflow.status,
          progress,
          ...(note !== undefined ? { note } : {}),
        };
      }
      fleets.push({
        fleet: f.fleet,
        channel: f.channel,
        desiredImage: f.desiredImage,
        paused: f.paused !== null,
        pinnedImage: f.pinnedImage?.imageId ?? null,
        groups: f.groups.map((g) => ({
          name: g.name,
          desiredCapacity: g.desiredCapacity,
          byImage: g.instances.byImage.map((c) => ({
            imageId: c.imageId,
            count: c.count,
            inService: c.inService,
          })),
        })),
        rollout,
        replacements: Object.entries(record?.replacements ?? {}).map(([instanceId, slot]) => ({
          instanceId,
          execution: slot.execution,
          since: slot.since,
        })),
        // The fleet record's history (newest first): rollouts, rollbacks and replacements.
        timeline: history.history.map(timelineItem),
      });
    }
    const pipeline = await readPipeline(now);
    return {
      at: now.toISOString(),
      fleets,
      ...(pipeline !== undefined ? { pipeline } : {}),
      outcomes: outcomes.reverse(),
    };
  } catch (error) {
    return {
      at: now.toISOString(),
      fleets: [],
      outcomes: outcomes.reverse(),
      error: `cannot read the state: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
    };
  } finally {
    sfn.destroy();
  }
}

/** The promotion pipeline (`phoenix channels`' reader), when some channel has a promotion rule. */
async function readPipeline(now: Date): Promise<WebPipeline | undefined> {
  let model;
  try {
    model = await channelsCommand({ now });
  } catch {
    return undefined; // the pipeline is an addition: the fleets are shown without it
  }
  if (!model.channels.some((c) => c.upstream !== undefined)) return undefined;
  return {
    channels: model.channels.map((c) => ({
      channel: c.channel,
      ...(c.upstream !== undefined ? { upstream: c.upstream } : {}),
      ...(c.image !== undefined ? { image: c.image } : {}),
      promotion: promotionText(c),
      state: c.blocked !== undefined ? 'blocked' : c.waiting !== undefined ? 'waiting' : 'idle',
    })),
    quarantined: model.quarantined.map((q) => ({ imageId: q.imageId, reason: q.reason })),
  };
}
